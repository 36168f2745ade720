"""The Pi camera through picamera2: a display-sized main stream and a small YUV420 stream for the model."""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol, runtime_checkable

import numpy as np

from utils.errors import ClassifierError
from utils.sources.frame import ClosingSource, Frame, FrameSource

log = logging.getLogger(__name__)


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


@runtime_checkable
class PiCameraSource(FrameSource, Protocol):
    """A source that is the Pi camera itself: its running Picamera2 is what the DRM preview shows."""

    camera: Any


class Picamera2Source(ClosingSource):
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
    def camera(self) -> Any:
        """The running Picamera2 (the DRM preview swaps its preview)."""
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
