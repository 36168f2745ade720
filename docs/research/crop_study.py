"""Cropping to the moving part of the picture (docs/research/short-actions.md, "A crop around what moves"): does
the model name a clip sooner, or more often, when it sees only where the picture moves?

    python docs/research/crop_study.py shared,val > crop.jsonl

Per clip, three runs of `classify.py --video CLIP --json` (the defaults, a fresh stream from the clip's first
frame): the whole picture; the centred square (the picture's aspect kept); and the box around what moves over
the whole clip (`--crop`). Prints one JSON line per clip: the box, and per run the first classified frame whose
top-1 is the clip's label ("floor") and the top-1 share from the third second on ("share").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.long_stream import FPS, clip_set  # noqa: E402

THUMB = (160, 120)   # the motion box is looked for on a thumbnail of this size
CHANGED = 20         # grey levels: a thumbnail pixel that moves more than this between classified frames moved
OFTEN = 0.05         # a pixel is part of the moving area when it moved on at least this share of frame pairs
PERCENTILES = (2, 98)  # the box spans these percentiles of the moving pixels' positions (a stray pixel is not it)
MARGIN = 0.15        # and is widened by this share of its size on each side


def frames_at_fps(path: Path) -> list[np.ndarray]:
    """The clip's frames at the app's rate, by timestamp, as the app samples a file."""
    capture = cv2.VideoCapture(str(path))
    rate = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames, index, due = [], 0, 0.0
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        if index / rate + 1e-9 >= due:
            frames.append(frame)
            due += 1 / FPS
        index += 1


def motion_box(frames: list[np.ndarray]) -> tuple[float, float, float, float] | None:
    """X, Y, W, H (fractions) of where the picture moves over the clip; None when almost nothing does."""
    grey = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), THUMB).astype(np.int16) for f in frames]
    moved = sum((np.abs(a - b) > CHANGED).astype(np.float32) for a, b in zip(grey, grey[1:]))
    ys, xs = np.nonzero(moved >= max(1.0, OFTEN * len(grey)))
    if len(xs) < 20:
        return None
    (x0, x1), (y0, y1) = np.percentile(xs, PERCENTILES) / THUMB[0], np.percentile(ys, PERCENTILES) / THUMB[1]
    w, h = x1 - x0, y1 - y0
    x0, y0 = max(0.0, x0 - MARGIN * w), max(0.0, y0 - MARGIN * h)
    x1, y1 = min(1.0, x1 + MARGIN * w), min(1.0, y1 + MARGIN * h)
    return x0, y0, x1 - x0, y1 - y0


def centred_square(frame: np.ndarray) -> tuple[float, float, float, float]:
    h, w = frame.shape[:2]
    return ((w - h) / 2 / w, 0.0, h / w, 1.0) if w >= h else (0.0, (h - w) / 2 / h, 1.0, w / h)


def top1s(path: Path, crop: tuple[float, ...] | None) -> list[str | None]:
    command = [sys.executable, str(ROOT / "classify.py"), "--video", str(path), "--json", "--display", "none",
               "--num-threads", "1"]
    if crop:
        command += ["--crop", ",".join(f"{v:.4f}" for v in crop)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
    return [(json.loads(line)["results"] or [{"label": None}])[0]["label"] for line in done.stdout.splitlines()]


def scored(tops: list[str | None], label: str) -> dict:
    later = tops[2 * FPS:]
    return {"floor": next((i for i, top in enumerate(tops) if top == label), None),
            "share": round(sum(top == label for top in later) / max(1, len(later)), 3), "frames": len(tops)}


def main() -> None:
    for label, path in clip_set(sys.argv[1] if len(sys.argv) > 1 else "shared,val").items():
        frames = frames_at_fps(path)
        box = motion_box(frames)
        row: dict = {"clip": label, "box": [round(v, 3) for v in box] if box else None}
        for name, crop in (("whole", None), ("square", centred_square(frames[0])), ("moving", box)):
            row[name] = scored(top1s(path, crop), label) if name == "whole" or crop else row["whole"]
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
