"""What the full-screen window costs the classifying thread, with and without its refresh cap.

    python benchmarks/window_refresh.py [--frames 300] [--screen 1920x1080]

A 640x480 camera at 30 fps (a new result every 6th frame, as at --fps 5) shown full screen on a virtual X
screen (Xvfb) through the app's WindowSink: Qt scales each frame shown to the screen on the thread that calls
imshow/waitKey, which is the one that classifies. The frames' timestamps are simulated (30 fps), the time
each write() takes is real. Prints one JSON object: per run, the frames shown and the ms per camera frame.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from utils.results import Prediction, Result  # noqa: E402
from utils.sinks.base import Status, Update  # noqa: E402
from utils.sources.frame import Frame  # noqa: E402

CAMERA_FPS = 30.0
NEW_RESULT_EVERY = 6  # --fps 5 from a 30 fps camera


def start_xvfb(screen: str, noreset: bool = False) -> tuple[subprocess.Popen, str]:
    """A virtual X screen; -noreset keeps it from resetting when its last client leaves (see tests/conftest.py)."""
    binary = shutil.which("Xvfb")
    if binary is None:
        raise SystemExit("benchmarks/window_refresh.py: error: Xvfb is not installed (apt-get install xvfb)")
    read, write = os.pipe()
    extra = ["-noreset"] if noreset else []
    server = subprocess.Popen([binary, "-displayfd", str(write), *extra, "-screen", "0", f"{screen}x24",
                               "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as displayfd:
        number = displayfd.readline().strip()
    if not number:
        server.kill()
        raise SystemExit("benchmarks/window_refresh.py: error: Xvfb did not start")
    return server, f":{number}"


def frames(count: int) -> list[Update]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (480, 640, 3), np.uint8)  # noise: nothing for a scaler to shortcut
    updates = []
    for index in range(count):
        timestamp = index / CAMERA_FPS
        result = Result(index, timestamp, 40.0, (Prediction("carving ice", 0.9 - index % 7 / 100),))
        updates.append(Update(Frame(image, timestamp, index), result, index % NEW_RESULT_EVERY == 0,
                              Status(29.9, 5.0, 40.0, "movinet_a0_stream_int8", 4, 55.0, 60.0)))
    return updates


def run(updates: list[Update], max_rate: float) -> dict:
    from utils.sinks.window import WindowSink

    now = [0.0]
    sink = WindowSink(fullscreen=True, fullscreen_max_rate=max_rate, clock=lambda: now[0])
    sink.write(updates[0])  # opens the window
    time.sleep(1.0)         # lets the window manager-less server map it full screen
    ms: list[float] = []
    shown_ms: list[float] = []
    skipped_ms: list[float] = []
    for update in updates[1:]:
        now[0] = update.frame.timestamp
        before = sink.shown
        start = time.perf_counter()
        sink.write(update)
        elapsed = (time.perf_counter() - start) * 1000
        ms.append(elapsed)
        (shown_ms if sink.shown > before else skipped_ms).append(elapsed)
    sink.close()
    return {"frames": len(ms), "shown": len(shown_ms), "shown_per_s": round(len(shown_ms) / (len(ms) / CAMERA_FPS), 1),
            "ms_per_camera_frame_mean": round(statistics.mean(ms), 2),
            "ms_per_shown_frame_p50": round(statistics.median(shown_ms), 2),
            "ms_per_skipped_frame_p50": round(statistics.median(skipped_ms), 2) if skipped_ms else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="camera frames per run")
    parser.add_argument("--screen", default="1920x1080", help="the virtual screen's size")
    parser.add_argument("--runs", type=int, default=3, help="alternating runs of each (medians)")
    args = parser.parse_args()
    server, display = start_xvfb(args.screen)
    os.environ.update({"DISPLAY": display, "QT_QPA_PLATFORM": "xcb"})
    os.environ.pop("WAYLAND_DISPLAY", None)
    try:
        updates = frames(args.frames)
        results: dict[str, list[dict]] = {"uncapped": [], "capped": []}
        for _ in range(args.runs):
            results["uncapped"].append(run(updates, 1e9))
            results["capped"].append(run(updates, 15.0))
    finally:
        server.terminate()
        server.wait(10)

    def summary(runs: list[dict]) -> dict:
        """The median of each number over the runs."""
        return {key: None if runs[0][key] is None else statistics.median(r[key] for r in runs) for key in runs[0]}

    print(json.dumps({"screen": args.screen, "frame": "640x480", "camera_fps": CAMERA_FPS, "runs": args.runs,
                      "uncapped": summary(results["uncapped"]), "capped_15": summary(results["capped"])}))


if __name__ == "__main__":
    main()
