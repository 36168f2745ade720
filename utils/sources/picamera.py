"""The Pi camera through picamera2: a display-sized main stream and a small YUV420 stream for the model."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol, runtime_checkable

import numpy as np

from utils.errors import ClassifierError
from utils.sources.demand import Demand
from utils.sources.frame import ClosingSource, Frame, FrameSource

log = logging.getLogger(__name__)

FRAME_TIMEOUT = 10.0  # seconds without a frame before the camera counts as stopped (a first frame takes < 1 s)


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def lores_size(main: tuple[int, int], model: tuple[int, int]) -> tuple[int, int]:
    """The smallest main-shaped size that still covers the model's input, width a multiple of 64.

    Both sides must be at least the model's, so the model never sees upscaled pixels. 64 is the Pi 4
    ISP's YUV420 row alignment, so its rows come unpadded; the Pi 5 pads rows to 128 bytes, which
    Frame.model_rgb crops off after the colour conversion.
    """
    aspect = main[0] / main[1]
    width = max(model[0], model[1] * aspect)
    width = min(main[0], int(np.ceil(width / 64)) * 64)
    return width, min(main[1], _even(width / aspect))


def pi_cameras(info: list[dict[str, Any]]) -> list[int]:
    """Indexes in global_camera_info() of the cameras on the camera connector.

    libcamera also lists USB webcams (their ids contain the USB controller's '/usb' node), but its UVC
    pipeline gives one stream, not the main + lores this source needs: OpenCV reads those instead.
    Early picamera2 (0.3.12) does not sort the USB ones last, so index 0 is not always a Pi camera.
    """
    return [index for index, camera in enumerate(info) if "/usb" not in str(camera.get("Id", ""))]


def next_request(camera: Any, timeout: float) -> Any | None:
    """The camera's next completed request, or None when none comes within `timeout` seconds.

    capture_request(wait=seconds) exists only since picamera2 0.3.20 (Bookworm started with 0.3.12), so
    this waits for the job's signal instead. A request that comes after the wait gave up is released, and
    pending jobs are cancelled where picamera2 can (cancel_all_and_flush), so the camera can still stop.
    """
    arrived = threading.Event()
    lock = threading.Lock()
    gave_up = False

    def on_signal(job: Any) -> None:  # runs on picamera2's event-loop thread
        with lock:
            arrived.set()
            late = gave_up
        if late:
            try:
                camera.wait(job).release()
            except Exception as e:  # must not kill the event loop
                log.debug("releasing a late request: %s", e)

    job = camera.capture_request(signal_function=on_signal)
    if not arrived.wait(timeout):
        with lock:
            gave_up = not arrived.is_set()
        if gave_up:
            cancel = getattr(camera, "cancel_all_and_flush", None)
            if cancel is not None:
                cancel()
            return None
    return camera.wait(job)


@runtime_checkable
class PiCameraSource(FrameSource, Protocol):
    """A source that is the Pi camera itself: its running Picamera2 is what the DRM preview shows."""

    camera: Any


class Picamera2Source(ClosingSource):
    """The Pi camera: a display-sized BGR main stream and a small YUV420 stream for the model.

    YUV420 is the only format the Pi 4 (VC4) can give on the lores stream; it works on the Pi 5 too,
    so one code path serves both. picamera2's "RGB888" arrays are BGR in memory, as OpenCV wants.
    """

    def __init__(self, width: int, height: int, model_size: tuple[int, int], camera_num: int | None = None,
                 frame_timeout: float = FRAME_TIMEOUT) -> None:
        # imported here so utils works where picamera2 is absent; python3-libcamera comes with it
        from libcamera import ColorSpace
        from picamera2 import Picamera2

        self.frame_timeout = frame_timeout
        try:
            if camera_num is None:
                camera_num = next(iter(pi_cameras(Picamera2.global_camera_info())), 0)
            self._camera = Picamera2(camera_num)
            config = self._camera.create_video_configuration(
                main={"size": (width, height), "format": "RGB888"},
                lores={"size": lores_size((width, height), model_size), "format": "YUV420"},
                # picamera2 picks Rec.709 for mains from 1280x720 up, but OpenCV's I420 conversion is
                # BT.601 (what Smpte170m encodes); the RGB main looks the same either way.
                colour_space=ColorSpace.Smpte170m(),
            )  # picamera2's default buffer_count (6): the preview and the queue each hold one
            self._camera.configure(config)
            self._camera.start()
        except Exception as e:  # picamera2 raises RuntimeError/IndexError for busy or missing cameras
            raise ClassifierError(
                f"cannot start the Pi camera: {e}; is another program (rpicam-hello, libcamera) using it?") from e
        # What libcamera configured, not what was asked: it may change the size, and the Pi 5 pads rows.
        lores = self._camera.camera_configuration()["lores"]
        self._lores_width, lores_height = lores["size"]
        self.nominal_fps = 0.0
        self.description = (f"Pi camera {camera_num} ({width}x{height}, "
                            f"model stream {self._lores_width}x{lores_height} YUV420)")
        self._index = 0
        self._first_ns: int | None = None
        self._demand: Demand | None = None
        self._closed = False

    @property
    def camera(self) -> Any:
        """The running Picamera2 (the DRM preview swaps its preview)."""
        return self._camera

    def set_demand(self, demand: Demand | None) -> None:
        self._demand = demand

    def read(self) -> Frame | None:
        """The next frame the demand wants: a frame nobody needs goes back to the camera uncopied."""
        while True:
            request = next_request(self._camera, self.frame_timeout)
            if request is None:
                raise ClassifierError(f"the Pi camera sent no frame for {self.frame_timeout:g} s: check its cable, "
                                      "and that nothing else (a desktop on the monitor?) took the screen or the "
                                      "camera")
            try:
                sensor_ns = request.get_metadata().get("SensorTimestamp", time.monotonic_ns())
                if self._first_ns is None:
                    self._first_ns = sensor_ns
                timestamp = (sensor_ns - self._first_ns) / 1e9
                due = self._demand.due(timestamp) if self._demand else None
                index = self._index
                self._index += 1
                if self._demand and not self._demand.wanted(bool(due)):
                    continue  # the finally below hands the buffers back
                image = request.make_array("main")
                lores = request.make_array("lores")  # (height * 3/2, stride): the rows keep their padding
            finally:
                request.release()
            return Frame(image, timestamp, index, lores=lores, lores_width=self._lores_width, due=due)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._camera.stop()
            self._camera.close()


def picamera2_available() -> bool:
    """True when picamera2 imports and libcamera sees a camera on the camera connector (not a USB one)."""
    try:
        from picamera2 import Picamera2
    except ImportError:
        return False
    try:
        return bool(pi_cameras(Picamera2.global_camera_info()))
    except Exception as e:  # a broken libcamera install should not stop the USB-camera fallback
        log.debug("picamera2 camera query failed: %s", e)
        return False
