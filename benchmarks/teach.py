"""How well taught actions are learnt, and what scoring them costs: issue 17's protocols on the shared clips.

    python -m benchmarks.teach [--clips DIR] [--model PATH] [--tau 0.48]

Every clip stands for one "new" action, taught under its file name (the head never sees a Kinetics label). At
the app's defaults (5 fps, a 12 s window restarted on a change of action), N classified frames per clip, m = N // 2:

- half: taught from frames [0, m), the stream reset at 0, as `--teach NAME --video CLIP --teach-to ...` does;
  tested on the second half run as its own stream (reset at m). Scored: every classified frame at least 2 s
  after that reset, and the clip's last frame ("last window").
- one_shot: taught from the first 2 s only, frames [0, 10); tested the same way.
- open set, in both: every split of the clips into 4 taught and 4 untaught (70 for 8 clips). The untaught ones
  run from a reset at 0 and every frame from 2 s on must be reported as none (`--taught only` empty).

Frames go through the app's own code: the StreamClassifier with its head window, ExampleRecorder, and
TaughtPredictions with a PredictionFilter as `--taught only` builds them. A frame counts as right when the taught
action is the top result (none is wrong). The confusion matrix counts each scored frame's top result.

cost: with 20 taught actions, the CPU time of this thread (time.thread_time; one inference thread, so the
invoke's work is on this thread too) per classified frame of the bare invoke, and of the taught scoring (read
the embedding, score, pick the labels with the taught ones added), in alternating blocks, medians. Both paths:
a window that matches an action, and one that matches none.

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
    DEFAULT_TAU,
    ExampleRecorder,
    ModelIdentity,
    Session,
    TaughtAction,
    TaughtPredictions,
    min_window_frames,
)
from utils.sources import sampled_frames

FPS = 5.0
WINDOW_FRAMES = round(ClassifierOptions().window_seconds * FPS)  # the app's default --window at 5 fps
SCORED_FROM = 10  # test frames count from 2 s after their stream's reset
ONE_SHOT = 10  # 2 s of frames
TAUGHT_FOR_COST = 20
TARGETS = {"frames_right": 0.95, "open_set_none": 0.90, "cost_percent_of_invoke": 2.0}
NONE = "none"


@dataclasses.dataclass
class Run:
    """One stream over a clip's frames from a reset: per classified frame, the embedding and its window's size."""

    embeddings: np.ndarray  # [n, dim]
    frames_in_window: list[int]


class Replay:
    """Stands in for StreamClassifier.embedding, replaying a recorded frame."""

    def __init__(self, run: Run) -> None:
        self.run, self.index = run, 0

    def __call__(self) -> tuple[np.ndarray, int]:
        return self.run.embeddings[self.index], self.run.frames_in_window[self.index]


def stream(classifier: StreamClassifier, images: Sequence[np.ndarray]) -> Run:
    classifier.reset()
    embeddings, frames = [], []
    for image in images:
        classifier.classify(image)
        embedding, held = classifier.embedding()
        embeddings.append(embedding.copy())
        frames.append(held)
    return Run(np.stack(embeddings), frames)


def taught(name: str, run: Run, stop: int, model: ModelIdentity, tau: float) -> TaughtAction:
    """The action `--teach` makes from the frames [0, stop) of a stream reset at 0."""
    recorder = ExampleRecorder(FPS, WINDOW_FRAMES)
    for i in range(stop):
        recorder.add(run.embeddings[i], run.frames_in_window[i])
    session = Session(recorder.seconds, len(recorder), WINDOW_FRAMES, FPS, f"{name} frames 0-{stop}")
    return dataclasses.replace(TaughtAction.first(name, model, recorder.examples, session), tau=tau)


def reported(actions: Sequence[TaughtAction], run: Run, indices: range, labels: list[str]) -> list[str]:
    """The top result `--taught only` gives at each of these frames of the run (NONE when it gives none)."""
    names = [a.name for a in actions]
    replay = Replay(run)
    predictions = TaughtPredictions(PredictionFilter([*labels, *names]), names, actions, replay,
                                    min_window_frames(FPS, WINDOW_FRAMES), only=True)
    silent = np.zeros(len(labels), np.float32)  # --taught only never looks at the model's own scores
    tops = []
    for replay.index in indices:
        result = predictions(silent)
        tops.append(result[0].label if result else NONE)
    return tops


def protocol(clips: dict[str, dict[str, Run]], teach_frames: Callable[[str], int], model: ModelIdentity,
             labels: list[str], tau: float) -> dict:
    names = sorted(clips)
    actions = {name: taught(name, clips[name]["from_start"], teach_frames(name), model, tau) for name in names}

    def test(name: str, among: Sequence[TaughtAction]) -> list[str]:
        run = clips[name]["second_half"]
        return reported(among, run, range(SCORED_FROM, len(run.frames_in_window)), labels)

    columns = [*names, NONE]
    matrix = [[0] * len(columns) for _ in names]
    right = total = last_right = 0
    for row, name in enumerate(names):
        tops = test(name, list(actions.values()))
        for top in tops:
            matrix[row][columns.index(top)] += 1
        right += sum(top == name for top in tops)
        total += len(tops)
        last_right += tops[-1] == name
    none = unknown = known_right = known = 0
    worst = 1.0
    for taught_names in itertools.combinations(names, len(names) // 2):
        among = [actions[n] for n in taught_names]
        split_none = split_unknown = 0
        for name in names:
            if name in taught_names:
                tops = test(name, among)
                known_right += sum(top == name for top in tops)
                known += len(tops)
            else:
                run = clips[name]["from_start"]
                tops = reported(among, run, range(SCORED_FROM, len(run.frames_in_window)), labels)
                split_none += tops.count(NONE)
                split_unknown += len(tops)
        none, unknown = none + split_none, unknown + split_unknown
        worst = min(worst, split_none / split_unknown)
    return {
        "examples": {name: len(a.examples) for name, a in actions.items()},
        "frames_right": right, "frames_scored": total, "frames_right_rate": round(right / total, 4),
        "last_windows_right": last_right, "clips": len(names),
        "confusion": {"rows": names, "columns": columns, "matrix": matrix},
        "open_set": {"splits": len(list(itertools.combinations(names, len(names) // 2))),
                     "unknown_frames": unknown, "none": none, "none_rate": round(none / unknown, 4),
                     "worst_split_none_rate": round(worst, 4),
                     "known_frames_right_rate": round(known_right / known, 4)},
    }


def block_ms(call: Callable[[], object], count: int) -> float:
    """CPU time of this thread per call, in ms, over `count` calls."""
    start = time.thread_time()
    for _ in range(count):
        call()
    return (time.thread_time() - start) * 1000.0 / count


def cost(classifier: StreamClassifier, clips: dict[str, dict[str, Run]], images: dict[str, list[np.ndarray]],
         model: ModelIdentity, labels: list[str], runtime, blocks: int) -> dict:
    """Scoring 20 taught actions per classified frame, next to the bare invoke of the same model."""
    names = sorted(clips)
    stops = itertools.cycle((name, stop) for stop in (ONE_SHOT, 15, 20) for name in names)
    actions = [taught(f"{name} ({stop})", clips[name]["from_start"], stop, model, DEFAULT_TAU)
               for name, stop in itertools.islice(stops, TAUGHT_FOR_COST)]
    taught_names = [a.name for a in actions]
    with_taught = TaughtPredictions(PredictionFilter([*labels, *taught_names]), taught_names, actions,
                                    classifier.embedding, min_window_frames(FPS, WINDOW_FRAMES))
    paths = {"window_matches_an_action": images[names[0]],
             "window_matches_none": [np.full_like(images[names[0]][0], 128)] * WINDOW_FRAMES}
    result: dict = {"taught_actions": len(actions), "blocks": blocks, "paths": {}}
    invoke_blocks: list[float] = []
    for path, frames in paths.items():
        timed, invokes = path_cost(classifier, with_taught, PredictionFilter(labels), frames, runtime, blocks)
        result["paths"][path] = timed
        invoke_blocks += invokes
    invoke = statistics.median(invoke_blocks)
    result["invoke_ms"] = round(invoke, 4)
    for entry in result["paths"].values():
        entry["taught_total_percent_of_invoke"] = round(100.0 * entry["taught_total_ms"] / invoke, 3)
    return result


def path_cost(classifier: StreamClassifier, with_taught: TaughtPredictions, plain: PredictionFilter,
              frames: list[np.ndarray], runtime, blocks: int, calls: int = 2000) -> tuple[dict, list[float]]:
    """The taught scoring's parts after a stream over `frames`, and the bare invoke's median per block."""
    classifier.reset()
    for image in frames:
        probabilities = classifier.classify(image).copy()
    embedding = classifier.embedding()[0].copy()
    parts: dict[str, list[float]] = {"taught_total": [], "embedding": [], "head_scores": []}
    invokes = []
    for _ in range(blocks):
        samples, _ = bare_invoke_ms(runtime, classifier.model_path, 1, frames, 100, clock=time.thread_time)
        invokes.append(statistics.median(samples))
        # What the taught actions add to picking the labels: the same call without them, subtracted.
        parts["taught_total"].append(block_ms(functools.partial(with_taught, probabilities), calls)
                                     - block_ms(functools.partial(plain, probabilities), calls))
        parts["embedding"].append(block_ms(classifier.embedding, calls))
        parts["head_scores"].append(block_ms(functools.partial(with_taught.head.scores, embedding), calls))
    matched = bool(with_taught.head.scores(embedding).any())
    return {"matched": matched, **{f"{k}_ms": round(statistics.median(v), 5) for k, v in parts.items()}}, invokes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.teach", description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=MEDIA, help="a folder of clips, one action each")
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--runtime", default="auto")
    parser.add_argument("--tau", type=float, default=DEFAULT_TAU, help="the none threshold (cosine)")
    parser.add_argument("--blocks", type=int, default=9, help="timed blocks of the cost (medians over them); 0: none")
    args = parser.parse_args(argv)

    runtime = load_runtime(args.runtime)
    classifier = StreamClassifier(args.model, 1, runtime)
    classifier.set_window(WINDOW_FRAMES, ChangeTest.at_rate(FPS))  # as a run sets it (a reset stream per clip)
    labels = load_labels(args.labels)
    model = ModelIdentity.of(args.model)
    paths = sorted(args.clips.glob("*.mp4"))
    if len(paths) < 2:
        parser.error(f"{args.clips} needs at least two .mp4 clips")
    images = {p.stem: [f.model_rgb(classifier.input_size) for f in sampled_frames(p, FPS)] for p in paths}
    clips = {name: {"from_start": stream(classifier, frames),
                    "second_half": stream(classifier, frames[len(frames) // 2:])} for name, frames in images.items()}
    report: dict = {
        "machine": machine(), "model": args.model.name, "runtime": str(runtime),
        "settings": {"fps": FPS, "window_frames": WINDOW_FRAMES, "tau": args.tau,
                     "scored_from_seconds": SCORED_FROM / FPS, "one_shot_seconds": ONE_SHOT / FPS},
        "clips": {name: {"classified_frames": len(frames), "second_half_from_frame": len(frames) // 2,
                         "scored_test_frames": max(0, len(frames) - len(frames) // 2 - SCORED_FROM)}
                  for name, frames in images.items()},
        "protocols": {
            "half": protocol(clips, lambda name: len(images[name]) // 2, model, labels, args.tau),
            "one_shot": protocol(clips, lambda name: ONE_SHOT, model, labels, args.tau),
        },
        "targets": TARGETS,
    }
    if args.blocks > 0:
        report["cost"] = cost(classifier, clips, images, model, labels, runtime, args.blocks)
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
