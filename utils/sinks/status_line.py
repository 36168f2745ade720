"""A live one-line status in the terminal, when nothing else shows the results."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from utils.results import Prediction
from utils.sinks.base import Command, Update
from utils.sinks.json_lines import discard_output


def described(prediction: Prediction) -> str:
    return f"{prediction.label}{' (taught)' if prediction.taught else ''} {prediction.score:.2f}"


class StatusLineSink:
    """A live one-line status in the terminal (stderr); a plain line every few seconds when not a tty."""

    needs_status = True
    wants_every_frame = False

    def __init__(self, stream: TextIO | None = None, interval: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval if interval is not None else (0.25 if self.tty else 5.0)
        self._last = -float("inf")
        self._width = 0
        self._text = ""
        self._dead = False

    def write(self, update: Update) -> Command | None:
        s = update.status
        if not s.source.online:
            if not self.tty:  # a log has said so once already; it needs no copy every few seconds
                return None
            self._text = s.source.describe()
        elif update.result:
            top = update.result.predictions[0] if update.result.predictions else None
            shown = [s.notice] if s.notice else []  # the teaching countdown, "none of the taught actions"
            if top or not s.notice:
                shown.append(described(top) if top else "(below threshold)")
            # A taught action reported below the top one is shown too: it is what the user is watching for.
            taught = next((p for p in update.result.predictions[1:] if p.taught), None)
            if taught and top and not top.taught:
                shown.append(described(taught))
            self._text = " | ".join(shown) + (
                f" | capture {s.capture_fps:.1f} fps | classify {s.classify_fps:.1f} fps | {s.inference_ms:.1f} ms")
        else:
            return None
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._show()
        return None

    def _show(self) -> None:
        if self.tty:
            self._emit("\r" + self._text.ljust(self._width))
            self._width = len(self._text)
        else:
            self._emit(self._text + "\n")

    def _emit(self, text: str) -> None:
        if self._dead:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed or full (2>/dev/full): nowhere to say so either
            self._dead = True
            discard_output(self.stream)

    def close(self) -> None:
        """Shows the final state, so a short file run headless still ends with its result."""
        if self._text:
            self._show()
            if self.tty:
                self._emit("\n")
            self._text = ""
