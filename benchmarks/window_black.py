"""How often the app's window stays black on a bare X server (Xvfb, no window manager).

    python benchmarks/window_black.py [--runs 24] [--results 15]

Each run starts its own Xvfb (-noreset, as the tests do), then `classify.py --display window` on the test clip,
waits for `--results` JSON lines (the window has been showing frames for a few seconds by then), reads the
window back with ImageMagick's `import` and counts it black when nearly all of it is. Also counts the runs in
which the app found its window unpainted and mapped it again (its log line). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.paths import DEFAULT_CLIP, LABELS, MODEL  # noqa: E402
from benchmarks.window_refresh import start_xvfb  # noqa: E402

TITLE = "Action classifier"
REMAPPED = "mapped it again"  # the app's line when Qt had not painted its window (utils/sinks/window.py)


def need(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"benchmarks/window_black.py: error: {name} is not installed")
    return path


def window_shot(display: str) -> np.ndarray | None:
    """The largest window with the app's title, as the X server has it (None while there is none)."""
    env = {**os.environ, "DISPLAY": display}
    ids = subprocess.run([need("xdotool"), "search", "--name", f"^{TITLE}$"], capture_output=True, text=True,
                         env=env).stdout.split()
    shots = []
    for wid in ids:
        done = subprocess.run([need("import"), "-window", wid, "png:-"], capture_output=True, env=env)
        if done.returncode == 0 and done.stdout:
            image = cv2.imdecode(np.frombuffer(done.stdout, np.uint8), cv2.IMREAD_COLOR)
            if image is not None and image.size > 100:
                shots.append(image)
    return max(shots, key=lambda image: image.size) if shots else None


def is_black(image: np.ndarray) -> bool:
    """Nearly every pixel dark: the video (a lit ice sculpture) and the overlay's white text are missing."""
    return float((image.max(axis=2) > 24).mean()) < 0.01


def one_run(results: int, screen: str) -> dict:
    server, display = start_xvfb(screen, noreset=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY")}
    env.update({"DISPLAY": display, "QT_QPA_PLATFORM": "xcb"})
    command = [sys.executable, str(REPO / "classify.py"), "--model", str(MODEL), "--labels", str(LABELS),
               "--video", str(DEFAULT_CLIP), "--realtime", "--display", "window", "--json"]
    log = tempfile.TemporaryFile("w+")
    app = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=REPO)
    try:
        seen = 0
        assert app.stdout is not None
        for line in app.stdout:  # bounded: the clip ends
            seen += line.startswith("{")
            if seen >= results:
                break
        shot = window_shot(display)
        log.seek(0)
        return {"results": seen, "window": shot is not None, "black": shot is None or is_black(shot),
                "lit": None if shot is None else round(float((shot.max(axis=2) > 24).mean()), 3),
                "remapped": log.read().count(REMAPPED)}
    finally:
        log.close()
        app.terminate()
        try:
            app.wait(30)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=24)
    parser.add_argument("--results", type=int, default=15, help="JSON lines to wait for before reading the window")
    parser.add_argument("--screen", default="1280x720")
    args = parser.parse_args()
    start = time.monotonic()
    runs = [one_run(args.results, args.screen) for _ in range(args.runs)]
    print(json.dumps({"runs": args.runs, "black": sum(r["black"] for r in runs),
                      "no_window": sum(not r["window"] for r in runs),
                      "runs_remapped": sum(r["remapped"] > 0 for r in runs), "remaps": sum(r["remapped"] for r in runs),
                      "lit": [r["lit"] for r in runs], "seconds": round(time.monotonic() - start)}))


if __name__ == "__main__":
    main()
