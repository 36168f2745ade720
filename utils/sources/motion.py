"""MotionGate: whether anything moves in the picture, from a 64x48 grey copy of each sampled frame.

An empty or still room is most of a home camera's day; the model need not run on it. The gate compares each
sampled frame, blurred and brought to the background's brightness, with a background that follows the scene
slowly, and counts the share of pixels that changed by more than sensor noise and compression can. Motion
holds for a few seconds after it was last seen, so a pause does not end an action.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from utils.areas import WHOLE, Area
from utils.config import DEFAULT_MOTION_PERCENT
from utils.resize import shrink
from utils.sources.frame import Frame

log = logging.getLogger(__name__)

GREY_SIZE = (64, 48)  # width, height: a person's movement across a room is several pixels here
BLUR = (5, 5)  # smooths what is left of sensor noise and block artefacts after the shrink
# Grey levels (0..255) a pixel must differ from the background to count as changed. The shrink averages
# about 100 camera pixels into one, so sensor noise (a few levels per pixel) is well under 1 level here.
PIXEL_DELTA = 12.0
MAX_GAIN = 1.5  # the most that brightness normalisation makes up for (auto-exposure steps are smaller)
CLIPPED = 6  # grey levels from black or white where a pixel is taken as clipped
BACKGROUND_SECONDS = 2.0  # time constant of the background: slow changes (daylight) become background
HOLD_SECONDS = 4.0  # motion lasts this long after it was last seen, so a pause does not end an action


@dataclass(frozen=True)
class GateState:
    """What the gate decided for one sampled frame."""

    moving: bool
    started: bool  # motion began at this frame (after stillness): the stream starts afresh here
    changed: float  # share of the counted pixels that changed, 0..1


def grey_small(frame: Frame, crop: Area = WHOLE) -> np.ndarray:
    """The frame's part inside `crop`, grey at GREY_SIZE: from the Pi's lores luma when there is one (no colour
    conversion at all), else from the BGR picture, shrunk before it is converted."""
    if frame.lores is not None:
        luma = frame.lores[: frame.lores.shape[0] * 2 // 3, : frame.lores_width]  # I420: the Y plane comes first
        return shrink(np.ascontiguousarray(crop.of(luma)), GREY_SIZE)
    return cv2.cvtColor(shrink(np.ascontiguousarray(crop.of(frame.image)), GREY_SIZE), cv2.COLOR_BGR2GRAY)


def counted_pixels(crop: Area, mask: tuple[Area, ...]) -> np.ndarray:
    """True where a pixel of the small grey image counts: inside the crop and outside every mask area."""
    counted = np.ones(GREY_SIZE[::-1], bool)
    for area in mask:
        inside = area.within(crop)
        if inside is not None:
            x0, y0, x1, y1 = inside.pixels(*GREY_SIZE)
            counted[y0:y1, x0:x1] = False
    return counted


class MotionGate:
    """Fed every sampled frame in stream order; says whether something moves (see the module's docstring).

    The first frame counts as motion, so a stream starts classifying at once, as without the gate.
    """

    def __init__(self, percent: float = DEFAULT_MOTION_PERCENT, crop: Area | None = None, mask: tuple[Area, ...] = (),
                 hold_seconds: float = HOLD_SECONDS, pixel_delta: float = PIXEL_DELTA) -> None:
        self.share = percent / 100.0
        self.crop = crop or WHOLE
        self.mask = mask
        self.hold_seconds = hold_seconds
        self.pixel_delta = pixel_delta
        self._counted = counted_pixels(self.crop, mask)
        if not self._counted.any():
            raise ValueError("the motion mask covers the whole picture (or the whole crop): nothing could move")
        self._count = int(self._counted.sum())
        self._background: np.ndarray | None = None
        self._time = 0.0
        self._last_motion = -math.inf
        self._moving = False

    def reset(self) -> None:
        """Forgets the scene (a camera that comes back may show another one): the next frame counts as motion."""
        self._background = None
        self._last_motion = -math.inf
        self._moving = False

    def check(self, frame: Frame) -> GateState:
        return self.update(grey_small(frame, self.crop), frame.timestamp)

    def update(self, grey: np.ndarray, timestamp: float) -> GateState:
        """The decision for one small grey image (GREY_SIZE) taken at `timestamp` seconds."""
        grey = cv2.GaussianBlur(grey, BLUR, 0).astype(np.float32)
        # Blown highlights and crushed shadows change shape with the exposure alone: they are not compared.
        exposed = (grey > CLIPPED) & (grey < 255 - CLIPPED)
        if self._background is None or timestamp < self._time:  # the first frame, or a looped file
            self._background, self._time, self._last_motion = grey, timestamp, timestamp
            return self._decide(timestamp, 1.0)
        background = self._background
        # Auto-exposure and slow light changes scale the whole picture: bring the frame to the background's
        # brightness before comparing, so only a change of shape counts.
        # A larger jump (a light switched on, a black first frame) is a change of scene and counts.
        level = float(grey[self._counted].mean())
        gain = float(background[self._counted].mean()) / level if level > 1.0 else 1.0
        grey *= min(MAX_GAIN, max(1.0 / MAX_GAIN, gain))
        differs = np.abs(grey - background) > self.pixel_delta
        changed = np.count_nonzero(differs & exposed & self._counted) / self._count
        weight = 1.0 - math.exp(-max(0.0, timestamp - self._time) / BACKGROUND_SECONDS)
        cv2.accumulateWeighted(grey, background, weight)
        self._time = timestamp
        if changed >= self.share:
            self._last_motion = timestamp
        return self._decide(timestamp, changed)

    def _decide(self, timestamp: float, changed: float) -> GateState:
        moving = timestamp - self._last_motion <= self.hold_seconds
        started = moving and not self._moving
        if moving != self._moving:
            log.debug("motion %s at %.2f s (%.2f %% changed)", "starts" if moving else "stops", timestamp,
                      100 * changed)
        self._moving = moving
        return GateState(moving, started, changed)
