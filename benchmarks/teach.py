"""How well taught actions are learnt, what they hold against, and what scoring them costs.

    python -m benchmarks.teach [--media DIR] [--model PATH] [--blocks 9]

Every clip stands for one "new" action, taught under its file name (the head never sees a Kinetics label).
At the app's defaults (5 fps, a 12 s window restarted on a change of action), every run a fresh stream as a
`--video` run or `--teach ... --video` starts one. A frame is scored when it is at least 2 s after its stream's
reset; it counts as right when the taught action is the top result of `--taught only` (none is wrong), as
none when `--taught only` reports nothing. The rows (docs/research/teaching.md says why these):

- half: each of the eight shared clips taught from its first half, all eight taught; its second half, run as
  its own stream, must be found. With the confusion matrix.
- frozen: the middle frame of each taught half, repeated for 10 s: must be none (nobody moves).
- same_video: changes/: "sipping" taught from 2.75-7.75 s of the Charades clip, then each long-jump segment in
  turn; the whole video run: its `other:` segments must be none (every frame, from the start).
- same_video_background: the same cases, each action with a background (--teach-background) taught from the
  seconds right after its taught part (the sitting down, the sand pit); those seconds are left out of the judged
  frames, and the row without a background is given on the same frames beside it.
- another_clip: teach/: push ups and tai chi taught from one clip, found on the other (both directions), with
  the eight shared clips, squats and the other action taught too.
- untaught: the eight shared clips, push ups and tai chi taught; val/ and teach/squats must be none. And every
  split of the shared clips into 4 taught and 4 untaught (70).
- one_shot: the same rows taught from the first 2 s of each teaching part.

cost: with 20 taught actions, the CPU time of this thread per classified frame (one inference thread, so the
invoke's work is on this thread too) of the bare invoke and of the taught scoring (observe the window, score,
pick the labels with the taught ones added), in alternating blocks, medians; for a window that matches an
action and one that matches none.

Stdout gets one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from benchmarks.benchmark import bare_invoke_ms, machine
from benchmarks.paths import LABELS, MEDIA, MODEL
from utils.config import ClassifierOptions
from utils.model.head_window import ChangeTest
from utils.model.labels import load_labels
from utils.model.predictions import PredictionFilter
from utils.model.runtime import load_runtime
from utils.model.stream_classifier import StreamClassifier
from utils.model.taught import (
    ExampleRecorder,
    Examples,
    ModelIdentity,
    Observation,
    Session,
    TaughtAction,
    TaughtPredictions,
    min_window_frames,
    observer,
)
from utils.sources import sampled_frames

FPS = 5.0
WINDOW_FRAMES = round(ClassifierOptions().window_seconds * FPS)  # the app's default --window at 5 fps
SCORED_FROM = 10  # test frames count from 2 s after their stream's reset
ONE_SHOT = 10  # 2 s of frames
FROZEN = 50  # 10 s of one frame
TAUGHT_FOR_COST = 20
TARGETS = {"half_right": 0.95, "frozen_none": 0.95, "same_video_none": 0.90, "another_clip_found": 0.70,
           "untaught_none": 0.92, "cost_percent_of_invoke": 2.0}
NONE = "none"
SAME_VIDEO = {"sipping": ("walk_sip_sit_charades_univtg.mp4", [(2.75, 7.75)]),
              "long jump": ("long_jump_broadcast_bmt.mp4", [(9.75, 14.50), (22.40, 33.50)])}
# The background of each same-video part: the seconds right after it (SEGMENTS.tsv), a fresh stream as
# --teach-background --video FILE --teach-from --teach-to starts one.
BACKGROUNDS = {"sipping": [(7.75, 9.50)], "long jump": [(14.50, 16.00), (33.50, 34.90)]}
ANOTHER_CLIP = {"push ups": ("push_ups_9syed", "push_ups_ggperroni"),
                "tai chi": ("tai_chi_charl0tte19", "tai_chi_stgcn_skeleton")}


def copied(observation: Observation) -> Observation:
    return Observation(observation.window_sum.copy(), observation.frames, observation.probabilities.copy(),
                       observation.recent.copy())


class Recorder:
    """Runs streams through the app's classifier and keeps what the taught head sees of every frame."""

    def __init__(self, classifier: StreamClassifier) -> None:
        self.classifier = classifier
        self.observe = observer(classifier, FPS)

    def run(self, images: Sequence[np.ndarray]) -> list[Observation]:
        self.classifier.reset()
        observations = []
        for image in images:
            self.classifier.classify(image)
            observations.append(copied(self.observe()))
        return observations


def recorded(name: str, run: Sequence[Observation], stop: int | None) -> tuple[Examples, Session]:
    """What a session records from the frames [0, stop) of a stream reset at 0."""
    recorder = ExampleRecorder(FPS, WINDOW_FRAMES)
    for observation in run[:stop]:
        recorder.add(observation)
    return recorder.examples, Session(recorder.seconds, len(recorder), WINDOW_FRAMES, FPS, f"{name} frames 0-{stop}")


def taught(name: str, run: Sequence[Observation], stop: int | None, model: ModelIdentity) -> TaughtAction:
    """The action `--teach` makes from the frames [0, stop) of a stream reset at 0."""
    return TaughtAction.first(name, model, *recorded(name, run, stop))


class Replay:
    """Stands in for the classifier's observer, replaying a recorded frame."""

    def __init__(self, first: Observation) -> None:
        self.observation = first

    def __call__(self) -> Observation:
        return self.observation


def reported(actions: Sequence[TaughtAction], run: Sequence[Observation], labels: list[str]) -> list[str]:
    """The top result `--taught only` gives at each frame of the run (NONE when it gives none)."""
    if not run:
        return []
    names = [a.name for a in actions]
    replay = Replay(run[0])
    predictions = TaughtPredictions(PredictionFilter([*labels, *names]), names, actions, replay,
                                    min_window_frames(FPS, WINDOW_FRAMES), only=True)
    silent = np.zeros(len(labels), np.float32)  # --taught only never looks at the model's own scores
    tops = []
    for replay.observation in run:
        result = predictions(silent)
        tops.append(result[0].label if result else NONE)
    return tops


def rate(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else float("nan")


@dataclasses.dataclass
class Media:
    """Every recorded stream the rows use."""

    shared: dict[str, dict[str, list[Observation]]]  # clip -> {"full", "second_half", "frozen"}
    teach: dict[str, list[Observation]]  # teach/ clip -> full run
    val: dict[str, list[Observation]]
    same_video: dict[str, dict]  # action -> {"full", "parts": [run per taught part], "inside": [indices per part],
    #                                         "other": indices, "backgrounds": [run per part], "behind": [indices]}


def record(recorder: Recorder, media: Path, size: tuple[int, int]) -> Media:
    def frames(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
        sampled = list(sampled_frames(path, FPS))
        return [f.model_rgb(size) for f in sampled], np.array([f.timestamp for f in sampled])

    shared = {}
    for path in sorted(media.glob("*.mp4")):
        images, _ = frames(path)
        half = len(images) // 2
        shared[path.stem] = {"full": recorder.run(images), "second_half": recorder.run(images[half:]),
                             "frozen": recorder.run([images[half // 2]] * FROZEN)}
    teach = {p.stem: recorder.run(frames(p)[0]) for p in sorted((media / "teach").glob("*.mp4"))}
    val = {p.stem: recorder.run(frames(p)[0]) for p in sorted((media / "val").glob("*.mp4"))}
    segments = [line.split("\t") for line in (media / "changes" / "SEGMENTS.tsv").read_text().splitlines()[1:]]
    same_video = {}
    for action, (file, parts) in SAME_VIDEO.items():
        images, times = frames(media / "changes" / file)
        inside = [(times >= a - 1e-3) & (times < b - 1e-3) for a, b in parts]
        other = np.zeros(len(times), bool)
        for row in segments:
            if row[0] == file and row[3].startswith("other"):
                other |= (times >= float(row[1]) - 1e-3) & (times < float(row[2]) - 1e-3)
        behind = [(times >= a - 1e-3) & (times < b - 1e-3) for a, b in BACKGROUNDS[action]]
        same_video[action] = {"full": recorder.run(images), "parts": [recorder.run(
            [images[i] for i in np.flatnonzero(part)]) for part in inside],
            "inside": [np.flatnonzero(part) for part in inside], "other": np.flatnonzero(other),
            "backgrounds": [recorder.run([images[i] for i in np.flatnonzero(seconds)]) for seconds in behind],
            "behind": [np.flatnonzero(seconds) for seconds in behind]}
    return Media(shared, teach, val, same_video)


def rows(media: Media, stop: Callable[[int], int | None], model: ModelIdentity, labels: list[str]) -> dict:
    """Every row, each action taught from frames [0, stop(len(part))) of its teaching part."""
    names = sorted(media.shared)
    shared = {name: taught(name, runs["full"], stop(len(runs["full"]) // 2), model)
              for name, runs in media.shared.items()}
    everything = list(shared.values())
    out: dict = {"examples": {name: len(a.examples) for name, a in shared.items()}}

    columns = [*names, NONE]
    matrix, right, total = [], 0, 0
    for name in names:
        tops = reported(everything, media.shared[name]["second_half"][SCORED_FROM:], labels)
        matrix.append([tops.count(c) for c in columns])
        right, total = right + tops.count(name), total + len(tops)
    out["half"] = {"right": right, "frames": total, "right_rate": rate(right, total),
                   "confusion": {"rows": names, "columns": columns, "matrix": matrix}}

    frozen = {name: reported(everything, media.shared[name]["frozen"][SCORED_FROM:], labels) for name in names}
    none = sum(tops.count(NONE) for tops in frozen.values())
    frames = sum(map(len, frozen.values()))
    out["frozen"] = {"none": none, "frames": frames, "none_rate": rate(none, frames),
                     "per_clip_none_rate": {n: rate(t.count(NONE), len(t)) for n, t in frozen.items()}}

    cases: dict[str, dict] = {}
    background_cases: dict[str, dict] = {}
    for action, video in media.same_video.items():
        for i, part in enumerate(video["parts"]):
            alone = taught(action, part, stop(len(part)), model)
            tops = reported([alone], video["full"], labels)
            other = [tops[j] for j in video["other"]]
            own = [tops[j] for j in video["inside"][i]]
            cases[f"{action} (part {i + 1})"] = {"other_frames": len(other), "other_none": other.count(NONE),
                                                 "other_none_rate": rate(other.count(NONE), len(other)),
                                                 "taught_part_found_rate": rate(own.count(action), len(own))}
            background = video["backgrounds"][i]
            with_background = alone.with_background(*recorded(f"{action} background", background, None))
            judged = np.setdiff1d(video["other"], video["behind"][i])
            found = reported([with_background], video["full"], labels)
            before, after = [tops[j] for j in judged], [found[j] for j in judged]
            own = [found[j] for j in video["inside"][i]]
            background_cases[f"{action} (part {i + 1})"] = {
                "background_seconds": list(BACKGROUNDS[action][i]), "judged_frames": len(judged),
                "none_without": before.count(NONE), "none_with": after.count(NONE),
                "none_rate_without": rate(before.count(NONE), len(judged)),
                "none_rate_with": rate(after.count(NONE), len(judged)),
                "taught_part_found_rate_with": rate(own.count(action), len(own))}
    none = sum(c["other_none"] for c in cases.values())
    frames = sum(c["other_frames"] for c in cases.values())
    out["same_video"] = {"none_rate": rate(none, frames), "cases": cases}
    frames = sum(c["judged_frames"] for c in background_cases.values())
    out["same_video_background"] = {
        "none_rate_without": rate(sum(c["none_without"] for c in background_cases.values()), frames),
        "none_rate_with": rate(sum(c["none_with"] for c in background_cases.values()), frames),
        "judged_frames": frames, "cases": background_cases}

    def teach_clip(clip: str, name: str) -> TaughtAction:
        run = media.teach[clip]
        return taught(name, run, stop(len(run)), model)

    cases = {}  # of another clip: the same shape
    for action, clips in ANOTHER_CLIP.items():
        for source, target in (clips, clips[::-1]):
            among = [*everything, teach_clip("squats_farzadmalik", "squats"), teach_clip(source, action),
                     *(teach_clip(c[0], a) for a, c in ANOTHER_CLIP.items() if a != action)]
            tops = reported(among, media.teach[target][SCORED_FROM:], labels)
            cases[f"{source} -> {target}"] = {"found_rate": rate(tops.count(action), len(tops)),
                                               "tops": {t: tops.count(t) for t in sorted(set(tops))}}
    out["another_clip"] = {"found_rate": round(statistics.mean(c["found_rate"] for c in cases.values()), 4),
                           "cases": cases}

    among = [*everything, *(teach_clip(c[0], a) for a, c in ANOTHER_CLIP.items())]
    untaught = {**media.val, "squats_farzadmalik": media.teach["squats_farzadmalik"]}
    by_clip = {clip: reported(among, run[SCORED_FROM:], labels) for clip, run in untaught.items()}
    none, frames = sum(t.count(NONE) for t in by_clip.values()), sum(len(t) for t in by_clip.values())
    split_none = split_frames = 0
    worst = 1.0
    for chosen in itertools.combinations(names, len(names) // 2):
        n = f = 0
        for name in names:
            if name not in chosen:
                t = reported([shared[c] for c in chosen], media.shared[name]["full"][SCORED_FROM:], labels)
                n, f = n + t.count(NONE), f + len(t)
        split_none, split_frames, worst = split_none + n, split_frames + f, min(worst, n / f)
    out["untaught"] = {"none_rate": rate(none, frames), "frames": frames,
                       "per_clip_none_rate": {c: rate(t.count(NONE), len(t)) for c, t in by_clip.items()},
                       "shared_splits": {"splits": 70 if len(names) == 8 else None,
                                         "none_rate": rate(split_none, split_frames),
                                         "worst_split_none_rate": round(worst, 4)}}
    return out


def block_ms(call: Callable[[], object], count: int) -> float:
    """CPU time of this thread per call, in ms, over `count` calls."""
    start = time.thread_time()
    for _ in range(count):
        call()
    return (time.thread_time() - start) * 1000.0 / count


def cost(classifier: StreamClassifier, media: Media, images: list[np.ndarray], model: ModelIdentity,
         labels: list[str], runtime, blocks: int) -> dict:
    """Scoring 20 taught actions per classified frame, next to the bare invoke of the same model."""
    names = sorted(media.shared)
    stops = itertools.cycle((name, stop) for stop in (ONE_SHOT, 15, 20) for name in names)
    actions = [taught(f"{name} ({stop})", media.shared[name]["full"], stop, model)
               for name, stop in itertools.islice(stops, TAUGHT_FOR_COST)]
    taught_names = [a.name for a in actions]
    observe = observer(classifier, FPS)
    with_taught = TaughtPredictions(PredictionFilter([*labels, *taught_names]), taught_names, actions, observe,
                                    min_window_frames(FPS, WINDOW_FRAMES))
    paths = {"window_matches_an_action": images[:20],  # the first 4 s, which 9 of the actions were taught from
             "window_matches_none": [np.full_like(images[0], 128)] * WINDOW_FRAMES}
    result: dict = {"taught_actions": len(actions), "blocks": blocks, "paths": {}}
    invoke_blocks: list[float] = []
    for path, frames in paths.items():
        timed, invokes = path_cost(classifier, with_taught, observe, PredictionFilter(labels), frames, runtime,
                                   blocks)
        result["paths"][path] = timed
        invoke_blocks += invokes
    invoke = statistics.median(invoke_blocks)
    result["invoke_ms"] = round(invoke, 4)
    for entry in result["paths"].values():
        entry["taught_total_percent_of_invoke"] = round(100.0 * entry["taught_total_ms"] / invoke, 3)
    return result


def path_cost(classifier: StreamClassifier, with_taught: TaughtPredictions, observe, plain: PredictionFilter,
              frames: list[np.ndarray], runtime, blocks: int, calls: int = 2000) -> tuple[dict, list[float]]:
    """The taught scoring's parts after a stream over `frames`, and the bare invoke's median per block."""
    classifier.reset()
    for image in frames:
        probabilities = classifier.classify(image).copy()
    observation = copied(observe())
    parts: dict[str, list[float]] = {"taught_total": [], "observe": [], "head_scores": []}
    invokes = []
    for _ in range(blocks):
        samples, _ = bare_invoke_ms(runtime, classifier.model_path, 1, frames, 100, clock=time.thread_time)
        invokes.append(statistics.median(samples))
        # What the taught actions add to picking the labels: the same call without them, subtracted.
        parts["taught_total"].append(block_ms(functools.partial(with_taught, probabilities), calls)
                                     - block_ms(functools.partial(plain, probabilities), calls))
        parts["observe"].append(block_ms(observe, calls))
        parts["head_scores"].append(block_ms(functools.partial(with_taught.head.scores, observation), calls))
    matched = bool(with_taught.head.scores(observation).any())
    return {"matched": matched, **{f"{k}_ms": round(statistics.median(v), 5) for k, v in parts.items()}}, invokes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.teach", description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=MEDIA,
                        help="the shared media folder: eight clips, teach/, val/ and changes/")
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--runtime", default="auto")
    parser.add_argument("--blocks", type=int, default=9, help="timed blocks of the cost (medians over them); 0: none")
    args = parser.parse_args(argv)

    runtime = load_runtime(args.runtime)
    classifier = StreamClassifier(args.model, 1, runtime)
    classifier.set_window(WINDOW_FRAMES, ChangeTest.at_rate(FPS))  # as a run sets it (a reset stream per clip)
    labels = load_labels(args.labels)
    model = ModelIdentity.of(args.model)
    if len(list(args.media.glob("*.mp4"))) < 2:
        parser.error(f"{args.media} needs at least two .mp4 clips")
    media = record(Recorder(classifier), args.media, classifier.input_size)
    report: dict = {
        "machine": machine(), "model": args.model.name, "runtime": str(runtime),
        "settings": {"fps": FPS, "window_frames": WINDOW_FRAMES, "scored_from_seconds": SCORED_FROM / FPS,
                     "one_shot_seconds": ONE_SHOT / FPS, "frozen_seconds": FROZEN / FPS},
        "taught": rows(media, lambda frames: frames, model, labels),
        "one_shot": rows(media, lambda frames: ONE_SHOT, model, labels),
        "targets": TARGETS,
    }
    if args.blocks > 0:
        first = sorted(args.media.glob("*.mp4"))[0]
        images = [f.model_rgb(classifier.input_size) for f in sampled_frames(first, FPS)]
        report["cost"] = cost(classifier, media, images, model, labels, runtime, args.blocks)
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
