"""How well taught actions are learnt, what they hold against, and what scoring them costs.

    python -m benchmarks.teach [--media DIR] [--model PATH] [--blocks 9]
    python -m benchmarks.teach --rooms DIR    # only the same-video rows, on DIR's videos and SEGMENTS.tsv

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
  Both rows read the cases from SEGMENTS.tsv: every segment with a Kinetics label is a taught part, its
  background the `other:` segment right after it (the rule docs/teaching.md gives users).
- another_clip: teach/: push ups and tai chi taught from one clip, found on the other (both directions), with
  the eight shared clips, squats and the other action taught too.
- untaught: the eight shared clips, push ups and tai chi taught; val/ and teach/squats must be none. And every
  split of the shared clips into 4 taught and 4 untaught (70).
- one_shot: the same rows taught from the first 2 s of each teaching part.
- rooms (--rooms DIR, instead of all the above): same_video and same_video_background of each video of DIR, cut
  by DIR/SEGMENTS.tsv, and the background row over all of them, taught from each whole part and one-shot
  (docs/research/rooms/ lists the takes measured in docs/research/teaching.md).
- perturb (--perturb NAMES, instead of all the above): a light change or a bumped camera (benchmarks/perturb.py)
  on the half and frozen rows. Each clip's second half is looped for 20 s (the action going on) and perturbed
  from 10 s on: the share of the 10 s after that found, beside the same frames unperturbed ("none"); and the
  frozen middle frame (10 s) perturbed from 5 s on: the share of the 5 s after that none. The eight taught as in
  the half row, from their whole first half and one-shot. docs/research/camera-changes.md has the figures.

cost: with 20 taught actions, the CPU time of this thread per classified frame (one inference thread, so the
invoke's work is on this thread too) of the bare invoke and of the taught scoring (observe the window, score,
pick the labels with the taught ones added, and the picture's step classify() makes for the taught head on every
frame: utils/model/picture_motion.py), in alternating blocks, medians; for a window that matches an
action and one that matches none.

Stdout gets one JSON object.
"""

from __future__ import annotations

import argparse
import collections
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
from benchmarks.perturb import PERTURBATIONS, bumped, named_perturbations, perturbed
from utils.config import ClassifierOptions
from utils.model.head_window import ChangeTest
from utils.model.labels import load_labels
from utils.model.picture_motion import PictureSteps
from utils.model.predictions import PredictionFilter
from utils.model.runtime import load_runtime
from utils.model.stream_classifier import RECENT_FEATURES, StreamClassifier
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
OTHER = "other"  # SEGMENTS.tsv: a label starting with it is not the action
PERTURB_LOOP = 100  # --perturb: a second half looped for 20 s, perturbed from its middle on
# A frozen picture is the frozen row itself; a freeze of a taught action is that row, so it is left out here.
TEACH_PERTURBATIONS = tuple(name for name in PERTURBATIONS if name != "freeze")
# How a background session joins its action: TaughtAction.with_background, or a study's variant of it.
AddBackground = Callable[[TaughtAction, Examples, Session], TaughtAction]
ANOTHER_CLIP = {"push ups": ("push_ups_9syed", "push_ups_ggperroni"),
                "tai chi": ("tai_chi_charl0tte19", "tai_chi_stgcn_skeleton")}


@dataclasses.dataclass(frozen=True)
class SameVideo:
    """An action in one video of a folder with SEGMENTS.tsv: the parts it is taught from, the background of each
    (the `other:` segment right after it, taught as --teach-background --video FILE --teach-from --teach-to
    teaches one: a fresh stream), and the video's `other:` segments, which must be none. Seconds of the video."""

    file: str
    action: str
    parts: list[tuple[float, float]]
    backgrounds: list[tuple[float, float]]
    other: list[tuple[float, float]]


def same_video_cases(folder: Path) -> list[SameVideo]:
    """Every (video, Kinetics label) of folder/SEGMENTS.tsv (file, start_s, end_s, label) as a case."""
    path = folder / "SEGMENTS.tsv"
    by_file: dict[str, list[tuple[float, float, str]]] = {}
    for number, line in enumerate(path.read_text().splitlines()[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 4:
            raise ValueError(f"{path} line {number}: needs 4 tab-separated fields (file, start_s, end_s, label)")
        file, start, end, label = fields
        by_file.setdefault(file, []).append((float(start), float(end), label))
    cases = []
    for file, segments in by_file.items():
        segments.sort()
        other = [(a, b) for a, b, label in segments if label.startswith(OTHER)]
        for action in dict.fromkeys(label for *_, label in segments if not label.startswith(OTHER)):
            at = [i for i, segment in enumerate(segments) if segment[2] == action]
            if any(i + 1 == len(segments) or not segments[i + 1][2].startswith(OTHER) for i in at):
                raise ValueError(f"{path}: every {action!r} segment of {file} needs an "
                                 f"'other:' segment right after it (its background)")
            cases.append(SameVideo(file, action, [segments[i][:2] for i in at],
                                   [segments[i + 1][:2] for i in at], other))
    return cases


def copied(observation: Observation) -> Observation:
    steps = observation.picture_steps
    return Observation(observation.window_sum.copy(), observation.frames, observation.probabilities.copy(),
                       observation.recent.copy(), None if steps is None else steps.copy())


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
    same_video: list[RecordedVideo]  # changes/


@dataclasses.dataclass
class RecordedVideo:
    """A same-video case's streams: the whole video, each taught part and each background, each its own stream;
    and the frame indices of the whole video's run that each part, each background and the `other:` segments hold."""

    case: SameVideo
    full: list[Observation]
    parts: list[list[Observation]]
    inside: list[np.ndarray]
    backgrounds: list[list[Observation]]
    behind: list[np.ndarray]
    other: np.ndarray


def sampled(path: Path, size: tuple[int, int]) -> tuple[list[np.ndarray], np.ndarray]:
    """The model's images of a video at FPS, and their timestamps in seconds."""
    frames = list(sampled_frames(path, FPS))
    return [f.model_rgb(size) for f in frames], np.array([f.timestamp for f in frames])


def within(times: np.ndarray, spans: list[tuple[float, float]]) -> list[np.ndarray]:
    """The indices of the frames each span [a, b) of seconds holds."""
    return [np.flatnonzero((times >= a - 1e-3) & (times < b - 1e-3)) for a, b in spans]


def record_same_video(recorder: Recorder, folder: Path, size: tuple[int, int]) -> list[RecordedVideo]:
    videos = []
    for case in same_video_cases(folder):
        images, times = sampled(folder / case.file, size)
        inside, behind = within(times, case.parts), within(times, case.backgrounds)
        videos.append(RecordedVideo(
            case, recorder.run(images), [recorder.run([images[i] for i in part]) for part in inside], inside,
            [recorder.run([images[i] for i in seconds]) for seconds in behind], behind,
            np.unique(np.concatenate([np.zeros(0, int), *within(times, case.other)]))))
    return videos


def record(recorder: Recorder, media: Path, size: tuple[int, int]) -> Media:
    shared = {}
    for path in sorted(media.glob("*.mp4")):
        images, _ = sampled(path, size)
        half = len(images) // 2
        shared[path.stem] = {"full": recorder.run(images), "second_half": recorder.run(images[half:]),
                             "frozen": recorder.run([images[half // 2]] * FROZEN)}
    teach = {p.stem: recorder.run(sampled(p, size)[0]) for p in sorted((media / "teach").glob("*.mp4"))}
    val = {p.stem: recorder.run(sampled(p, size)[0]) for p in sorted((media / "val").glob("*.mp4"))}
    return Media(shared, teach, val, record_same_video(recorder, media / "changes", size))


def same_video_rows(videos: Sequence[RecordedVideo], stop: Callable[[int], int | None], model: ModelIdentity,
                    labels: list[str], add_background: AddBackground = TaughtAction.with_background) -> dict:
    """same_video and same_video_background: each taught part alone, then with its background (added by
    add_background, as --teach-background adds one unless a study says otherwise), over the whole video run
    (every frame from the start)."""
    cases: dict[str, dict] = {}
    background_cases: dict[str, dict] = {}
    for video in videos:
        action = video.case.action
        for i, part in enumerate(video.parts):
            alone = taught(action, part, stop(len(part)), model)
            tops = reported([alone], video.full, labels)
            other = [tops[j] for j in video.other]
            own = [tops[j] for j in video.inside[i]]
            cases[f"{action} (part {i + 1})"] = {"other_frames": len(other), "other_none": other.count(NONE),
                                                 "other_none_rate": rate(other.count(NONE), len(other)),
                                                 "taught_part_found_rate": rate(own.count(action), len(own))}
            background = video.backgrounds[i]
            with_background = add_background(alone, *recorded(f"{action} background", background, None))
            judged = np.setdiff1d(video.other, video.behind[i])
            found = reported([with_background], video.full, labels)
            before, after = [tops[j] for j in judged], [found[j] for j in judged]
            own_with = [found[j] for j in video.inside[i]]
            background_cases[f"{action} (part {i + 1})"] = {
                "background_seconds": list(video.case.backgrounds[i]), "judged_frames": len(judged),
                "none_without": before.count(NONE), "none_with": after.count(NONE),
                "none_rate_without": rate(before.count(NONE), len(judged)),
                "none_rate_with": rate(after.count(NONE), len(judged)),
                "taught_part_found_rate_without": rate(own.count(action), len(own)),
                "taught_part_found_rate_with": rate(own_with.count(action), len(own_with))}
    none = sum(c["other_none"] for c in cases.values())
    frames = sum(c["other_frames"] for c in cases.values())
    judged = sum(c["judged_frames"] for c in background_cases.values())
    return {"same_video": {"none_rate": rate(none, frames), "cases": cases},
            "same_video_background": {
                "none_rate_without": rate(sum(c["none_without"] for c in background_cases.values()), judged),
                "none_rate_with": rate(sum(c["none_with"] for c in background_cases.values()), judged),
                "judged_frames": judged, "cases": background_cases}}


def rooms_rows(videos: Sequence[RecordedVideo], stop: Callable[[int], int | None], model: ModelIdentity,
               labels: list[str], add_background: AddBackground = TaughtAction.with_background) -> dict:
    """The same-video rows of each video of a --rooms folder, and the background row of all of them together."""
    by_video = {video.case.file: same_video_rows([video], stop, model, labels, add_background) for video in videos}
    cases = [c for rows in by_video.values() for c in rows["same_video_background"]["cases"].values()]
    judged = sum(c["judged_frames"] for c in cases)
    return {"videos": by_video, "same_video_background": {
        "judged_frames": judged, "none_without": sum(c["none_without"] for c in cases),
        "none_with": sum(c["none_with"] for c in cases),
        "none_rate_without": rate(sum(c["none_without"] for c in cases), judged),
        "none_rate_with": rate(sum(c["none_with"] for c in cases), judged)}}


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

    out.update(same_video_rows(media.same_video, stop, model, labels))

    def teach_clip(clip: str, name: str) -> TaughtAction:
        run = media.teach[clip]
        return taught(name, run, stop(len(run)), model)

    cases: dict[str, dict] = {}  # of another clip
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
    parts: dict[str, list[float]] = {"taught_total": [], "observe": [], "head_scores": [], "picture_step": []}
    invokes = []
    # The thumbnail step classify() makes for the taught head on every frame (keep_recent), on two frames in turn.
    picture, pair = PictureSteps(RECENT_FEATURES), itertools.cycle(frames[-2:])
    for _ in range(blocks):
        samples, _ = bare_invoke_ms(runtime, classifier.model_path, 1, frames, 100, clock=time.thread_time)
        invokes.append(statistics.median(samples))
        # What the taught actions add to picking the labels: the same call without them, subtracted.
        parts["picture_step"].append(block_ms(lambda: picture.add(next(pair)), calls))
        parts["taught_total"].append(block_ms(functools.partial(with_taught, probabilities), calls)
                                     - block_ms(functools.partial(plain, probabilities), calls)
                                     + parts["picture_step"][-1])
        parts["observe"].append(block_ms(observe, calls))
        parts["head_scores"].append(block_ms(functools.partial(with_taught.head.scores, observation), calls))
    matched = bool(with_taught.head.scores(observation).any())
    return {"matched": matched, **{f"{k}_ms": round(statistics.median(v), 5) for k, v in parts.items()}}, invokes


@dataclasses.dataclass
class PerturbedClip:
    """A shared clip's streams for --perturb: its first half (to teach from), its second half looped and the
    frozen middle frame of its first half, each unperturbed ("none") and with each perturbation."""

    first_half: list[Observation]
    looped: dict[str, list[Observation]]
    frozen: dict[str, list[Observation]]


def record_perturbed(recorder: Recorder, media: Path, size: tuple[int, int],
                     names: Sequence[str]) -> dict[str, PerturbedClip]:
    clips = {}
    for path in sorted(media.glob("*.mp4")):
        frames = list(sampled_frames(path, FPS))
        images = [f.model_rgb(size) for f in frames]
        # The bumped camera's crop is made at the clip's own size, as a camera would deliver it.
        moved = [dataclasses.replace(f, image=bumped(f.image)).model_rgb(size) for f in frames] \
            if "cut" in names else None
        half = len(images) // 2

        def streams(loop: list[np.ndarray], moved_loop: list[np.ndarray] | None, count: int) -> dict:
            return {name: recorder.run(list(perturbed(loop, count, count // 2, None if name == NONE else name, FPS,
                                                      moved_loop)))
                    for name in (NONE, *names)}
        clips[path.stem] = PerturbedClip(
            recorder.run(images[:half]),
            streams(images[half:], moved[half:] if moved else None, PERTURB_LOOP),
            streams([images[half // 2]], [moved[half // 2]] if moved else None, FROZEN))
    return clips


def perturbed_rows(clips: dict[str, PerturbedClip], stop: Callable[[int], int | None], model: ModelIdentity,
                   labels: list[str]) -> dict:
    """Per perturbation (and none): the looped second halves' frames after it found, the frozen frames after it
    none; the eight actions taught from frames [0, stop(len(first half))) of each first half."""
    names = sorted(clips)
    everything = [taught(name, clips[name].first_half, stop(len(clips[name].first_half)), model) for name in names]
    out: dict = {}
    for kind in clips[names[0]].looped:
        found = {n: reported(everything, clips[n].looped[kind][PERTURB_LOOP // 2:], labels) for n in names}
        still = {n: reported(everything, clips[n].frozen[kind][FROZEN // 2:], labels) for n in names}
        hits, frames = sum(t.count(n) for n, t in found.items()), sum(map(len, found.values()))
        none, still_frames = sum(t.count(NONE) for t in still.values()), sum(map(len, still.values()))
        out[kind] = {
            "half_looped": {"found": hits, "frames": frames, "found_rate": rate(hits, frames),
                            "none_rate": rate(sum(t.count(NONE) for t in found.values()), frames),
                            "per_clip_found_rate": {n: rate(t.count(n), len(t)) for n, t in found.items()}},
            "frozen": {"none": none, "frames": still_frames, "none_rate": rate(none, still_frames),
                       "per_clip_none_rate": {n: rate(t.count(NONE), len(t)) for n, t in still.items()},
                       # what is reported on the still picture instead, and until how long after the change
                       "reported": {n: dict(collections.Counter(x for x in t if x != NONE)) for n, t in still.items()},
                       "last_reported_seconds": max((i / FPS for t in still.values()
                                                     for i, x in enumerate(t) if x != NONE), default=None)}}
    return out


def rooms_problem(folder: Path) -> str | None:
    """What keeps a --rooms folder from being measured, in a sentence; None when nothing does."""
    try:
        cases = same_video_cases(folder)
    except (OSError, ValueError) as e:
        return str(e)
    if not cases:
        return f"{folder / 'SEGMENTS.tsv'} names no segment with a Kinetics label (the action to teach)"
    missing = [c.file for c in cases if not (folder / c.file).is_file()]
    return f"{folder} has no {missing[0]} (named in its SEGMENTS.tsv)" if missing else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.teach", description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=MEDIA,
                        help="the shared media folder: eight clips, teach/, val/ and changes/")
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--runtime", default="auto")
    parser.add_argument("--blocks", type=int, default=9, help="timed blocks of the cost (medians over them); 0: none")
    parser.add_argument("--rooms", type=Path, metavar="DIR",
                        help="instead: only the same-video rows, on DIR's videos as DIR/SEGMENTS.tsv cuts them")
    parser.add_argument("--perturb", metavar="NAMES",
                        help=f"instead: the half and frozen rows with each of these (comma-separated, of: "
                             f"{', '.join(TEACH_PERTURBATIONS)}, or all), and without")
    args = parser.parse_args(argv)
    perturbations: list[str] = []
    if args.perturb is not None:
        try:
            perturbations = named_perturbations(args.perturb, TEACH_PERTURBATIONS)
        except ValueError as e:
            parser.error(str(e))
    if args.rooms is not None:
        problem = rooms_problem(args.rooms)
        if problem:
            print(f"{parser.prog}: error: --rooms: {problem}", file=sys.stderr)
            return 2
    elif len(list(args.media.glob("*.mp4"))) < 2:
        parser.error(f"{args.media} needs at least two .mp4 clips")

    runtime = load_runtime(args.runtime)
    classifier = StreamClassifier(args.model, 1, runtime)
    classifier.set_window(WINDOW_FRAMES, ChangeTest.at_rate(FPS))  # as a run sets it (a reset stream per clip)
    labels = load_labels(args.labels)
    model = ModelIdentity.of(args.model)
    report: dict = {
        "machine": machine(), "model": args.model.name, "runtime": str(runtime),
        "settings": {"fps": FPS, "window_frames": WINDOW_FRAMES, "scored_from_seconds": SCORED_FROM / FPS,
                     "one_shot_seconds": ONE_SHOT / FPS, "frozen_seconds": FROZEN / FPS},
    }
    if args.rooms is not None:
        videos = record_same_video(Recorder(classifier), args.rooms, classifier.input_size)
        report["rooms"] = {"taught": rooms_rows(videos, lambda frames: frames, model, labels),
                           "one_shot": rooms_rows(videos, lambda frames: ONE_SHOT, model, labels)}
        json.dump(report, sys.stdout)
        sys.stdout.write("\n")
        return 0
    if perturbations:
        clips = record_perturbed(Recorder(classifier), args.media, classifier.input_size, perturbations)
        report["settings"] |= {"perturb_loop_seconds": PERTURB_LOOP / FPS,
                               "perturbed_at_seconds": PERTURB_LOOP / 2 / FPS,
                               "frozen_perturbed_at_seconds": FROZEN / 2 / FPS}
        report["perturb"] = {"taught": perturbed_rows(clips, lambda frames: frames, model, labels),
                             "one_shot": perturbed_rows(clips, lambda frames: ONE_SHOT, model, labels)}
        report["targets"] = TARGETS
        json.dump(report, sys.stdout)
        sys.stdout.write("\n")
        return 0
    media = record(Recorder(classifier), args.media, classifier.input_size)
    report |= {
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
