"""What the overlay costs to draw: p50 ms per frame, with a new result on every frame and with the same one.

    python benchmarks/overlay.py [--calls 400]
    git show <commit>:utils/sinks/overlay.py > /tmp/old.py && python benchmarks/overlay.py --module /tmp/old.py

Prints one JSON object. "new_result" is what every classified frame pays (the scores change), "same_result"
what the frames in between pay; "rgba" is overlay_rgba, which picamera2's DRM preview draws for each result.
--module times another version of utils/sinks/overlay.py with the same calls, for before/after comparisons.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from utils.results import Prediction  # noqa: E402
from utils.sinks.base import Status  # noqa: E402

SIZES = ((640, 480), (1920, 1080))
WARM_UP = 50  # calls left out: the first of each score fills the caches
STATUS = Status(29.8, 5.0, 42.3, "movinet_a0_stream_int8", 4, 61.2, 87.0)
LABELS = ("arm wrestling", "shaking hands", "headbutting")


def load(path: Path | None) -> ModuleType:
    if path is None:
        from utils.sinks import overlay

        return overlay
    spec = importlib.util.spec_from_file_location("overlay_under_test", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"benchmarks/overlay.py: error: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def predictions(i: int, changing: bool) -> tuple[Prediction, ...]:
    """Three fixed labels; with `changing`, the top score walks through 60..95 % as a live stream's does."""
    top = 0.60 + (i % 36) / 100 if changing else 0.93
    return tuple(Prediction(label, score) for label, score in zip(LABELS, (top, (1 - top) * 0.7, (1 - top) * 0.3)))


def p50_ms(samples: list[float]) -> float:
    return round(statistics.median(samples[WARM_UP:]) * 1000.0, 3)


def time_draw(overlay: ModuleType, size: tuple[int, int], changing: bool, calls: int) -> float:
    width, height = size
    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8)
    renderer = overlay.OverlayRenderer()
    samples = []
    for i in range(calls + WARM_UP):
        image = frame.copy()  # a fresh camera frame, as in the app (not timed)
        start = time.perf_counter()
        renderer.draw(image, predictions(i, changing), STATUS)
        samples.append(time.perf_counter() - start)
    return p50_ms(samples)


def time_rgba(overlay: ModuleType, size: tuple[int, int], calls: int) -> float:
    samples = []
    for i in range(calls + WARM_UP):
        start = time.perf_counter()
        overlay.overlay_rgba(size, predictions(i, True), STATUS)
        samples.append(time.perf_counter() - start)
    return p50_ms(samples)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/overlay.py", description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=400, help="timed calls per measurement")
    p.add_argument("--module", type=Path, help="another overlay.py to time instead of utils/sinks/overlay.py")
    args = p.parse_args(argv)
    if args.calls < 1:
        p.error("--calls must be 1 or more")
    if args.module is not None and not args.module.is_file():
        p.error(f"no such file: {args.module}")
    overlay = load(args.module)
    report: dict[str, object] = {"module": str(args.module or "utils/sinks/overlay.py"), "calls": args.calls}
    for size in SIZES:
        report[f"{size[0]}x{size[1]}"] = {"new_result": time_draw(overlay, size, True, args.calls),
                                          "same_result": time_draw(overlay, size, False, args.calls)}
    report["rgba_640x480"] = time_rgba(overlay, SIZES[0], args.calls)
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
