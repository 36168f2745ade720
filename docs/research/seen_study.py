"""The change test's `seen` part (docs/research/short-actions.md, "A change must be new to the segment"): the
app's StreamClassifier run in process on looped clips and short triples, for several `seen` lengths.

    python docs/research/seen_study.py loops shared 0,100,150,200      # each clip looped 5 min: hold, changes
    python docs/research/seen_study.py triples shared 0,100,150,200    # A, B, A of 20 s each: the delays

Frames as benchmarks/long_stream.py makes them (5 fps, 172x172), through JPEG q95 (cv2.imencode, where the
benchmark writes MJPG), top-1 = the argmax of the window's probabilities. Prints one JSON line per clip or triple
and a summary line per `seen`.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
from itertools import permutations
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.long_stream import CLIP_SETS, FPS, SHORT_SECONDS, clip_frames  # noqa: E402
from benchmarks.paths import LABELS, MODEL  # noqa: E402
from utils.model.head_window import ChangeTest  # noqa: E402
from utils.model.labels import load_labels  # noqa: E402
from utils.model.runtime import load_runtime  # noqa: E402
from utils.model.stream_classifier import StreamClassifier  # noqa: E402

LOOP_FRAMES = 5 * 60 * FPS  # 5 minutes
HOLD_FRAMES = 60 * FPS      # the hold: the last 60 s


def camera_frames(path: Path) -> list[np.ndarray]:
    """The clip's frames as the app would get them from the benchmark's MJPG video: RGB, JPEG q95."""
    out = []
    for frame in clip_frames(path):
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        out.append(cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
    return out


def run(classifier: StreamClassifier, frames: list[np.ndarray]) -> list[int]:
    classifier.reset()
    return [int(np.argmax(classifier.classify(f))) for f in frames]


def looped(frames: list[np.ndarray], count: int) -> list[np.ndarray]:
    return [frames[i % len(frames)] for i in range(count)]


def main() -> None:
    mode, set_name, seens = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split(",")]
    labels = load_labels(LABELS)
    clips = CLIP_SETS[set_name]()
    frames = {label: camera_frames(path) for label, path in clips.items()}
    classifier = StreamClassifier(MODEL, 1, load_runtime("auto"))
    for seen in seens:
        test = dataclasses.replace(ChangeTest.at_rate(FPS), seen=seen)
        classifier.set_window(60, test)
        rows = []
        if mode == "loops":
            for label, clip in frames.items():
                tops = run(classifier, looped(clip, LOOP_FRAMES))
                hold = sum(labels[t] == label for t in tops[-HOLD_FRAMES:]) / HOLD_FRAMES
                row = {"seen": seen, "clip": label, "hold": round(hold, 3), "changes": classifier.window.changes}
                rows.append(row)
                print(json.dumps(row), flush=True)
            print(json.dumps({"seen": seen, "summary": "loops", "hold_min": min(r["hold"] for r in rows),
                              "hold_mean": round(statistics.mean(r["hold"] for r in rows), 4),
                              "changes": sum(r["changes"] for r in rows),
                              "clips_over_2_changes": [r["clip"] for r in rows if r["changes"] > 2]}), flush=True)
        else:
            part = SHORT_SECONDS * FPS
            for a, b in permutations(frames, 2):
                tops = run(classifier, looped(frames[a], part) + looped(frames[b], part) + looped(frames[a], part))
                into = next((i - part for i in range(part, 3 * part) if labels[tops[i]] == b), None)
                back = next((i - 2 * part for i in range(2 * part, 3 * part) if labels[tops[i]] == a), None)
                row = {"seen": seen, "a": a, "b": b, "into": into, "back": back}
                rows.append(row)
                print(json.dumps(row), flush=True)
            delays = [r["into"] for r in rows] + [r["back"] for r in rows]
            known = sorted(d for d in delays if d is not None)
            print(json.dumps({"seen": seen, "summary": "triples", "median": statistics.median(known),
                              "max": known[-1] if len(known) == len(delays) else None,
                              "never": len(delays) - len(known),
                              "within_15": round(sum(d is not None and d <= 15 for d in delays) / len(delays), 4)}),
                  flush=True)


if __name__ == "__main__":
    main()
