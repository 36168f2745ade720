"""A jump of the whole picture caught on the frame itself: its statistic on real footage against the camera changes
(docs/research/teaching.md#a-jump-of-the-whole-picture-caught-on-the-frame-measured).

    python docs/research/jump_picture_study.py stats [ROOMS_DIR]          # the statistics' distributions (no model)
    python docs/research/jump_picture_study.py record CACHE_DIR [ROOMS_DIR]  # what the head sees, and the thumbnails
    python docs/research/jump_picture_study.py compare CACHE_DIR            # the benchmark's rows, per rule

A frame's jump statistics, between consecutive classified frames (the model's input, at
the benchmark's 5 fps): the mean brightness's relative change, the share of the thumbnail's pixels that change by
more than CHANGED_LEVEL, and the share the app uses (the level relative to the brightness). `compare` patches the
head in this process to run the benchmark's rows once per rule; the shipped rule is the last.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import jump_motion_study  # noqa: E402

from benchmarks import teach  # noqa: E402
from benchmarks.paths import MEDIA  # noqa: E402
from benchmarks.perturb import bumped, perturbed  # noqa: E402
from utils.model.picture_motion import changed_share, thumbnail  # noqa: E402
from utils.sources import sampled_frames  # noqa: E402

CHANGED_LEVEL = 16.0  # of 255: a pixel "changes" by more than this between two classified frames
SIZE = (172, 172)  # the model's input
HISTORY = 16  # steps of picture statistics kept per observation


def grey_thumbnail(rgb: np.ndarray) -> np.ndarray:
    """32x32 grey, each pixel the mean of its area: what the brightness and the fixed-level share are taken on."""
    return cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA
                      ).astype(np.float32)


def stream_stats(images) -> np.ndarray:
    """Per step into each frame after the first: the relative change of the mean brightness, the share of pixels
    changed by more than CHANGED_LEVEL (both on grey_thumbnail), and the app's changed share
    (utils/model/picture_motion.py: its own thumbnail, a pixel changed by more than 1/8 of the brightness)."""
    grey = [grey_thumbnail(i) for i in images]
    app = [thumbnail(i) for i in images]
    rows = []
    for i in range(1, len(images)):
        a, b = grey[i - 1], grey[i]
        ma, mb = float(a.mean()), float(b.mean())
        rows.append((abs(mb - ma) / max(ma, 1.0), float((np.abs(b - a) > CHANGED_LEVEL).mean()),
                     changed_share(app[i - 1], app[i])))
    return np.array(rows).reshape(-1, 3)


def images_of(path: Path) -> list[np.ndarray]:
    return [f.model_rgb(SIZE) for f in sampled_frames(path, teach.FPS)]


def summary(values: np.ndarray, seconds: float) -> dict:
    out = {"steps": len(values), "minutes": round(seconds / 60, 2)}
    for column, name in enumerate(("brightness", "changed_share")):
        v = values[:, column]
        out[name] = {f"p{p}": round(float(np.percentile(v, p)), 4) for p in (50, 90, 99, 99.9)}
        out[name]["max"] = round(float(v.max()), 4)
    return out


def perturbation_steps() -> dict:
    """Per camera change, on each shared clip: the statistics of the step into the first changed frame, on the
    still picture and on the looped second half (for the ramp: its largest step over the 3 s)."""
    out: dict = {}
    for path in sorted(MEDIA.glob("*.mp4")):
        frames = list(sampled_frames(path, teach.FPS))
        images = [f.model_rgb(SIZE) for f in frames]
        moved = [dataclasses.replace(f, image=bumped(f.image)).model_rgb(SIZE) for f in frames]
        half = len(images) // 2
        for name in teach.TEACH_PERTURBATIONS:
            for stream, loop, moved_loop, count in (
                    ("still", [images[half // 2]], [moved[half // 2]], teach.FROZEN),
                    ("looped", images[half:], moved[half:], teach.PERTURB_LOOP)):
                run = list(perturbed(loop, count, count // 2, name, teach.FPS, moved_loop))
                stats = stream_stats(run)
                at = count // 2 - 1
                span = stats[at:at + (16 if name == "light-ramp" else 1)]
                out.setdefault(name, {}).setdefault(stream, {})[path.stem] = [round(float(x), 4)
                                                                              for x in span.max(axis=0)]
    return out


def stats(rooms: Path | None) -> dict:
    sets = {"shared": sorted(MEDIA.glob("*.mp4")), "val": sorted((MEDIA / "val").glob("*.mp4")),
            "teach": sorted((MEDIA / "teach").glob("*.mp4")), "changes": sorted((MEDIA / "changes").glob("*.mp4"))}
    if rooms is not None:
        sets["rooms"] = sorted(rooms.glob("*.mp4"))
    out: dict = {}
    for name, paths in sets.items():
        per_clip = [stream_stats(images_of(p)) for p in paths]
        values = np.concatenate(per_clip)
        out[name] = summary(values, len(values) / teach.FPS)
        # the brightness jumps per minute at the threshold, and the share of windows (9 steps) the app takes for
        # a still picture: at most half of their steps move
        out[name]["jumps_per_minute"] = round(float((values[:, 0] > JUMP_BRIGHTNESS).sum()) / (len(values) / 300), 2)
        still = [2 * np.count_nonzero(s[i - 9:i, 2]) < 9 for s in per_clip for i in range(9, len(s) + 1)]
        out[name]["still_windows"] = round(float(np.mean(still)), 4)
        out[name]["still_windows_per_clip"] = {
            p.stem: round(float(np.mean([2 * np.count_nonzero(s[i - 9:i, 2]) < 9 for i in range(9, len(s) + 1)])), 3)
            for p, s in zip(paths, per_clip)}
        out[name]["clip_max"] = {p.stem: [round(float(x), 4) for x in s.max(axis=0)] for p, s in zip(paths, per_clip)}
    out["perturbations"] = perturbation_steps()
    return out


def key(observation) -> bytes:
    """An observation's identity across processes: its features' history (identical only for identical frames)."""
    digest = hashlib.sha1(observation.recent.tobytes())
    digest.update(observation.window_sum.tobytes())
    digest.update(str(observation.frames).encode())
    return digest.digest()


class ThumbRecorder(teach.Recorder):
    """teach.Recorder that also keeps, per recorded observation, the jump statistics of the last HISTORY steps of
    its stream (oldest first; fewer at the stream's start)."""

    def __init__(self, classifier) -> None:
        super().__init__(classifier)
        self.pairs: dict[bytes, np.ndarray] = {}

    def run(self, images):
        # The head as it was before the study: the app's own picture steps left out, the rules below stand in.
        observations = [o._replace(picture_steps=None) for o in super().run(images)]
        steps = stream_stats(images)  # steps[i - 1]: into frame i
        for i, o in enumerate(observations):
            self.pairs[key(o)] = steps[max(0, i - HISTORY):i]
        return observations


def record(cache: Path, rooms: Path | None) -> None:
    import pickle

    recorder = jump_motion_study.record(cache, rooms, ThumbRecorder)
    with open(cache / "pairs.pkl", "wb") as f:
        pickle.dump(recorder.pairs, f)


JUMP_BRIGHTNESS = 0.20  # the shared clips' 99th percentile of the brightness step (stats), set before any row


def jump_steps(steps: np.ndarray, k: int) -> np.ndarray:
    """Of the last k - 1 picture steps (those the k recent features span), which are jumps."""
    return steps[-(k - 1):, 0] > JUMP_BRIGHTNESS if k >= 2 else np.zeros(0, bool)


def reject_after_jump(held: int):
    """No motion while a jump is among the last `held` picture steps."""
    def rule(steps: np.ndarray, recent: np.ndarray, motion: float) -> float:
        return 0.0 if (steps[-held:, 0] > JUMP_BRIGHTNESS).any() else motion
    return rule


def before_jump(steps: np.ndarray, recent: np.ndarray, motion: float) -> float:
    """After a jump among the recent steps: the motion of the recent features before it (none with fewer than
    two steps there)."""
    k = len(recent)
    jumps = np.flatnonzero(jump_steps(steps, k))
    if len(jumps) == 0:
        return motion
    # picture step s of the last k - 1 goes into recent[s + 1 + (k - 1 - len(...))]: align on the newest
    first = int(jumps[0]) + (k - 1) - len(jump_steps(steps, k))  # feature steps before the first jump
    if first < 2:
        return 0.0
    before = recent[:first + 1].astype(np.float64)
    change = np.abs(np.diff(before, axis=0)).mean(axis=0)
    return float(np.linalg.norm(change) / max(np.linalg.norm(before.mean(axis=0)), 1e-12))


def picture_moves(eps: float, column: int = 1):
    """No motion when the picture itself does not move: on most recent steps, at most eps of the thumbnail's
    pixels change."""
    def rule(steps: np.ndarray, recent: np.ndarray, motion: float) -> float:
        k = len(recent)
        shares = steps[-(k - 1):, column] if k >= 2 else steps[:0, column]
        return motion if len(shares) and float(np.median(shares)) > eps else 0.0
    return rule


RULES = {"shipped": None, "reject 2 s after a jump": reject_after_jump(9),
         "reject 2.6 s after a jump": reject_after_jump(13), "motion before the jump": before_jump,
         "picture moves (median share > 0)": picture_moves(0.0),
         "picture moves (median share > 0.005)": picture_moves(0.005),
         "picture moves, level relative (median share > 0)": picture_moves(0.0, 2)}


def compare(cache: Path) -> dict:
    import pickle

    from benchmarks.paths import LABELS
    from utils.model.labels import load_labels
    from utils.model.taught import head as head_module
    from utils.model.taught.store import ModelIdentity
    labels, model = load_labels(LABELS), ModelIdentity.of(teach.MODEL)
    pairs = pickle.load(open(cache / "pairs.pkl", "rb"))
    data = {name: pickle.load(open(cache / f"{name}.pkl", "rb")) for name in ("standard", "perturb", "rooms")}
    original = head_module.TaughtHead._over_temperature
    chosen: dict = {"rule": None}

    def over(head, observation):
        z, recent_norm, change_norm = original(head, observation)
        rule = chosen["rule"]
        if rule is not None:
            k = len(observation.recent)
            motion = (change_norm / max(k - 1, 1)) / max(recent_norm / k, 1e-12)
            motion = rule(pairs[key(observation)], observation.recent, motion)
            change_norm = motion * (recent_norm / k) * max(k - 1, 1)
        return z, recent_norm, change_norm
    head_module.TaughtHead._over_temperature = over
    shots = {"taught": lambda frames: frames, "one_shot": lambda frames: teach.ONE_SHOT}
    out: dict = {}
    for name, rule in RULES.items():
        chosen["rule"] = rule
        rows: dict = {}
        for shot, stop in shots.items():
            rows[shot] = jump_motion_study.shot_rows(data, stop, model, labels)
        out[name] = rows
        print(json.dumps({name: rows}), file=sys.stderr, flush=True)
    return out


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("stats", "record", "compare"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    if argv[0] == "record":
        record(Path(argv[1]), Path(argv[2]) if len(argv) > 2 else None)
        return 0
    if argv[0] == "compare":
        print(json.dumps(compare(Path(argv[1]))))
        return 0
    print(json.dumps(stats(Path(argv[1]) if len(argv) > 1 else None)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
