"""USB/V4L2 cameras, video files and RTSP/HTTP streams, read through OpenCV."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import cv2

from utils.errors import ClassifierError
from utils.native_stderr import native_stderr_to_log
from utils.sampler import FrameSampler
from utils.sources.frame import ClosingSource, Frame

log = logging.getLogger(__name__)


def is_url(spec: str) -> bool:
    return "://" in spec


class OpenCVSource(ClosingSource):
    """A USB/V4L2 camera (int id), a video file or an RTSP/HTTP URL, read through OpenCV.

    File timestamps come from the container (so sampling is the same at any decode speed);
    cameras and network streams are stamped on arrival with a monotonic clock.
    """

    def __init__(self, spec: int | str, width: int = 640, height: int = 480, realtime: bool = False) -> None:
        self.spec = spec
        self.is_camera = isinstance(spec, int)
        self.is_file = not self.is_camera and not is_url(str(spec))
        self.realtime = realtime and self.is_file
        if self.is_file and not Path(str(spec)).is_file():
            raise ClassifierError(f"video file not found: {spec}")
        with native_stderr_to_log():  # OpenCV prints its own warnings for a missing camera
            self._capture = self._open_file(str(spec)) if self.is_file else cv2.VideoCapture(spec)
        if not self._capture.isOpened():
            self._capture.release()
            raise ClassifierError(self._open_error())
        if self.is_camera:
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a stale queue
        self.nominal_fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        size = f"{int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
        kind = "camera" if self.is_camera else "video" if self.is_file else "stream"
        self.description = f"{kind} {spec} ({size}, {self.nominal_fps:.1f} fps)"
        self._index = 0
        self._start: float | None = None
        self._closed = False

    @staticmethod
    def _open_file(path: str) -> cv2.VideoCapture:
        """FFmpeg with one decoding thread, else whatever backend opens it.

        FFmpeg's own threads would be created here, on the caller's thread and outside the capture
        thread's lower priority, and for small videos they cost a quarter more CPU per frame
        (0.56 vs 0.43 ms on the 340x256 test clip) for no gain: the prefetch thread already overlaps
        decoding with inference. OpenCV 4.6 (Debian's, on 32-bit Pi OS) has no CAP_PROP_N_THREADS.
        """
        n_threads = getattr(cv2, "CAP_PROP_N_THREADS", None)
        capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG, [n_threads, 1] if n_threads is not None else [])
        if capture.isOpened():
            return capture
        capture.release()
        return cv2.VideoCapture(path)

    def _open_error(self) -> str:
        if self.is_camera:
            return (f"cannot open camera {self.spec} (/dev/video{self.spec}): not connected, or busy in "
                    "another program; list cameras with 'v4l2-ctl --list-devices'")
        if self.is_file:
            return f"cannot open video {self.spec}: not a video format OpenCV can read"
        return f"cannot open stream {self.spec}: check the URL and that the server is reachable"

    def read(self) -> Frame | None:
        ok, image = self._capture.read()
        if not ok:
            if self.is_file:
                return None
            raise ClassifierError(f"{self.description} stopped delivering frames (unplugged?)")
        now = time.monotonic()
        if self._start is None:
            self._start = now
        if self.is_file:
            timestamp = self._file_timestamp()
            if self.realtime:  # play at the file's own speed
                delay = self._start + timestamp - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        else:
            timestamp = now - self._start
        frame = Frame(image, timestamp, self._index)
        self._index += 1
        return frame

    def _file_timestamp(self) -> float:
        return container_timestamp(self._capture, self._index, self.nominal_fps)

    @property
    def frame_bytes(self) -> int:
        """The size of one decoded BGR frame, for the prefetch queue's memory budget."""
        width = self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)
        height = self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
        return int(width * height) * 3

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._capture.release()


def container_timestamp(capture: cv2.VideoCapture, index: int, fps: float) -> float:
    """Seconds of the frame just read, from the container; frame index / fps where it has no timestamps."""
    position_ms = capture.get(cv2.CAP_PROP_POS_MSEC)
    if position_ms > 0 or index == 0 or not fps:
        return position_ms / 1000.0
    return index / fps


def sampled_frames(path: str | Path, fps: float) -> Iterator[Frame]:
    """The frames of a video file that the app would classify at `fps` (picked by their timestamps)."""
    sampler = FrameSampler(fps)
    with OpenCVSource(str(path)) as source:
        while (frame := source.read()) is not None:
            if sampler.should_classify(frame.timestamp):
                yield frame
