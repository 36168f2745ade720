"""A live one-line status in the terminal, when nothing else shows the results."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import threading
import time
import unicodedata
from collections.abc import Callable
from typing import TextIO

from utils.results import Prediction
from utils.sinks.base import Command, Update, rate_texts
from utils.sinks.json_lines import discard_output

ERASE_TO_END = "\x1b[K"  # VT100 "erase in line": the rest of a longer, older status goes
ERASE_BELOW = "\x1b[J"  # VT100 "erase in display": that, and the rows below it


def terminal_columns(stream: TextIO) -> int:
    """The width of the terminal the stream writes to (asked each time: a window can be resized)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):  # not a real terminal (a test's stand-in): $COLUMNS, else 80
        return shutil.get_terminal_size().columns


def knows_escapes() -> bool:
    """Whether the terminal takes escape sequences: not with TERM=dumb or no TERM (an editor's or a serial
    console's plain output shows them as junk)."""
    return os.environ.get("TERM", "") not in ("", "dumb")


def cursor_up(rows: int) -> str:
    return f"\x1b[{rows}A" if rows > 0 else ""  # VT100 "cursor up"


def redraw(text: str, shown: int, drawn_width: int, width: int, escapes: bool) -> str:
    """What replaces a status line of `shown` columns, drawn at a terminal width of `drawn_width` with the cursor
    at its end, by `text` at the terminal's `width` now.

    A terminal made narrower rewraps the old line over more rows and leaves the cursor on the last of them, so
    the cursor goes up to the first and the rows below go too. Without escape sequences, spaces cover what the
    old line had beyond the new one (they cannot reach the rows above)."""
    if not escapes:
        return "\r" + text + " " * max(0, min(shown, width - 1) - columns(text))
    rows = -(-shown // max(1, width)) if width < drawn_width else 1
    return cursor_up(rows - 1) + "\r" + text + (ERASE_BELOW if rows > 1 else ERASE_TO_END)


def clock(seconds: float) -> str:
    """1:05 or 1:02:03."""
    minutes, secs = divmod(max(0, round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def char_columns(char: str) -> int:
    """The terminal columns a character takes: 2 for wide ones (CJK, most emoji), 0 for marks that combine with
    the one before, else 1."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def columns(text: str) -> int:
    """The terminal columns `text` takes (a taught action's name can be in any script)."""
    return sum(map(char_columns, text))


def fit(parts: list[str], width: int) -> str:
    """The parts joined with " | ", the last ones left out until it fits; the first one is cut if need be.
    Widths are terminal columns, not characters: a wider line would wrap and leave a copy at each refresh."""
    while len(parts) > 1 and columns(" | ".join(parts)) > width:
        parts = parts[:-1]
    text = " | ".join(parts)
    if columns(text) <= width:
        return text
    room, kept = max(0, width - 3), []
    for char in text:
        room -= char_columns(char)
        if room < 0:
            break
        kept.append(char)
    return "".join(kept) + "..."


class FileProgress:
    """Where a video file is, its length, and the time left at the speed it has played so far."""

    def __init__(self, length: float) -> None:
        self.length = length  # seconds
        self._first: tuple[float, float] | None = None  # (wall-clock time, position) of the first frame

    def text(self, position: float, now: float) -> str:
        if self._first is None:
            self._first = (now, position)
        shown = f"{clock(position)} of {clock(self.length)}"
        spent, played = now - self._first[0], position - self._first[1]
        if spent >= 1.0 and played > 0:  # a second in, the speed is known well enough
            shown += f", {clock((self.length - position) * spent / played)} left"
        return shown


class _ClearStatusFirst(logging.Formatter):
    """A log handler's formatter that starts each log line by clearing the status line, in the same write, so
    a message never lands glued to the end of the status."""

    def __init__(self, inner: logging.Formatter | None, clear: Callable[[], str]) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()
        self.clear = clear

    def format(self, record: logging.LogRecord) -> str:
        return self.clear() + self.inner.format(record)


def described(prediction: Prediction) -> str:
    return f"{prediction.label}{' (taught)' if prediction.taught else ''} {prediction.score:.2f}"


class StatusLineSink:
    """A live one-line status in the terminal (stderr); a plain line every few seconds when not a tty.

    On a terminal the status is one line that fits its width (a wrapped line would leave a copy at every
    refresh), and a log line first clears it: the log handlers writing to the same stream are given a
    formatter that does so, and the status is written under their lock.
    """

    needs_status = True
    wants_every_frame = False

    def __init__(self, stream: TextIO | None = None, interval: float | None = None, length: float = 0.0) -> None:
        """`length`: seconds of a video file (0: a camera or stream), for its position and the time left."""
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval if interval is not None else (0.25 if self.tty else 5.0)
        self.progress = FileProgress(length) if length > 0 else None
        self._last = -float("inf")
        self._parts: list[str] = []
        self._dead = False
        self.escapes = knows_escapes()
        self._drawn = (0, 0)  # the status line on the screen: its columns, the terminal's width then
        self._lock: threading.RLock | None = None
        self._handlers: list[tuple[logging.Handler, logging.Formatter | None]] = []
        if self.tty:
            self._take_over_log_lines()

    def _take_over_log_lines(self) -> None:
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream:
                self._handlers.append((handler, handler.formatter))
                handler.setFormatter(_ClearStatusFirst(handler.formatter, self._clear))
                self._lock = self._lock or handler.lock

    def write(self, update: Update) -> Command | None:
        s = update.status
        if not s.source.online:
            if not self.tty:  # a log has said so once already; it needs no copy every few seconds
                return None
            self._parts = [s.source.describe()]
        elif update.result:
            top = update.result.predictions[0] if update.result.predictions else None
            parts = [s.notice] if s.notice else []  # the teaching countdown, "none of the taught actions"
            if top or not s.notice:
                parts.append(described(top) if top else "(below threshold)")
            # A taught action reported below the top one is shown too: it is what the user is watching for.
            taught = next((p for p in update.result.predictions[1:] if p.taught), None)
            if taught and top and not top.taught:
                parts.append(described(taught))
            if self.progress:
                parts.append(self.progress.text(update.frame.timestamp, time.monotonic()))
            self._parts = parts + rate_texts(s)
        else:
            return None
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._show()
        return None

    def _show(self) -> None:
        if not self.tty:
            self._emit(" | ".join(self._parts) + "\n")
            return
        with self._lock or contextlib.nullcontext():  # a log line's _clear() reads and resets what is drawn
            width = terminal_columns(self.stream)
            # One column short of the width: a line that fills it puts some terminals on the next line.
            line = fit(self._parts, width - 1)
            self._emit(redraw(line, *self._drawn, width, self.escapes))
            self._drawn = (columns(line), width)

    def _clear(self) -> str:
        """Takes the status line off the screen before a log line (written under the handler's lock, as the
        status is); the status starts afresh on the row after it."""
        text = redraw("", *self._drawn, terminal_columns(self.stream), self.escapes)
        self._drawn = (0, 0)
        return text + ("\r" if not self.escapes else "")

    def _emit(self, text: str) -> None:
        if self._dead:
            return
        with self._lock or contextlib.nullcontext():
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):  # stderr closed or full (2>/dev/full): nowhere to say so either
                self._dead = True
                discard_output(self.stream)

    def close(self) -> None:
        """Shows the final state, so a short file run headless still ends with its result."""
        if self._parts:
            self._show()
            if self.tty:
                self._emit("\n")
                self._drawn = (0, 0)
            self._parts = []
        for handler, formatter in self._handlers:
            handler.setFormatter(formatter)
        self._handlers = []
