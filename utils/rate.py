"""Frames-per-second meter over a short sliding span of time."""

from __future__ import annotations

import time
from collections import deque


class RateMeter:
    """Events per second over the last `span` seconds (a steady reading that still follows changes)."""

    def __init__(self, span: float = 2.0) -> None:
        self.span = span
        self._times: deque[float] = deque()

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._times.append(now)
        while now - self._times[0] > self.span:
            self._times.popleft()

    @property
    def rate(self) -> float:
        if len(self._times) < 2:
            return 0.0
        elapsed = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / elapsed if elapsed > 0 else 0.0
