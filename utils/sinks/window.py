"""An OpenCV window with the overlay: the monitor's view on a desktop."""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2

from utils.sinks.base import Command, Update
from utils.sinks.overlay import Annotator


class WindowSink:
    """An OpenCV window. Keys: q/ESC quit, r resets the stream, t teaches (--teach), f toggles full screen."""

    needs_status = True
    wants_every_frame = True

    def __init__(self, title: str = "Action classifier", fullscreen: bool = False,
                 annotator: Annotator | None = None, fullscreen_max_rate: float = 15.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Full screen, frames are shown at most `fullscreen_max_rate` a second (a new result always is): Qt
        scales each one to the monitor on this thread, the one that classifies, for some ms a frame on a Pi."""
        self.title = title
        self.annotator = annotator or Annotator()
        self.fullscreen = fullscreen
        # a tenth early still counts: a camera's frames do not land exactly on the interval
        self.min_interval = 0.9 / fullscreen_max_rate
        self.clock = clock
        self.shown = 0  # frames drawn and shown
        self._last_shown = -float("inf")
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
        now = self.clock()
        if self._open and self.fullscreen and not update.is_new and now - self._last_shown < self.min_interval:
            return None  # skipped; a key pressed now waits in Qt's queue for the next waitKey, 1/15 s away
        image = self.annotator.draw(update)
        if not self._open:
            self._create(image.shape[1], image.shape[0])
        elif cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            return Command.QUIT  # the user closed the window
        cv2.imshow(self.title, image)
        self._last_shown = now
        self.shown += 1
        return self._keys()

    def _keys(self) -> Command | None:
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            return Command.QUIT
        if key == ord("r"):
            return Command.RESET
        if key == ord("t"):
            return Command.TEACH
        if key == ord("f"):
            self.fullscreen = not self.fullscreen
            self._apply_fullscreen()
        return None

    def close(self) -> None:
        if self._open:
            self._open = False
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # lets the GUI thread actually remove the window
