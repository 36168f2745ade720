"""A motion a single jump does not fool: the taught head's motion term against robust candidates
(docs/research/teaching.md#a-motion-a-jump-does-not-fool-measured-not-shipped).

    python docs/research/jump_motion_study.py record CACHE_DIR [ROOMS_DIR]   # runs the model (about a minute)
    python docs/research/jump_motion_study.py steps CACHE_DIR                # per-step change sizes after a jump
    python docs/research/jump_motion_study.py compare CACHE_DIR              # the benchmark's rows, per motion

`record` keeps what the taught head sees of every frame of `benchmarks.teach`'s streams (the standard rows, the
--perturb all rows, and --rooms DIR's), so `compare` runs the benchmark's own row functions once per motion, with
the motion swapped in both where teaching takes the action's median and where a window is scored. Study only: the
swap patches the head in this process, the app is unchanged. With the shipped motion `compare` gives the figures
`python -m benchmarks.teach --blocks 0` and `--perturb all` give.
"""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import teach  # noqa: E402
from benchmarks.paths import LABELS, MEDIA, MODEL  # noqa: E402
from utils.model.head_window import ChangeTest  # noqa: E402
from utils.model.labels import load_labels  # noqa: E402
from utils.model.runtime import load_runtime  # noqa: E402
from utils.model.stream_classifier import StreamClassifier  # noqa: E402
from utils.model.taught import examples as examples_module  # noqa: E402
from utils.model.taught import head as head_module  # noqa: E402
from utils.model.taught.store import ModelIdentity  # noqa: E402

Motion = Callable[[np.ndarray], float]  # the recent per-frame features [k, dim] -> the window's motion


def step_changes(recent: np.ndarray) -> np.ndarray:
    """|change| of each consecutive pair of recent features, [k - 1, dim]."""
    return np.abs(np.diff(recent.astype(np.float64), axis=0))


def mean_length(recent: np.ndarray) -> float:
    return max(float(np.linalg.norm(recent.mean(axis=0))), 1e-12)


def median_step(recent: np.ndarray) -> float:
    """The median of each step's change size, over the recent mean's length."""
    if len(recent) < 2:
        return 0.0
    return float(np.median(np.linalg.norm(step_changes(recent), axis=1))) / mean_length(recent)


def without_largest(n: int) -> Motion:
    """The shipped motion with the n largest steps left out."""
    def motion(recent: np.ndarray) -> float:
        steps = step_changes(recent)
        if len(steps) == 0:
            return 0.0
        kept = np.argsort(np.linalg.norm(steps, axis=1))[:max(1, len(steps) - n)]
        return float(np.linalg.norm(steps[kept].mean(axis=0))) / mean_length(recent)
    return motion


MOTIONS: dict[str, Motion | None] = {"shipped": None, "median step": median_step,
                                     "without the largest step": without_largest(1),
                                     "without the 2 largest": without_largest(2)}


class SwappedMotion:
    """Patches the head so that teaching (the action's median) and scoring both use one candidate motion."""

    def __init__(self) -> None:
        self.motion: Motion | None = None
        self.taught: dict[bytes, float] = {}  # an example's change row -> its motion (the store keeps no steps)
        self._describe = examples_module.describe
        self._floor = head_module.motion_floor
        self._over = head_module.TaughtHead._over_temperature
        examples_module.describe = self.describe
        head_module.motion_floor = self.floor
        head_module.TaughtHead._over_temperature = self.over_temperature()

    def describe(self, observation):
        described = self._describe(observation)
        if self.motion is not None:
            self.taught[described.change.astype(np.float32).tobytes()] = self.motion(observation.recent)
        return described

    def floor(self, examples) -> float:
        if self.motion is None:
            return self._floor(examples)
        motions = [self.taught[row.astype(np.float32).tobytes()] for row in examples.changes]
        return head_module.MIN_MOTION_SHARE * float(np.median(motions))

    def over_temperature(self):
        swapped = self

        def over(head, observation):
            z, recent_norm, change_norm = swapped._over(head, observation)
            if swapped.motion is not None:  # the change length that makes scores() compute this motion
                k = len(observation.recent)
                change_norm = swapped.motion(observation.recent) * (recent_norm / k) * max(k - 1, 1)
            return z, recent_norm, change_norm
        return over


def record(cache: Path, rooms: Path | None, make_recorder=teach.Recorder):
    """Records the streams into cache; returns the recorder."""
    classifier = StreamClassifier(MODEL, 1, load_runtime("auto"))
    classifier.set_window(teach.WINDOW_FRAMES, ChangeTest.at_rate(teach.FPS))
    recorder, size = make_recorder(classifier), classifier.input_size
    cache.mkdir(parents=True, exist_ok=True)
    recorded = {"perturb": lambda: teach.record_perturbed(recorder, MEDIA, size, list(teach.TEACH_PERTURBATIONS)),
                "standard": lambda: teach.record(recorder, MEDIA, size)}
    if rooms is not None:
        recorded["rooms"] = lambda: teach.record_same_video(recorder, rooms, size)
    for name, make in recorded.items():
        with open(cache / f"{name}.pkl", "wb") as f:
            pickle.dump(make(), f)
    return recorder


def relative_steps(run) -> np.ndarray:
    """Each step's change size of the stream's own per-frame features, over the later feature's length."""
    features = np.array([o.recent[-1] for o in run], np.float64)
    return np.linalg.norm(np.diff(features, axis=0), axis=1) / np.linalg.norm(features[1:], axis=1)


def steps(cache: Path) -> dict:
    """On each still picture (changed at frame FROZEN / 2): how many of the 20 steps after it change by at least
    the 10th percentile of a running action's step, and that percentile and the still picture's own."""
    clips = pickle.load(open(cache / "perturb.pkl", "rb"))
    at = teach.FROZEN // 2 - 1  # the step into the first changed frame
    action = np.concatenate([relative_steps(c.looped[teach.NONE])[10:] for c in clips.values()])
    floor = float(np.percentile(action, 10))
    out = {"action_step_p10": round(floor, 2), "action_step_median": round(float(np.median(action)), 2)}
    for kind in (teach.NONE, *teach.TEACH_PERTURBATIONS):
        out[kind] = {name: int((relative_steps(c.frozen[kind])[at:at + 20] >= floor).sum())
                     for name, c in clips.items()}
    return out


def shot_rows(data: dict, stop, model, labels) -> dict:
    """The benchmark's rows on recorded streams ("standard", "perturb", and "rooms" when recorded)."""
    r = teach.rows(data["standard"], stop, model, labels)
    p = teach.perturbed_rows(data["perturb"], stop, model, labels)
    out = {"half": r["half"]["right_rate"], "frozen": r["frozen"]["none_rate"],
           "same_video": r["same_video"]["none_rate"],
           "with_background": r["same_video_background"]["none_rate_with"],
           "another_clip": r["another_clip"]["found_rate"],
           "another_clip_cases": {c: v["found_rate"] for c, v in r["another_clip"]["cases"].items()},
           "untaught": r["untaught"]["none_rate"],
           "shared_splits": r["untaught"]["shared_splits"]["none_rate"],
           "perturb": {k: {"found": v["half_looped"]["found_rate"], "still_none": v["frozen"]["none_rate"],
                           "last_reported_seconds": v["frozen"]["last_reported_seconds"]} for k, v in p.items()}}
    if "rooms" in data:
        rooms = teach.rooms_rows(data["rooms"], stop, model, labels)
        out["rooms"] = {**{v: x["same_video"]["none_rate"] for v, x in rooms["videos"].items()},
                        "with_background": rooms["same_video_background"]["none_rate_with"]}
    return out


def compare(cache: Path) -> dict:
    labels, model = load_labels(LABELS), ModelIdentity.of(MODEL)
    shots = {"taught": lambda frames: frames, "one_shot": lambda frames: teach.ONE_SHOT}
    swapped = SwappedMotion()
    data = {name: pickle.load(open(cache / f"{name}.pkl", "rb")) for name in ("standard", "perturb", "rooms")
            if (cache / f"{name}.pkl").exists()}
    out: dict = {}
    for name, motion in MOTIONS.items():
        swapped.motion, swapped.taught = motion, {}
        rows: dict = {}
        for shot, stop in shots.items():
            rows[shot] = shot_rows(data, stop, model, labels)
        out[name] = rows
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("record", "steps", "compare"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    cache = Path(argv[1])
    if argv[0] == "record":
        record(cache, Path(argv[2]) if len(argv) > 2 else None)
        return 0
    print(json.dumps(steps(cache) if argv[0] == "steps" else compare(cache)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
