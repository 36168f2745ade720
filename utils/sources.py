"""Frame sources: Pi camera (picamera2), USB camera / video file / URL (OpenCV), and a synthetic one."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from utils.config import Config
from utils.errors import ClassifierError
from utils.native_stderr import native_stderr_to_log
from utils.sampler import FrameSampler

log = logging.getLogger(__name__)


@dataclass
class Frame:
    """One captured frame. `image` is BGR (what OpenCV draws and shows); timestamps are seconds."""

    image: np.ndarray
    timestamp: float
    index: int
    lores: np.ndarray | None = None  # a small I420 (YUV420) frame for the model, from picamera2

    def model_rgb(self, size: tuple[int, int]) -> np.ndarray:
        """The frame as RGB for the model, shrunk before the colour conversion so little work is done."""
        if self.lores is not None:
            return cv2.cvtColor(self.lores, cv2.COLOR_YUV2RGB_I420)
        small = cv2.resize(self.image, size, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


class FrameSource(Protocol):
    description: str
    nominal_fps: float  # 0 when unknown

    def read(self) -> Frame | None:
        """The next frame, or None at the end of a file."""

    def close(self) -> None: ...


class _ClosingSource:
    """Context-manager plumbing shared by the sources: `with` closes them."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError


def is_url(spec: str) -> bool:
    return "://" in spec


class OpenCVSource(_ClosingSource):
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
        decoding with inference.
        """
        capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
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
        position_ms = self._capture.get(cv2.CAP_PROP_POS_MSEC)
        if position_ms > 0 or self._index == 0 or not self.nominal_fps:
            return position_ms / 1000.0
        return self._index / self.nominal_fps  # a container without timestamps

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._capture.release()


def sampled_frames(path: str | Path, fps: float) -> Iterator[Frame]:
    """The frames of a video file that the app would classify at `fps` (picked by their timestamps)."""
    sampler = FrameSampler(fps)
    with OpenCVSource(str(path)) as source:
        while (frame := source.read()) is not None:
            if sampler.should_classify(frame.timestamp):
                yield frame


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def lores_size(main: tuple[int, int], model: tuple[int, int]) -> tuple[int, int]:
    """The smallest main-shaped size that still covers the model's input, width a multiple of 64.

    Both sides must be at least the model's, so the model never sees upscaled pixels; a width of
    64 keeps the YUV420 rows unpadded so the planes can be read as one I420 array.
    """
    aspect = main[0] / main[1]
    width = max(model[0], model[1] * aspect)
    width = min(main[0], int(np.ceil(width / 64)) * 64)
    return width, min(main[1], _even(width / aspect))


class Picamera2Source(_ClosingSource):
    """The Pi camera: a display-sized BGR main stream and a small YUV420 stream for the model.

    YUV420 is the only format the Pi 4 (VC4) can give on the lores stream; it works on the Pi 5 too,
    so one code path serves both. picamera2's "RGB888" arrays are BGR in memory, as OpenCV wants.
    """

    def __init__(self, width: int, height: int, model_size: tuple[int, int], camera_num: int = 0) -> None:
        from picamera2 import Picamera2  # imported here so utils works where picamera2 is absent

        self._lores_size = lores_size((width, height), model_size)
        try:
            self._camera = Picamera2(camera_num)
            config = self._camera.create_video_configuration(
                main={"size": (width, height), "format": "RGB888"},
                lores={"size": self._lores_size, "format": "YUV420"},
                buffer_count=4,
            )
            self._camera.configure(config)
            self._camera.start()
        except Exception as e:  # picamera2 raises RuntimeError/IndexError for busy or missing cameras
            raise ClassifierError(
                f"cannot start the Pi camera: {e}; is another program (rpicam-hello, libcamera) using it?") from e
        self.nominal_fps = 0.0
        lores_width, lores_height = self._lores_size
        self.description = (f"Pi camera {camera_num} ({width}x{height}, "
                            f"model stream {lores_width}x{lores_height} YUV420)")
        self._index = 0
        self._first_ns: int | None = None
        self._closed = False

    @property
    def camera(self):
        return self._camera

    def read(self) -> Frame | None:
        request = self._camera.capture_request()
        try:
            image = request.make_array("main")
            lores = request.make_array("lores")
            sensor_ns = request.get_metadata().get("SensorTimestamp", time.monotonic_ns())
        finally:
            request.release()
        if self._first_ns is None:
            self._first_ns = sensor_ns
        width, height = self._lores_size
        frame = Frame(image, (sensor_ns - self._first_ns) / 1e9, self._index,
                      lores=lores[: height * 3 // 2, :width])
        self._index += 1
        return frame

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._camera.stop()
            self._camera.close()


class SyntheticSource(_ClosingSource):
    """Generated frames with exact timestamps: a camera stand-in that needs no device."""

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0, frames: int = 90) -> None:
        self.width, self.height, self.nominal_fps, self.frames = width, height, fps, frames
        self.description = f"synthetic {width}x{height} at {fps:g} fps, {frames} frames"
        self._index = 0
        self.closed = False

    def read(self) -> Frame | None:
        if self.closed or self._index >= self.frames:
            return None
        # A bright square sweeping over a gradient: cheap, and different every frame.
        image = np.empty((self.height, self.width, 3), np.uint8)
        image[:] = np.linspace(0, 255, self.width, dtype=np.uint8)[None, :, None]
        side = max(8, self.height // 4)
        x = (self._index * 7) % max(1, self.width - side)
        image[self.height // 3: self.height // 3 + side, x: x + side] = (0, 200, 255)
        frame = Frame(image, self._index / self.nominal_fps, self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        self.closed = True


def picamera2_available() -> bool:
    """True when picamera2 imports and libcamera sees at least one camera."""
    try:
        from picamera2 import Picamera2
    except ImportError:
        return False
    try:
        return bool(Picamera2.global_camera_info())
    except Exception as e:  # a broken libcamera install should not stop the USB-camera fallback
        log.debug("picamera2 camera query failed: %s", e)
        return False


def prefetched(source: OpenCVSource) -> FrameSource:
    """Decodes on a capture thread: a file loses no frame, a camera or stream keeps its newest."""
    from utils.prefetch import FILE_NICENESS, PrefetchSource

    capture = source._capture
    frame_bytes = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) * capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) * 3
    # Only a file's decoder yields to the model: a camera's frames are stamped on arrival, and a
    # starved capture thread would stamp them late.
    return PrefetchSource(source, live=not source.is_file, frame_bytes=frame_bytes,
                          niceness=FILE_NICENESS if source.is_file else 0)


def open_source(config: Config, model_size: tuple[int, int]) -> FrameSource:
    """Picks the source from the flags: --video, --camera-id, else the Pi camera, else camera 0.

    OpenCV sources are read on their own thread (picamera2 already captures on its own).
    """
    if config.video is not None:
        return prefetched(OpenCVSource(config.video, realtime=config.realtime))
    if config.camera_id is not None:
        return prefetched(OpenCVSource(config.camera_id, config.width, config.height))
    if picamera2_available():
        return Picamera2Source(config.width, config.height, model_size)
    log.debug("no Pi camera found through picamera2; trying USB camera 0")
    try:
        return prefetched(OpenCVSource(0, config.width, config.height))
    except ClassifierError as e:
        raise ClassifierError(
            "no camera found: no Pi camera (picamera2) and no USB camera 0; connect one, "
            "or classify a file with --video PATH") from e
