"""The Pi camera's own DRM preview, with the results on its overlay plane: a monitor without a desktop.

On Raspberry Pi OS Lite nothing owns the screen, so picamera2's DrmPreview can put the camera's frames
straight on it (no copy, no OpenCV window) and lay an RGBA overlay on top. A running desktop owns the
screen instead, which is why `auto` picks this only when there is none. When something owns it anyway,
DrmPreview fails only on its own thread, at the first frame it draws, and that thread was picamera2's
event loop: no request ever comes again. So the sink waits for a first frame before it counts as open.
"""

from __future__ import annotations

import logging
import time

from utils.errors import ClassifierError
from utils.sinks.base import Command, Update
from utils.sinks.display import connected_screens
from utils.sinks.overlay import overlay_rgba
from utils.sources.picamera import next_request, restore_null_preview

log = logging.getLogger(__name__)


class DrmPreviewSink:
    """Swaps the camera's null preview for a full-screen DRM one and redraws the overlay as results come in."""

    needs_status = True
    wants_every_frame = False  # the camera shows itself; only the overlay is ours

    def __init__(self, camera, max_rate: float = 5.0, refresh: float = 1.0, first_frame_timeout: float = 10.0) -> None:
        """`camera` is the running Picamera2 of the Pi camera source."""
        self.camera = camera
        self.min_interval = 1.0 / max_rate  # each overlay is a new framebuffer: keep them few
        self.refresh = refresh              # redraw at least this often (seconds) so the rates stay current
        self._last = -float("inf")
        self._dead = False
        screens = connected_screens()
        size = next((size for _, size in screens if size), None)
        window = {"x": 0, "y": 0, "width": size[0], "height": size[1]} if size else {}
        try:
            from picamera2 import Preview

            # picamera2 starts a null preview with the camera; the DRM one must replace it while stopped.
            camera.stop()
            camera.stop_preview()
            camera.start_preview(Preview.DRM, **window)
            camera.start()
        except Exception as e:  # pykms/picamera2 raise RuntimeError, OSError, ImportError...
            restore_null_preview(self.camera)
            raise ClassifierError(
                f"cannot show the camera on the monitor through DRM ({e}): is a desktop running (then use "
                "--display window), or is no monitor connected? The DRM preview needs python3-kms++ "
                "(sudo apt install python3-kms++)") from e
        first = next_request(camera, first_frame_timeout)
        if first is None:
            restore_null_preview(self.camera)
            raise ClassifierError(
                f"cannot show the camera on the monitor through DRM: no frame within {first_frame_timeout:g} s, so "
                "something else owns the screen (a desktop? then use --display window, or --display web)")
        first.release()
        log.debug("DRM preview on %s", ", ".join(name for name, _ in screens) or "the first connector")


    def write(self, update: Update) -> Command | None:
        now = time.monotonic()
        due = update.is_new or now - self._last >= self.refresh
        if self._dead or not due or now - self._last < self.min_interval:
            return None
        self._last = now
        height, width = update.frame.image.shape[:2]
        predictions = update.result.predictions if update.result else ()
        try:
            self.camera.set_overlay(overlay_rgba((width, height), predictions, update.status))
        except Exception as e:  # a display failing must not stop the classifier
            log.warning("DRM overlay failed, showing the video without results: %s", e)
            self._dead = True
        return None

    def close(self) -> None:
        if self.camera is not None:
            camera, self.camera = self.camera, None
            try:
                camera.stop_preview()  # the source's close then stops the camera
            except Exception as e:
                log.debug("stopping the DRM preview: %s", e)
