"""FrozenPicture: a live source that keeps delivering the same frame, bit for bit, is a camera that is away."""

from __future__ import annotations

import logging
import time

import numpy as np

from utils.sources.frame import Frame
from utils.sources.health import ONLINE, SourceHealth

log = logging.getLogger(__name__)

# A sensor's noise changes every pixel a little from one frame to the next, so two frames of a working camera are
# never bit-identical; a driver or a decoder that repeats its last frame (an unplugged USB camera, a stalled
# stream) is. After FROZEN_SECONDS of the same picture the camera counts as away: long enough that a frame repeated
# now and then is not called an outage (10 repeats at the model's 5 fps), short enough that the screen says so
# while the user still looks. The model never sees a repeated frame, however short the run, so this number only
# decides when the outage is shown and whether the stream starts afresh afterwards.
FROZEN_SECONDS = 2.0
# The picture is compared on every STEP-th row, whole (a quarter of it): anything taller than STEP pixels that
# moves changes the sample. Whole rows are contiguous, so copying and comparing them is quick: about 20 us a
# 640x480 frame, 150 us a 1920x1080 one, on a 2-core x86_64 PC (a grid of every 4th pixel takes 4 times longer).
STEP = 4


class FrozenPicture:
    """Tells the frames of a live source that show a new picture from those that repeat the last one (compared on
    every STEP-th row).

    check() hands a new picture back. A repeated one is no new frame: the source's health comes back instead,
    online at first (the frame is left out, as if none had come), and once the same picture has lasted `seconds`
    of stream time an outage, which every output shows as it shows a camera that went offline. The outage is
    logged once when it starts and once when the picture moves again.
    """

    def __init__(self, description: str, seconds: float = FROZEN_SECONDS) -> None:
        self.description = description
        self.seconds = seconds
        self.health = ONLINE
        self._sample: np.ndarray | None = None
        self._since = 0.0       # stream time (s) of the last new picture
        self._since_wall = 0.0  # and the wall-clock time it came

    def check(self, frame: Frame) -> Frame | SourceHealth:
        """The frame when its picture is new; else the health: ONLINE, or frozen after `seconds`."""
        sample = frame.image[::STEP]
        if self._sample is not None and np.array_equal(sample, self._sample):
            if self.health.online and frame.timestamp - self._since >= self.seconds:
                self.health = SourceHealth(offline_since=self._since_wall, frozen=True)
                log.warning("%s (%s repeats its last frame)", self.health.describe(), self.description)
            return self.health
        if not self.health.online:
            log.warning("camera picture moving again after %.0f s (%s)", frame.timestamp - self._since,
                        self.description)
            self.health = ONLINE
        self._sample = sample.copy()  # a copy: a source may reuse its buffer for the next frame
        self._since, self._since_wall = frame.timestamp, time.time()
        return frame
