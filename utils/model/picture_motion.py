"""Whether the picture itself moves: the share of a small thumbnail that changes from one classified frame
to the next (docs/research/teaching.md#a-jump-of-the-whole-picture-caught-on-the-frame-measured).

The taught head judges movement on the model's per-frame features, and the model's stream spreads one jump of the
whole picture (a bumped camera, a light switched) over 1-2 s of them: a still room then looks like it moves. The
thumbnail does not echo: after the jump its pixels stand still again. A pixel counts as changed when it moves by
more than CHANGED_LEVEL of the two thumbnails' mean brightness, so that a dimmed room's movement still counts.
Consecutive frames, not utils/sources/motion.py's gate: that one compares with a background that follows the
scene over 2 s, so a jump reads there as motion for seconds, which is what the head must not see here.
"""

from __future__ import annotations

import cv2
import numpy as np

from utils.model.doubled_ring import newest

THUMBNAIL = 40  # about this many pixels a side: a person moving changes some of them
CHANGED_LEVEL = 0.125  # of the mean brightness: what a pixel of the thumbnail must change by to count


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """About THUMBNAIL x THUMBNAIL pixels of an RGB uint8 frame's green channel (most of its brightness): every
    n-th pixel each way, no averaging. The model's input is already a shrink of the camera's picture (each of its
    pixels the mean of many), and picking pixels costs a few microseconds where a resize costs tens: this runs on
    every classified frame."""
    step = max(1, min(rgb.shape[:2]) // THUMBNAIL)
    return np.array(rgb[step // 2::step, step // 2::step, 1])


def brightness(thumb: np.ndarray) -> float:
    return cv2.mean(thumb)[0]


def changed_share(before: np.ndarray, after: np.ndarray, before_mean: float | None = None,
                  after_mean: float | None = None) -> float:
    """The share of the thumbnail's pixels that change by more than CHANGED_LEVEL of its mean brightness (the
    means, when known, save computing them again)."""
    before_mean = brightness(before) if before_mean is None else before_mean
    after_mean = brightness(after) if after_mean is None else after_mean
    level = CHANGED_LEVEL * max(0.5 * (before_mean + after_mean), 1.0)
    # On 8-bit differences "> level" is "> floor(level)", which is what the threshold does.
    changed = cv2.threshold(cv2.absdiff(before, after), level, 255, cv2.THRESH_BINARY)[1]
    return cv2.countNonZero(changed) / changed.size


class PictureSteps:
    """The changed share of each step between the last `capacity` classified frames, oldest first."""

    def __init__(self, capacity: int) -> None:
        self._steps = np.zeros(2 * capacity, np.float32)  # a doubled ring (doubled_ring.py)
        self._capacity = capacity
        self._previous: np.ndarray | None = None
        self._previous_mean = 0.0
        self._count = 0

    def reset(self) -> None:
        self._previous, self._count = None, 0

    def add(self, rgb: np.ndarray) -> None:
        now = thumbnail(rgb)
        mean = brightness(now)
        if self._previous is not None:
            row = self._count % self._capacity
            self._steps[row] = self._steps[row + self._capacity] = changed_share(self._previous, now,
                                                                                 self._previous_mean, mean)
            self._count += 1
        self._previous, self._previous_mean = now, mean

    def recent(self, steps: int) -> np.ndarray:
        """The last `steps` steps (fewer when fewer were made), oldest first: a view the next add() may change."""
        return newest(self._steps, self._count, steps)
