"""The Pi camera through picamera2: a display-sized main stream and a small YUV420 stream for the model."""

from __future__ import annotations

import errno
import inspect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from utils.errors import ClassifierError
from utils.sources.demand import Demand
from utils.sources.frame import ClosingSource, Frame, FrameSource
from utils.sources.v4l2 import camera_holders
from utils.system_info import missing_groups

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


def pick_pi_camera(info: list[dict[str, Any]], pi_camera: int | None) -> int:
    """The index in global_camera_info() (what Picamera2() takes) of Pi camera `pi_camera` (None: the first)."""
    indexes = pi_cameras(info)
    wanted = pi_camera or 0
    if wanted < len(indexes):
        return indexes[wanted]
    if pi_camera is None:
        return 0  # no Pi camera listed: Picamera2(0) says why in its own words
    found = ", ".join(f"{n}: {info[i].get('Model', '?')}" for n, i in enumerate(indexes)) or "none"
    raise ClassifierError(f"--pi-camera {pi_camera}: there is no such Pi camera (found: {found}); "
                          "see --list-cameras")


def sensor_choice(create_configuration: Callable[..., Any], mode: dict[str, Any] | None) -> dict[str, Any]:
    """The argument that picks `mode`: sensor= where picamera2 has it (0.3.13 on), else a raw stream of its size.

    Both are how picamera2's manual says to choose a sensor mode; Bookworm started with 0.3.12.
    """
    if mode is None:
        return {}
    if "sensor" in inspect.signature(create_configuration).parameters:
        return {"sensor": {"output_size": tuple(mode["size"]), "bit_depth": mode["bit_depth"]}}
    return {"raw": {"size": tuple(mode["size"]), "format": str(mode["format"])}}


def next_request(camera: Any, timeout: float, alive: Callable[[], bool] = lambda: True,
                 step: float = 0.25) -> Any | None:
    """The camera's next completed request, or None when none comes within `timeout` seconds or `alive()`
    turns false (checked every `step` seconds: the event loop died, so none will come).

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
    deadline = time.monotonic() + timeout
    while not arrived.wait(max(0.0, min(step, deadline - time.monotonic()))):
        if time.monotonic() < deadline and alive():
            continue
        with lock:
            gave_up = not arrived.is_set()
        if gave_up:
            cancel = getattr(camera, "cancel_all_and_flush", None)
            if cancel is not None:
                cancel()
            return None
        break
    return camera.wait(job)


def event_loop(camera: Any) -> threading.Thread | None:
    """picamera2's event loop: the thread of the running preview (NullPreview.start's self.thread)."""
    return getattr(getattr(camera, "_preview", None), "thread", None)


def restore_null_preview(camera: Any) -> None:
    """Puts the camera back on a null preview after the DRM one failed, so frames flow again.

    The preview goes first: with a preview whose thread died, stop() would wait for that thread forever.
    Stopping the camera also returns the buffers a failed draw kept. A step with nothing to do raises: fine.
    """
    for step in (camera.stop_preview, camera.stop, camera.start_preview, camera.start):
        try:
            step()
        except Exception as e:  # the camera is gone as well: the source will report it
            log.debug("putting the camera back on a null preview: %s: %s", step.__name__, e)


FULL_VIEW_MIN_FPS = 30.0  # the sensor mode must still give the display this rate
CAMERA_FPS = 30.0         # what the camera runs at (the sampler picks the frames the model gets)
HEADLESS_MIN_FPS = 10.0   # headless, the camera still runs this fast: exposure stays short, timestamps fine
BIG_FRAME = 1920 * 1080   # from here on, 4 buffers instead of 6: each costs CMA memory


def visible_area(crop: tuple[int, int, int, int], aspect: float) -> float:
    """Sensor pixels (area) of the largest `aspect`-shaped picture inside a mode's crop (x, y, w, h)."""
    width, height = crop[2], crop[3]
    return height * aspect * height if width / height > aspect else width * width / aspect


def full_view_mode(modes: list[dict[str, Any]], main: tuple[int, int],
                   min_fps: float = FULL_VIEW_MIN_FPS) -> dict[str, Any] | None:
    """The sensor mode that shows the most of the sensor in the main stream's shape, at `min_fps` or more.

    picamera2 picks the mode nearest the output size, and a small output gets a small, centre-cropped
    mode: 640x480 on a Camera v2 (imx219) reads a 1280x960 crop, 39 % of the sensor's width. Among the
    modes as wide in view as any fast enough one, this takes the smallest that still covers `main`
    (fewer pixels to read and scale), with the deepest bits. None when the camera lists no raw modes (USB).
    """
    raw = [mode for mode in modes if "size" in mode and "crop_limits" in mode]
    if not raw:
        return None
    aspect = main[0] / main[1]
    fast = [mode for mode in raw if mode.get("fps", 0) >= min_fps - 0.5] or raw
    widest = max(visible_area(mode["crop_limits"], aspect) for mode in fast)
    candidates = [mode for mode in fast if visible_area(mode["crop_limits"], aspect) >= 0.98 * widest]

    def cost(mode: dict[str, Any]) -> tuple[bool, int, int]:
        width, height = mode["size"]
        return width < main[0] or height < main[1], width * height, -int(mode.get("bit_depth", 0))

    return min(candidates, key=cost)


def pi_camera_fps(classify_fps: float, shown: bool) -> float:
    """The Pi camera's frame rate: CAMERA_FPS when its frames are shown or recorded (or all classified, --fps 0);
    else twice the classifying rate, at least HEADLESS_MIN_FPS: the sampler picks frames by timestamp."""
    if shown or not classify_fps:
        return CAMERA_FPS
    return min(CAMERA_FPS, max(HEADLESS_MIN_FPS, 2 * classify_fps))


def frame_duration(mode: dict[str, Any] | None, fps: float = CAMERA_FPS) -> int:
    """Microseconds a frame at `fps`, or at the mode's own top rate when it is slower."""
    if mode and mode.get("fps"):
        fps = min(fps, mode["fps"])
    return round(1e6 / fps)


def _causes(error: BaseException) -> list[BaseException]:
    """The error and everything chained behind it (picamera2 wraps libcamera's error in its own)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def camera_failure(error: BaseException, camera: str, holders: list[tuple[int, str]]) -> str:
    """One line for a camera that would not open or start, from the whole chain of causes."""
    chain = _causes(error)
    text = " ".join(str(e) for e in chain)
    if any(getattr(e, "errno", None) == errno.EBUSY for e in chain) or "Device or resource busy" in text:
        who = (", ".join(f"{name} (pid {pid})" for pid, name in holders) if holders else
               "see which with: sudo fuser -v /dev/media* /dev/video*")
        return f"{camera} is busy: another program holds it ({who}); stop that program and start again"
    if any(getattr(e, "errno", None) == errno.ENOMEM for e in chain) or "allocate" in text:
        return (f"{camera}: not enough camera (CMA) memory for its buffers ({chain[-1]}); use a smaller "
                "--width/--height, or give the camera more memory (dtoverlay=vc4-kms-v3d,cma-512 in config.txt)")
    return f"cannot start {camera}: {chain[-1]}"


@runtime_checkable
class PiCameraSource(FrameSource, Protocol):
    """A source that is the Pi camera itself: its running Picamera2 is what the DRM preview shows."""

    camera: Any


class Picamera2Source(ClosingSource):
    """The Pi camera: a display-sized BGR main stream and a small YUV420 stream for the model.

    YUV420 is the only format the Pi 4 (VC4) can give on the lores stream; it works on the Pi 5 too,
    so one code path serves both. picamera2's "RGB888" arrays are BGR in memory, as OpenCV wants.
    """

    def __init__(self, width: int, height: int, model_size: tuple[int, int], pi_camera: int | None = None,
                 frame_timeout: float = FRAME_TIMEOUT, holders: Callable[[], list[tuple[int, str]]] = camera_holders,
                 camera_fps: float | None = None, cameras: PiCameraList | None = None) -> None:
        """`pi_camera` counts the cameras on the camera connectors only (0 or 1 on a Pi 5); None: the first.
        `camera_fps`: the frame rate to run at (None: CAMERA_FPS). `cameras`: picamera2's list, when it was
        asked already (None: asked here)."""
        # imported here so utils works where picamera2 is absent; python3-libcamera comes with it
        from libcamera import ColorSpace
        from picamera2 import Picamera2

        self.frame_timeout = frame_timeout
        if missing := missing_groups():
            log.warning("this user is not in the %s group%s, which the camera and the screen need: sudo usermod "
                        "-aG %s $USER (for the service: its User=), then log in again", " and ".join(missing),
                        "s" if len(missing) > 1 else "", ",".join(missing))
        info = (cameras or pi_camera_list()).info
        index = pick_pi_camera(info, pi_camera)
        model = info[index].get("Model", "camera")
        name = f"the Pi camera {pi_camera or 0} ({model})"
        try:
            self._camera = Picamera2(index)
        except Exception as e:  # picamera2 wraps the cause: "Camera __init__ sequence did not complete."
            raise ClassifierError(camera_failure(e, name, holders())) from e
        try:
            mode = full_view_mode(self._camera.sensor_modes, (width, height))
            duration = frame_duration(mode, camera_fps or CAMERA_FPS)
            config = self._camera.create_video_configuration(
                main={"size": (width, height), "format": "RGB888"},
                lores={"size": lores_size((width, height), model_size), "format": "YUV420"},
                # picamera2 picks Rec.709 for mains from 1280x720 up, but OpenCV's I420 conversion is
                # BT.601 (what Smpte170m encodes); the RGB main looks the same either way.
                colour_space=ColorSpace.Smpte170m(),
                # 6 (picamera2's default) lets the preview and the queue each hold one; at full HD 6 buffers
                # of each stream do not fit the Pi 4's default CMA memory
                buffer_count=4 if width * height >= BIG_FRAME else 6,
                controls=self._controls(duration),
                **sensor_choice(self._camera.create_video_configuration, mode),
            )
            self._camera.configure(config)
            self._camera.start()
        except Exception as e:
            try:
                self._camera.close()  # lets the camera go for the next try
            except Exception as close_error:
                log.debug("closing the camera after it failed to start: %s", close_error)
            raise ClassifierError(camera_failure(e, name, holders())) from e
        # What libcamera configured, not what was asked: it may change the size, and the Pi 5 pads rows.
        configured = self._camera.camera_configuration()
        self._lores_width, lores_height = configured["lores"]["size"]
        self.nominal_fps = 1e6 / duration
        sensor = f", sensor mode {mode['size'][0]}x{mode['size'][1]}" if mode else ""
        self.description = (f"Pi camera {pi_camera or 0} ({model}, {width}x{height}{sensor}, "
                            f"model stream {self._lores_width}x{lores_height} YUV420)")
        self._index = 0
        self._first_ns: int | None = None
        self._demand: Demand | None = None
        self._closed = False
        self._loop_error: BaseException | None = None
        self._previous_hook = threading.excepthook
        threading.excepthook = self._on_thread_error

    def _controls(self, duration: int) -> dict[str, Any]:
        """A steady frame rate (`duration` in microseconds a frame), and autofocus where the lens has it.

        libcamera starts the Camera Module 3's autofocus in manual mode with the lens at 1 dioptre (about
        1 m; rpi/af.cpp, the imx708 tuning's "default": 1.0), so without this it never focuses;
        rpicam-apps turns continuous focus on by default in the same way (core/rpicam_app.cpp).
        """
        controls: dict[str, Any] = {}
        available = self._camera.camera_controls
        if "FrameDurationLimits" in available:
            controls["FrameDurationLimits"] = (duration, duration)
        if "AfMode" in available:
            from libcamera import controls as libcamera_controls

            controls["AfMode"] = libcamera_controls.AfModeEnum.Continuous
        return controls

    def _loop_alive(self) -> bool:
        thread = event_loop(self._camera)
        return thread is None or thread.is_alive()

    def _on_thread_error(self, args: Any) -> None:
        """threading.excepthook: the preview's draw failing on the event loop is reported by read(), in one line."""
        if args.thread is not None and args.thread is event_loop(self._camera):
            self._loop_error = args.exc_value
            log.debug("the camera's event loop ended: %r", args.exc_value)
        else:
            self._previous_hook(args)

    def _preview_died(self) -> None:
        """The monitor preview's thread died mid-run (the screen was taken, the monitor went away): go on without it."""
        why = f" ({self._loop_error})" if self._loop_error else ""
        log.warning("the camera's preview on the monitor stopped%s: going on without it", why)
        self._loop_error = None
        restore_null_preview(self._camera)

    @property
    def camera(self) -> Any:
        """The running Picamera2 (the DRM preview swaps its preview)."""
        return self._camera

    def set_demand(self, demand: Demand | None) -> None:
        self._demand = demand

    def read(self) -> Frame | None:
        """The next frame the demand wants: a frame nobody needs goes back to the camera uncopied."""
        while True:
            request = next_request(self._camera, self.frame_timeout, self._loop_alive)
            if request is None and not self._loop_alive():
                self._preview_died()
                continue
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
            if threading.excepthook == self._on_thread_error:
                threading.excepthook = self._previous_hook
            self._camera.stop()
            self._camera.close()


@dataclass(frozen=True)
class PiCameraList:
    """picamera2's cameras (`info`: global_camera_info(), empty when it cannot be had) and `problem`: why no Pi
    camera can be read through picamera2, or None when one is there to read."""

    info: list[dict[str, Any]]
    problem: str | None


def pi_camera_list() -> PiCameraList:
    """Asks picamera2 for its cameras once, for everything that needs them at start (libcamera looks through
    every camera to answer)."""
    try:
        from picamera2 import Picamera2
    except ImportError as e:
        return PiCameraList([], f"picamera2 does not import ({e}): install it with 'sudo apt install "
                                "python3-picamera2', and create the virtual environment with --system-site-packages")
    try:
        info = Picamera2.global_camera_info()
    except Exception as e:  # a broken libcamera install should not stop the USB-camera fallback
        return PiCameraList([], f"libcamera cannot list the cameras ({e})")
    return PiCameraList(info, None if pi_cameras(info) else "libcamera sees no camera on the camera connector")


def picamera2_available() -> bool:
    """True when picamera2 imports and libcamera sees a camera on the camera connector (not a USB one)."""
    return pi_camera_list().problem is None
