"""Where results go: JSON lines, a terminal status line, an OpenCV window. One small interface."""

from __future__ import annotations

import enum
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Protocol, TextIO

import cv2
import numpy as np

from utils.config import Result, Status
from utils.overlay import OverlayRenderer
from utils.sources import Frame

log = logging.getLogger(__name__)


class Command(enum.Enum):
    """What a sink (a key press, a closed pipe) asks the pipeline to do."""

    QUIT = "quit"
    RESET = "reset"


@dataclass
class Update:
    """One captured frame with the latest result; `is_new` when that result came from this frame."""

    frame: Frame
    result: Result | None
    is_new: bool
    status: Status
    # The pipeline passes its one renderer, which caches the text between frames.
    overlay: OverlayRenderer = field(default_factory=lambda: OverlayRenderer(status_interval=0), repr=False)
    _annotated: np.ndarray | None = field(default=None, repr=False)

    @property
    def annotated(self) -> np.ndarray:
        """The frame with the overlay, drawn once however many sinks show it."""
        if self._annotated is None:
            predictions = self.result.predictions if self.result else ()
            self._annotated = self.overlay.draw(self.frame.image, predictions, self.status)
        return self._annotated


class Sink(Protocol):
    def write(self, update: Update) -> Command | None: ...

    def close(self) -> None: ...


class JsonSink:
    """Exactly one JSON object per classified frame on stdout, flushed so pipes see it at once."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def write(self, update: Update) -> Command | None:
        if not (update.is_new and update.result):
            return None
        try:
            self.stream.write(json.dumps(update.result.as_dict()) + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):  # the reader went away (e.g. `| head`): nothing left to do
            log.warning("stdout was closed; stopping")
            self._silence()
            return Command.QUIT
        return None

    def _silence(self) -> None:
        # Point stdout at /dev/null so the interpreter's final flush does not raise again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        pass


class StatusLineSink:
    """A live one-line status in the terminal (stderr); a plain line every few seconds when not a tty."""

    def __init__(self, stream: TextIO | None = None, interval: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval if interval is not None else (0.25 if self.tty else 5.0)
        self._last = -float("inf")
        self._width = 0
        self._text = ""

    def write(self, update: Update) -> Command | None:
        if not update.result:
            return None
        top = update.result.predictions[0] if update.result.predictions else None
        s = update.status
        self._text = (f"{top.label} {top.score:.2f}" if top else "(below threshold)") + (
            f" | capture {s.capture_fps:.1f} fps | classify {s.classify_fps:.1f} fps | {s.inference_ms:.1f} ms")
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._show()
        return None

    def _show(self) -> None:
        if self.tty:
            self.stream.write("\r" + self._text.ljust(self._width))
            self._width = len(self._text)
        else:
            self.stream.write(self._text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Shows the final state, so a short file run headless still ends with its result."""
        if self._text:
            self._show()
            if self.tty:
                self.stream.write("\n")
                self.stream.flush()
            self._text = ""


class WindowSink:
    """An OpenCV window. Keys: q/ESC quit, r resets the stream, f toggles full screen."""

    def __init__(self, title: str = "Action classifier", fullscreen: bool = False) -> None:
        self.title = title
        self.fullscreen = fullscreen
        self._open = False

    def _create(self, width: int, height: int) -> None:
        # GUI_NORMAL: no Qt toolbar or status bar. Qt opens a normal window at 400x300 whatever the image,
        # so it is sized to the frame: the overlay is drawn for that size.
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        cv2.resizeWindow(self.title, width, height)
        self._apply_fullscreen()
        self._open = True

    def _apply_fullscreen(self) -> None:
        mode = cv2.WINDOW_FULLSCREEN if self.fullscreen else cv2.WINDOW_NORMAL
        cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN, mode)

    def write(self, update: Update) -> Command | None:
        image = update.annotated
        if not self._open:
            self._create(image.shape[1], image.shape[0])
        elif cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            return Command.QUIT  # the user closed the window
        cv2.imshow(self.title, image)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            return Command.QUIT
        if key == ord("r"):
            return Command.RESET
        if key == ord("f"):
            self.fullscreen = not self.fullscreen
            self._apply_fullscreen()
        return None

    def close(self) -> None:
        if self._open:
            self._open = False
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # lets the GUI thread actually remove the window
