"""Frames-per-second meter over a short sliding span of time."""

from __future__ import annotations

import time
from collections import deque


class RateMeter:
    """Events per second over the last `span` seconds (a steady reading that still follows changes)."""

    def __init__(self, span: float = 2.0) -> None:
        self.span = span
        self._ticks: deque[tuple[float, int]] = deque()  # (time, events so far)
        self._total = 0

    def tick(self, now: float | None = None, count: int = 1) -> None:
        """`count` events happened now (more than one when some were not looked at, e.g. skipped frames)."""
        now = time.monotonic() if now is None else now
        self._total += max(0, count)
        self._ticks.append((now, self._total))
        while now - self._ticks[0][0] > self.span:
            self._ticks.popleft()

    @property
    def rate(self) -> float:
        if len(self._ticks) < 2:
            return 0.0
        (first, first_total), (last, last_total) = self._ticks[0], self._ticks[-1]
        return (last_total - first_total) / (last - first) if last > first else 0.0
