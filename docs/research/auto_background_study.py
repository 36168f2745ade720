"""An automatic background after each teaching session (docs/research/teaching.md): what it gives, what it costs
when the user keeps doing the action, and a guard that drops a background's examples as like the action as its own.

    python docs/research/auto_background_study.py [--rooms DIR] [--cache FILE]

Every stream is recorded with benchmarks/teach.py's Recorder and every row scored with its taught(), recorded(),
reported() and same_video_rows(), as `python -m benchmarks.teach` does. The rows:

- tuning (the eight shared clips): each clip taught from its first half (the benchmark's half row, all eight
  taught), with no background, with a background recorded as --teach-background records one (a fresh stream)
  over the next 2 s of the clip (the user keeps going: the background is the action), and with that background
  behind the guard at each percentile p; the rule below picks p, and leave-one-clip-out picks it for each clip
  on the other seven.
- judged (never tuned on): changes/ (the same-video background row, the background the seconds right after each
  taught part) with and without the guard; teach/ (each clip taught from its first half among the eight shared
  clips, the background the next 2 s); --rooms DIR (as benchmarks.teach --rooms); and the one-shot versions
  (taught from the first 2 s, the background the 2 s after them) of the tuning and changes/ rows.

Two guards, each with a selection rule stated before judging: the highest value of its grid (the one that keeps
the most background) for which the tuning half row with the continuing background is >= 95 % and within 1 point
of the row without a background; none when no value passes (then the judged rows show the strictest value).

- examples (p, GRID): a background example whose recent terms (cr + cc) / 2 against the action's means are at or
  above the p-th percentile of the action's own examples' values is dropped; with fewer than MIN_KEPT left, no
  background.
- session (theta, THETAS): the whole background is dropped when (cr + cc) / 2 of its means against the action's
  means (the cosines of the two mean directions the head keeps) is at or above theta. Added once the examples
  guard was seen to fail on the tuning set: an action's own examples are consecutive windows sharing most of their
  recent frames (0.67-0.997 against their means), and most continuing backgrounds' examples fall below every one
  of them (0.47-0.82; at p = 0, 34 of 48 are kept).

Stdout gets one JSON object. Recording takes a few minutes; --cache FILE keeps the streams for the next run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.paths import LABELS, MEDIA, MODEL  # noqa: E402
from benchmarks.teach import (  # noqa: E402
    FPS,
    ONE_SHOT,
    SCORED_FROM,
    WINDOW_FRAMES,
    AddBackground,
    Recorder,
    record_same_video,
    recorded,
    reported,
    rooms_rows,
    same_video_rows,
    sampled,
    taught,
)
from utils.model.head_window import ChangeTest  # noqa: E402
from utils.model.labels import load_labels  # noqa: E402
from utils.model.runtime import load_runtime  # noqa: E402
from utils.model.stream_classifier import StreamClassifier  # noqa: E402
from utils.model.taught import Examples, ModelIdentity, Observation, Session, TaughtAction  # noqa: E402
from utils.model.taught.head import means, unit  # noqa: E402

BACKGROUND = ONE_SHOT  # the automatic background: the 2 s right after the recording ends
GRID = tuple(range(0, 101, 5))  # the examples guard's percentiles
THETAS = tuple(round(0.40 + 0.02 * i, 2) for i in range(31))  # the session guard's thresholds, 0.40-1.00
MIN_KEPT = 3  # fewer background examples left than this: no background
HALF_TARGET = 0.95
WITHIN = 0.01


@dataclasses.dataclass
class Clip:
    """A clip's streams: the whole clip, its second half, and the 2 s after its first half and after its first 2 s
    (each a fresh stream, as --teach-background records)."""

    full: list[Observation]
    second_half: list[Observation]
    after_half: list[Observation]
    after_one_shot: list[Observation]


def record_clip(recorder: Recorder, path: Path, size: tuple[int, int]) -> Clip:
    images, _ = sampled(path, size)
    half = len(images) // 2
    return Clip(recorder.run(images), recorder.run(images[half:]), recorder.run(images[half:half + BACKGROUND]),
                recorder.run(images[ONE_SHOT:ONE_SHOT + BACKGROUND]))


def recent_terms(action: Examples, examples: Examples) -> np.ndarray:
    """(cr + cc) / 2 of each example against the action's means: the terms the head compares a background on."""
    classes, dim = action.probabilities.shape[1], action.dim
    mean = means(action)
    recent, change = mean[classes:classes + dim], mean[classes + dim:]
    return (unit(examples.recent_means) @ recent + unit(examples.changes) @ change) / 2.0


def guard(p: float | None) -> AddBackground:
    """TaughtAction.with_background behind the examples guard at percentile p (None: no guard)."""
    def add(action: TaughtAction, examples: Examples, session: Session) -> TaughtAction:
        if p is None:
            return action.with_background(examples, session)
        bar = np.percentile(recent_terms(action.examples, action.examples), p)
        keep = recent_terms(action.examples, examples) < bar
        if np.count_nonzero(keep) < MIN_KEPT:
            return action
        return action.with_background(examples.rows(keep), dataclasses.replace(session, examples=int(keep.sum())))
    return add


def session_similarity(action: Examples, background: Examples) -> float:
    """(cr + cc) / 2 of the background's means against the action's: how like the action the session is."""
    classes = action.probabilities.shape[1]
    ours, theirs = means(action), means(background)
    return float(ours[classes:] @ theirs[classes:]) / 2.0  # both unit directions: the sum of the two cosines


def session_guard(theta: float) -> AddBackground:
    """TaughtAction.with_background, but no background when the session is at least theta like the action."""
    def add(action: TaughtAction, examples: Examples, session: Session) -> TaughtAction:
        if session_similarity(action.examples, examples) >= theta:
            return action
        return action.with_background(examples, session)
    return add


def no_background(action: TaughtAction, examples: Examples, session: Session) -> TaughtAction:
    return action


def kept(add: AddBackground, action: TaughtAction, background: Sequence[Observation]) -> int:
    """How many of the background's examples the action keeps (0: no background)."""
    with_it = add(action, *recorded("background", background, None))
    return len(with_it.background.examples) if with_it.background is not None else 0


def taught_with(clips: dict[str, Clip], stop: Callable[[int], int], after: Callable[[Clip], list[Observation]],
                add: AddBackground, model: ModelIdentity) -> dict[str, TaughtAction]:
    """Each clip taught from frames [0, stop(frames)) of its whole run, its background added by `add`."""
    out = {}
    for name, clip in clips.items():
        action = taught(name, clip.full, stop(len(clip.full)), model)
        out[name] = add(action, *recorded(f"{name} background", after(clip), None))
    return out


def found(actions: dict[str, TaughtAction], clips: dict[str, Clip], labels: list[str]) -> dict[str, list[int]]:
    """Each clip's second half (from 2 s after its reset) found as itself, of its frames: the half row's counts."""
    everything = list(actions.values())
    out = {}
    for name, clip in clips.items():
        tops = reported(everything, clip.second_half[SCORED_FROM:], labels)
        out[name] = [tops.count(name), len(tops)]
    return out


def pooled(counts: dict[str, list[int]], names: Sequence[str] | None = None) -> float:
    names = list(counts) if names is None else names
    hits, frames = sum(counts[n][0] for n in names), sum(counts[n][1] for n in names)
    return round(hits / frames, 4) if frames else float("nan")


def chosen(without: dict[str, list[int]], by_p: dict[int, dict[str, list[int]]], names: Sequence[str]) -> int | None:
    """The rule: the highest p whose half row (over `names`) is >= 95 % and within 1 point of no background."""
    bar = pooled(without, names) - WITHIN
    good = [p for p, counts in by_p.items() if pooled(counts, names) >= max(HALF_TARGET, bar)]
    return max(good) if good else None


def half_rows(clips: dict[str, Clip], stop: Callable[[int], int], after: Callable[[Clip], list[Observation]],
              guards: dict[float, AddBackground], model: ModelIdentity, labels: list[str]) -> dict:
    """The half row with no background, with the continuing background, and behind each guard."""
    def counts(add: AddBackground) -> tuple[dict[str, list[int]], dict[str, int]]:
        actions = taught_with(clips, stop, after, no_background, model)
        kept_by = {n: kept(add, a, after(clips[n])) for n, a in actions.items()}
        return found(taught_with(clips, stop, after, add, model), clips, labels), kept_by

    without, _ = counts(no_background)
    unguarded, examples = counts(guard(None))
    by, kept_by = {}, {}
    for value, add in guards.items():
        by[value], kept_by[value] = counts(add)
    return {"without": without, "continuing": unguarded, "background_examples": examples, "by": by,
            "kept_by": kept_by}


def tuned(rows: dict) -> dict:
    """The rule's pick on all eight clips, the half row at every value, each clip's at the pick (the strictest value
    when none passes), and leave-one-clip-out."""
    names = list(rows["without"])
    value = chosen(rows["without"], rows["by"], names)
    picks = {n: chosen(rows["without"], rows["by"], [m for m in names if m != n]) for n in names}
    loco = {n: rows["by"][v][n] if v is not None else rows["continuing"][n] for n, v in picks.items()}
    return {"chosen": value, "without": pooled(rows["without"]), "continuing": pooled(rows["continuing"]),
            "background_examples": sum(rows["background_examples"].values()),
            "by": {v: {"half_row": pooled(c), "kept": sum(rows["kept_by"][v].values())} for v, c in rows["by"].items()},
            "per_clip": {n: {"without": rows["without"][n], "continuing": rows["continuing"][n],
                             "guarded": rows["by"][min(rows["by"]) if value is None else value][n]} for n in names},
            "leave_one_clip_out": {"chosen": picks, "per_clip": loco, "half_row": pooled(loco)}}


def teach_rows(shared: dict[str, Clip], teach: dict[str, Clip], stop: Callable[[int], int],
               after: Callable[[Clip], list[Observation]], guards: dict[str, AddBackground], model: ModelIdentity,
               labels: list[str]) -> dict:
    """Each teach/ clip taught among the eight shared ones, all with the same kind of background, found on its
    second half; and how many of its background's examples each guard keeps."""
    kinds = {"without": no_background, "continuing": guard(None), **guards}
    out: dict = {}
    for name, clip in teach.items():
        clips = {**shared, name: clip}
        row = {kind: found(taught_with(clips, stop, after, add, model), {name: clip}, labels)[name]
               for kind, add in kinds.items()}
        base = taught(name, clip.full, stop(len(clip.full)), model)
        row["kept"] = {kind: kept(add, base, after(clip)) for kind, add in kinds.items()}
        row["session_similarity"] = round(session_similarity(base.examples, recorded("b", after(clip), None)[0]), 4)
        out[name] = row
    out["all"] = {kind: round(sum(r[kind][0] for r in out.values()) / sum(r[kind][1] for r in out.values()), 4)
                  for kind in kinds}
    return out


def background_row(rows: dict) -> dict:
    """The same-video background row, short: none without and with, and each case's taught part found."""
    row = rows["same_video_background"]
    return {"none_rate_without": row["none_rate_without"], "none_rate_with": row["none_rate_with"],
            "judged_frames": row["judged_frames"],
            "cases": {name: {k: c[k] for k in ("none_without", "none_with", "taught_part_found_rate_without",
                                               "taught_part_found_rate_with")}
                      for name, c in row["cases"].items()}}


def changes_rows(videos: list, stop: Callable[[int], int], guards: dict[str, AddBackground], model: ModelIdentity,
                 labels: list[str]) -> dict:
    """The same-video background row as the benchmark gives it, and behind each guard; per case, how many of the
    background's examples each keeps and the session's similarity to the action."""
    out: dict = {"background": background_row(same_video_rows(videos, stop, model, labels))}
    for kind, add in guards.items():
        out[kind] = background_row(same_video_rows(videos, stop, model, labels, add))
    out["kept"] = {}
    for video in videos:
        for i, part in enumerate(video.parts):
            action = taught(video.case.action, part, stop(len(part)), model)
            background = video.backgrounds[i]
            out["kept"][f"{video.case.action} (part {i + 1})"] = {
                **{kind: kept(add, action, background) for kind, add in guards.items()},
                "of": kept(guard(None), action, background),
                "session_similarity": round(session_similarity(action.examples,
                                                               recorded("b", background, None)[0]), 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=MEDIA)
    parser.add_argument("--rooms", type=Path, help="the rooms takes beside their SEGMENTS.tsv (docs/research/rooms)")
    parser.add_argument("--cache", type=Path, help="keep the recorded streams here, and read them when it exists")
    parser.add_argument("--tuning-only", action="store_true", help="only the tuning rows (nothing judged)")
    args = parser.parse_args(argv)
    classifier = StreamClassifier(MODEL, 1, load_runtime("auto"))
    classifier.set_window(WINDOW_FRAMES, ChangeTest.at_rate(FPS))
    labels, model = load_labels(LABELS), ModelIdentity.of(MODEL)
    if args.cache and args.cache.exists():
        streams = pickle.loads(args.cache.read_bytes())
    else:
        recorder, size = Recorder(classifier), classifier.input_size
        streams = {
            "shared": {p.stem: record_clip(recorder, p, size) for p in sorted(args.media.glob("*.mp4"))},
            "teach": {p.stem: record_clip(recorder, p, size) for p in sorted((args.media / "teach").glob("*.mp4"))},
            "changes": record_same_video(recorder, args.media / "changes", size),
            "rooms": record_same_video(recorder, args.rooms, size) if args.rooms else None}
        if args.cache:
            args.cache.write_bytes(pickle.dumps(streams))
    shared, teach = streams["shared"], streams["teach"]
    stops = {"taught": lambda frames: frames // 2, "one_shot": lambda frames: ONE_SHOT}  # of the whole clip
    afters = {"taught": lambda clip: clip.after_half, "one_shot": lambda clip: clip.after_one_shot}
    families = {"examples": (guard, GRID), "session": (session_guard, THETAS)}

    report: dict = {"settings": {"fps": FPS, "background_seconds": BACKGROUND / FPS, "min_kept": MIN_KEPT,
                                 "examples_grid": GRID, "session_grid": THETAS}, "tuning": {}}
    picked: dict[str, float] = {}
    for family, (make, grid) in families.items():
        for kind in stops:
            rows = half_rows(shared, stops[kind], afters[kind], {v: make(v) for v in grid}, model, labels)
            report["tuning"][f"{family}_{kind}"] = tuned(rows)
        # The rule's pick on the whole-part tuning row guards every judged row; the strictest value when none passes.
        choice = report["tuning"][f"{family}_taught"]["chosen"]
        picked[family] = grid[0] if choice is None else choice
    report["judged_with"] = picked
    if args.tuning_only:
        json.dump(report, sys.stdout)
        sys.stdout.write("\n")
        return 0
    guards = {family: families[family][0](value) for family, value in picked.items()}
    judged: dict = {}
    same_video_stops = {"taught": lambda frames: frames, "one_shot": lambda frames: ONE_SHOT}  # of each part
    for kind, stop in same_video_stops.items():
        judged[f"changes_{kind}"] = changes_rows(streams["changes"], stop, guards, model, labels)
        if streams["rooms"]:
            judged[f"rooms_{kind}"] = {"background": rooms_rows(streams["rooms"], stop, model, labels)
                                       ["same_video_background"],
                                       **{family: rooms_rows(streams["rooms"], stop, model, labels, add)
                                          ["same_video_background"] for family, add in guards.items()}}
        judged[f"teach_{kind}"] = teach_rows(shared, teach, stops[kind], afters[kind], guards, model, labels)
    report["judged"] = judged
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
