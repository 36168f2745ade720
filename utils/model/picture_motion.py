"""Whether the picture itself moves: the share of a small grayscale thumbnail that changes from one classified frame
to the next (docs/research/teaching.md#a-jump-of-the-whole-picture-caught-on-the-frame-measured).

The taught head judges movement on the model's per-frame features, and the model's stream spreads one jump of the
whole picture (a bumped camera, a light switched) over 1-2 s of them: a still room then looks like it moves. The
thumbnail does not echo: after the jump its pixels stand still again. A pixel counts as changed when it moves by
more than CHANGED_LEVEL of the two thumbnails' mean brightness, so that a dimmed room's movement still counts.
"""

from __future__ import annotations

import cv2
import numpy as np

THUMBNAIL = 32  # pixels a side: a person moving changes some of them, camera noise averages out
CHANGED_LEVEL = 0.125  # of the mean brightness: what a pixel of the thumbnail must change by to count


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """A THUMBNAIL x THUMBNAIL grayscale float32 picture of an RGB uint8 frame (each pixel the mean of its area)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA).astype(np.float32)


def changed_share(before: np.ndarray, after: np.ndarray) -> float:
    """The share of the thumbnail's pixels that change by more than CHANGED_LEVEL of its mean brightness."""
    level = CHANGED_LEVEL * max(0.5 * (float(before.mean()) + float(after.mean())), 1.0)
    return float(np.count_nonzero(np.abs(after - before) > level)) / after.size


class PictureSteps:
    """The changed share of each step between the last `capacity` classified frames, oldest first."""

    def __init__(self, capacity: int) -> None:
        self._steps = np.zeros(2 * capacity, np.float32)  # twice over, so the newest are always one slice
        self._capacity = capacity
        self._previous: np.ndarray | None = None
        self._count = 0

    def reset(self) -> None:
        self._previous, self._count = None, 0

    def add(self, rgb: np.ndarray) -> None:
        now = thumbnail(rgb)
        if self._previous is not None:
            row = self._count % self._capacity
            self._steps[row] = self._steps[row + self._capacity] = changed_share(self._previous, now)
            self._count += 1
        self._previous = now

    def recent(self, steps: int) -> np.ndarray:
        """The last `steps` steps (fewer when fewer were made), oldest first: a view the next add() may change."""
        steps = min(steps, self._count, self._capacity)
        end = (self._count - 1) % self._capacity + self._capacity + 1
        return self._steps[end - steps:end]
