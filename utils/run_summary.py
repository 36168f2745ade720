"""RunSummary: the short account of a run that ends it (frames, events, top actions, time)."""

from __future__ import annotations

import time
from collections import Counter

from utils.results import Result

TOP_ACTIONS = 3


def duration_text(seconds: float) -> str:
    """0.034 s, 12.3 s, 4 min 05 s, 2 h 03 min."""
    if 0 < seconds < 0.1:  # a short clip on a fast machine: "0.0 s" would say nothing
        return f"{seconds:.2g} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class RunSummary:
    """Counts the classified frames and their top-1 actions; `text()` says it all in one line."""

    def __init__(self, length: float = 0.0) -> None:
        """`length`: seconds of a video file (0: a camera or stream)."""
        self.length = length
        self.started = time.monotonic()
        self.frames = 0
        self.tops: Counter[str] = Counter()
        self._first: float | None = None
        self._last = 0.0

    def add(self, result: Result) -> None:
        self.frames += 1
        if result.predictions:
            self.tops[result.predictions[0].label] += 1
        if self._first is None:
            self._first = result.timestamp
        self._last = result.timestamp

    def text(self, events: dict[str, int] | None = None) -> str:
        """"done: 10.0 s of video in 3.1 s (3.2x real time), 50 frames classified; top actions: ...; events: ..."."""
        spent = time.monotonic() - self.started
        if self.length:
            played = self._last - (self._first or 0.0)
            speed = f" ({played / spent:.1f}x real time)" if spent > 0 and played > 0 else ""
            stopped = f" of {duration_text(self.length)}" if self._last + 1.0 < self.length else ""  # not to its end
            shown = f"{duration_text(self._last)}{stopped} of video in {duration_text(spent)}{speed}"
        else:
            shown = f"ran {duration_text(spent)}"
        parts = [f"{shown}, {self.frames} frame{'' if self.frames == 1 else 's'} classified"]
        if self.tops:
            parts.append("top actions: " + ", ".join(f"{label} {100 * count / self.frames:.0f}%"
                                                      for label, count in self.tops.most_common(TOP_ACTIONS)))
        if events is not None:
            total = sum(events.values())
            parts.append(f"events: {total}" + (" (" + ", ".join(f"{label} {n}" for label, n in events.items()) + ")"
                                               if total else ""))
        return "done: " + "; ".join(parts)
