"""Clip files: H.264 MP4 that browsers and OpenCV play, written by PyAV (libx264), else by OpenCV.

The format is chosen once, by what this machine can write (see README, Events: clips):
1. PyAV's libx264, ultrafast: about 2 ms a 640x480 frame here, and every browser plays it;
2. OpenCV's 'avc1' (H.264), where its FFmpeg has an H.264 encoder (pip's opencv-python has none);
3. OpenCV's 'mp4v' (MPEG-4 part 2): plays in OpenCV and VLC but not in Chrome or Firefox, so it warns.
OpenCV's VP8 'VP80' would play in a browser, but took 48 ms of CPU per 640x480 frame here: it cannot keep
up with a 30 fps camera, so it is not used.

PyAV's clips are fragmented MP4 with a keyframe every second: each second is written out as a self-contained
fragment, so a clip cut short by a kill or a power loss still plays up to its last second or so (a plain MP4
is unplayable until its index is written at the end). Browsers, OpenCV and VLC play fragmented MP4 alike.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from utils.native_stderr import native_stderr_to_log

log = logging.getLogger(__name__)

CLOCK = 90000  # ticks per second of the clips' timestamps (the MPEG clock)
X264_OPTIONS = {"preset": "ultrafast", "crf": "26"}  # ultrafast: Constrained Baseline, plays everywhere
KEYFRAME_SECONDS = 1.0  # a fragment closes at each keyframe: at most this much (plus the encoder's delay) is lost
FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof"  # the mov muxer's fragmented MP4, as MSE players use


class ClipWriter(Protocol):
    def write(self, image: np.ndarray, timestamp: float) -> None:
        """Adds a BGR frame shown at `timestamp` (seconds of the source; increasing)."""

    def close(self) -> None:
        """Finishes the file (flushes the encoder and writes the index)."""

    def sync(self) -> None:
        """Makes what was written so far survive a power loss (fsync)."""


def even_crop(image: np.ndarray) -> np.ndarray:
    """H.264 in 4:2:0 needs even sides: drops the last row or column of an odd-sized frame."""
    height, width = image.shape[:2]
    return image[: height & ~1, : width & ~1]


class PyAvClip:
    """H.264 by libx264 through PyAV, timed by the frames' own timestamps (gaps stay gaps)."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        import av

        rate = Fraction(fps or 30).limit_denominator(1001)
        # Unbuffered: the muxer writes each fragment out whole as it closes, and sync() can fsync it.
        self._file = path.open("wb", buffering=0)
        try:
            self._container = av.open(self._file, "w", format="mp4", options={"movflags": FRAGMENTED})
        except BaseException:
            self._file.close()
            raise
        try:
            keyint = str(max(1, round(rate * KEYFRAME_SECONDS)))
            self._stream = self._container.add_stream("libx264", rate=rate,
                                                      options={**X264_OPTIONS, "g": keyint, "keyint_min": keyint})
            self._stream.width, self._stream.height = size[0] & ~1, size[1] & ~1
            self._stream.pix_fmt = "yuv420p"
            self._stream.codec_context.time_base = Fraction(1, CLOCK)
        except BaseException:
            self._container.close()
            self._file.close()
            raise
        self._from_ndarray = av.VideoFrame.from_ndarray
        self._first: float | None = None
        self._last_pts = -1

    def write(self, image: np.ndarray, timestamp: float) -> None:
        if self._first is None:
            self._first = timestamp
        frame = self._from_ndarray(np.ascontiguousarray(even_crop(image)), format="bgr24")
        pts = max(self._last_pts + 1, round((timestamp - self._first) * CLOCK))  # strictly increasing
        frame.pts, frame.time_base, self._last_pts = pts, Fraction(1, CLOCK), pts
        self._container.mux(self._stream.encode(frame))

    def sync(self) -> None:
        os.fsync(self._file.fileno())

    def close(self) -> None:
        try:
            self._container.mux(self._stream.encode(None))  # flush the encoder's delayed frames
        finally:
            try:
                self._container.close()
            finally:
                self._file.close()


class OpenCvClip:
    """cv2.VideoWriter at a constant frame rate (it cannot take timestamps)."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float, fourcc: str) -> None:
        self.path = path
        with native_stderr_to_log():
            self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps or 30.0,
                                           (size[0] & ~1, size[1] & ~1))
        if not self._writer.isOpened():
            raise OSError(f"OpenCV cannot write {fourcc} video to {path}")

    def write(self, image: np.ndarray, timestamp: float) -> None:
        self._writer.write(np.ascontiguousarray(even_crop(image)))

    def sync(self) -> None:
        pass  # OpenCV's MP4 is unplayable until closed: nothing worth syncing before

    def close(self) -> None:
        self._writer.release()


@dataclass(frozen=True)
class ClipFormat:
    """How clips are written here: `open(path, (width, height), fps)` gives a ClipWriter."""

    name: str
    suffix: str
    open: Callable[[Path, tuple[int, int], float], ClipWriter]
    browser_plays: bool


def _pyav_h264() -> bool:
    try:
        import av

        av.codec.Codec("libx264", "w")
        return True
    except Exception as e:  # not installed, or an FFmpeg build without libx264
        log.debug("PyAV H.264: %s", e)
        return False


def _opencv_can_write(fourcc: str, folder: Path) -> bool:
    probe = folder / f".probe-{fourcc}.mp4"
    try:
        with native_stderr_to_log():
            writer = cv2.VideoWriter(str(probe), cv2.VideoWriter.fourcc(*fourcc), 30.0, (64, 64))
            ok = writer.isOpened()
            if ok:
                writer.write(np.zeros((64, 64, 3), np.uint8))
            writer.release()
        return ok
    finally:
        probe.unlink(missing_ok=True)


def choose_clip_format(folder: Path) -> ClipFormat:
    """The best format this machine can write; `folder` is where a probe file may be written."""
    if _pyav_h264():
        return ClipFormat("H.264 (PyAV libx264)", ".mp4", PyAvClip, True)
    if _opencv_can_write("avc1", folder):
        return ClipFormat("H.264 (OpenCV avc1)", ".mp4", lambda p, s, f: OpenCvClip(p, s, f, "avc1"), True)
    log.warning("clips are MPEG-4 part 2 (OpenCV mp4v): they play in VLC but not in a browser; install PyAV "
                "(pip install av) for H.264")
    return ClipFormat("MPEG-4 part 2 (OpenCV mp4v)", ".mp4", lambda p, s, f: OpenCvClip(p, s, f, "mp4v"), False)
