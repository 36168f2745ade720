"""Chooses which frames to classify, by their timestamps (not by sleeping)."""

from __future__ import annotations


class FrameSampler:
    """Keeps `fps` classified frames per second of *source* time; fps 0 keeps every frame.

    Using the frames' own timestamps makes a file give the same results however fast it is
    decoded, and a camera keep its rate whatever the inference time.
    """

    # A frame a hair early (timestamp rounding in containers) still counts as on time.
    TOLERANCE_S = 1e-3

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps if fps > 0 else 0.0
        self._next_due: float | None = None

    def reset(self) -> None:
        self._next_due = None

    def should_classify(self, timestamp: float) -> bool:
        if self.period == 0.0:
            return True
        if self._next_due is None or self._next_due - timestamp > self.period + self.TOLERANCE_S:
            self._next_due = timestamp  # the first frame, or the clock went back (a looped file)
        if timestamp + self.TOLERANCE_S < self._next_due:
            return False
        # Advance on a fixed grid so the rate does not drift; after a gap, restart it.
        self._next_due += self.period
        if not (timestamp - self.period < self._next_due <= timestamp + self.period + self.TOLERANCE_S):
            self._next_due = timestamp + self.period
        return True
