"""A change by novelty (docs/research/short-actions.md, "A change by novelty"): the app's StreamClassifier run in
process on looped clips and short triples, for change-test variants.

    python docs/research/novelty_study.py shared default novel0.4 novel0.4+only floor0.6+confirm20 > shared.jsonl
    python docs/research/novelty_study.py val default novel0.4 > val.jsonl

A variant is `default` or parts joined by `+`: `novelN` (a change also when the recent 2 s are more than N from
every 2 s stretch of the segment), `afterN` (the segment's age in frames before novelty may fire; default 30),
`only` (novelty replaces the drift test: the drift's bar is never passed), `floorN` (young_floor), `confirmN`,
`settleN` (settle N frames for 20). Frames as in seen_study.py (5 fps, 172x172, JPEG q95). Prints one JSON line per
clip looped 5 min (hold over the last 60 s, changes), per triple (A, B, A of 20 s each: delays into B and back to
A, each with the floor: the delay of a fresh stream on that clip) and a summary line per variant.
"""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
import sys
from itertools import permutations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from seen_study import HOLD_FRAMES, LOOP_FRAMES, camera_frames, looped, run  # noqa: E402

from benchmarks.long_stream import CLIP_SETS, FPS, SECOND_SECONDS, SHORT_SECONDS  # noqa: E402
from benchmarks.paths import LABELS, MODEL  # noqa: E402
from utils.model.head_window import ChangeTest  # noqa: E402
from utils.model.labels import load_labels  # noqa: E402
from utils.model.runtime import load_runtime  # noqa: E402
from utils.model.stream_classifier import StreamClassifier  # noqa: E402

NEVER = 1e9  # a drift bar no drift passes


def change_test(variant: str) -> ChangeTest:
    """The app's change test at FPS with the variant's parts (see the module docstring)."""
    test = ChangeTest.at_rate(FPS)
    for part in variant.split("+"):
        name, value = re.fullmatch(r"([a-z]+)([0-9.]*)", part).groups()  # type: ignore[union-attr]
        if name == "default":
            continue
        if name == "novel":
            test = dataclasses.replace(test, novel=float(value))
        elif name == "after":
            test = dataclasses.replace(test, novel_after=int(value))
        elif name == "only":
            test = dataclasses.replace(test, margin=NEVER, young_threshold=NEVER, young_floor=NEVER)
        elif name == "floor":
            test = dataclasses.replace(test, young_floor=float(value))
        elif name == "confirm":
            test = dataclasses.replace(test, confirm=int(value))
        elif name == "settle":
            test = dataclasses.replace(test, settle=int(value))
        else:
            raise SystemExit(f"novelty_study.py: unknown variant part {part!r}")
    return test


def delays_summary(rows: list[dict]) -> dict:
    delays = [(r["into"], r["floor_b"]) for r in rows] + [(r["back"], r["floor_a"]) for r in rows]
    known = sorted(d for d, _ in delays if d is not None)
    return {"median": statistics.median(known), "p90": known[round(0.9 * (len(known) - 1))],
            "max": known[-1] if len(known) == len(delays) else None, "never": len(delays) - len(known),
            "within_15": round(sum(d is not None and d <= 15 for d, _ in delays) / len(delays), 4),
            "within_floor_10": round(sum(d is not None and f is not None and d <= f + 10 for d, f in delays)
                                     / len(delays), 4)}


def main() -> None:
    set_name, variants = sys.argv[1], sys.argv[2:]
    labels = load_labels(LABELS)
    frames = {label: camera_frames(path) for label, path in CLIP_SETS[set_name]().items()}
    classifier = StreamClassifier(MODEL, 1, load_runtime("auto"))
    classifier.set_window(60, ChangeTest.at_rate(FPS))
    floors = {}  # as long_stream's fresh_start_delay: the clip looped for 30 s from a fresh stream
    for label, clip in frames.items():
        tops = run(classifier, looped(clip, SECOND_SECONDS * FPS))
        floors[label] = next((i for i, top in enumerate(tops) if labels[top] == label), None)
    print(json.dumps({"floors": floors}), flush=True)
    part = SHORT_SECONDS * FPS
    for variant in variants:
        classifier.set_window(60, change_test(variant))
        loops = []
        for label, clip in frames.items():
            tops = run(classifier, looped(clip, LOOP_FRAMES))
            hold = sum(labels[t] == label for t in tops[-HOLD_FRAMES:]) / HOLD_FRAMES
            loops.append({"variant": variant, "clip": label, "hold": round(hold, 3),
                          "changes": classifier.window.changes - classifier.window.undone})
            print(json.dumps(loops[-1]), flush=True)
        triples = []
        for a, b in permutations(frames, 2):
            tops = run(classifier, looped(frames[a], part) + looped(frames[b], part) + looped(frames[a], part))
            into = next((i - part for i in range(part, 3 * part) if labels[tops[i]] == b), None)
            back = next((i - 2 * part for i in range(2 * part, 3 * part) if labels[tops[i]] == a), None)
            triples.append({"variant": variant, "a": a, "b": b, "into": into, "back": back,
                            "floor_a": floors[a], "floor_b": floors[b]})
            print(json.dumps(triples[-1]), flush=True)
        print(json.dumps({"variant": variant, "summary": True, "hold_min": min(r["hold"] for r in loops),
                          "changes_max": max(r["changes"] for r in loops),
                          "changes": sum(r["changes"] for r in loops), **delays_summary(triples)}), flush=True)


if __name__ == "__main__":
    main()
