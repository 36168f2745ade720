"""What the motion gate saves and costs: the app's CPU on still and moving video, results with and without it.

    nice -n 10 python -m benchmarks.motion                 # everything (about 15 minutes on 2 cores)
    python -m benchmarks.motion --parts cpu,gate --runs 3

Prints one JSON object.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

STILL_FPS = 30  # a camera's rate: the app samples 5 of these a second


def first_frame(clip: Path, at_seconds: float = 0.0) -> np.ndarray:
    """One frame of a clip (BGR), `at_seconds` into it."""
    capture = cv2.VideoCapture(str(clip))
    capture.set(cv2.CAP_PROP_POS_MSEC, at_seconds * 1000)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise RuntimeError(f"cannot read a frame of {clip}")
    return frame


def write_still_clip(path: Path, frame: np.ndarray, seconds: float, fps: float = STILL_FPS, noise: float = 0.0,
                     ramp: float = 0.0, flicker: float = 0.0, seed: int = 0) -> Path:
    """`frame` held for `seconds`, as a camera in a still room sends it: sensor noise (Gaussian, `noise` grey
    levels per pixel, new every frame), a slow brightness ramp (the picture `ramp` times brighter at the end
    than at the start, e.g. 0.3 = +30 %, as daylight changes) and auto-exposure flicker (the brightness steps by
    up to +-`flicker` every second, as an exposure loop hunts). Written as MJPG, so JPEG's block artefacts come
    on top, changing with the noise."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (frame.shape[1], frame.shape[0]))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 75)
    rng = np.random.default_rng(seed)
    base = frame.astype(np.float32)
    count = round(seconds * fps)
    exposure = 1.0
    for i in range(count):
        if flicker and i % round(fps) == 0:
            exposure = 1.0 + rng.uniform(-flicker, flicker)
        gain = (1.0 + ramp * i / max(1, count - 1)) * exposure
        image = base * gain
        if noise:
            image += rng.normal(0.0, noise, image.shape).astype(np.float32)
        writer.write(np.clip(image, 0, 255).astype(np.uint8))
    writer.release()
    return path
