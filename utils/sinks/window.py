"""An OpenCV window with the overlay: the monitor's view on a desktop."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import cv2

import utils.sinks.bare_x as bare_x
from utils.sinks.base import Command, Update
from utils.sinks.overlay import Annotator, draw_banner

log = logging.getLogger(__name__)

KEY_HELP = ("q or Esc: quit    r: restart the stream    f: full screen",
            "o: overlay full, compact or off    t: teach (--teach NAME)    h: hide these keys")
FEEDBACK_SECONDS = 3.0  # how long what a key did stays on the screen
FIRST_HINT = "h: show the keys"
# On an X server without a window manager Qt may miss the window's mapping and never paint it (bare_x.py): once
# the window has been open this long, and then every CHECK_EVERY_S, its middle is read back from the X server,
# and it is mapped again while it does not show the picture, up to MAX_REMAPS times. A picture too dark to tell
# from an unpainted window is checked again, up to MAX_CHECKS times in all.
FIRST_CHECK_S = 0.5
CHECK_EVERY_S = 1.0
MAX_REMAPS = 5
MAX_CHECKS = 30


class WindowSink:
    """An OpenCV window. Keys: q/ESC quit, r resets the stream, t teaches (--teach), f toggles full screen,
    o makes the overlay compact or hides it, h shows the keys. What a key did is shown for a few seconds."""

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
        self.help = False
        self._open = False
        self._check_at: float | None = None  # when the window is next read back (bare X server); None: done
        self._checks = self.remaps = 0
        self._feedback = FIRST_HINT
        self._feedback_until = float("inf")  # the hint stays until the first result has been on screen a while

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

    def say(self, text: str, now: float | None = None) -> None:
        """Shows what a key did for a few seconds."""
        self._feedback = text
        self._feedback_until = (self.clock() if now is None else now) + FEEDBACK_SECONDS

    def banner(self, now: float) -> list[str]:
        """The lines drawn over the video: the key help (h), and what the last key did."""
        lines = list(KEY_HELP) if self.help else []
        if self._feedback and now < self._feedback_until:
            lines.append(self._feedback)
        return lines

    def write(self, update: Update) -> Command | None:
        now = self.clock()
        if self._open and self.fullscreen and not update.is_new and now - self._last_shown < self.min_interval:
            return None  # skipped; a key pressed now waits in Qt's queue for the next waitKey, 1/15 s away
        image = self.annotator.draw(update)
        if update.result is not None and self._feedback_until == float("inf"):
            self._feedback_until = now + FEEDBACK_SECONDS
        if lines := self.banner(now):
            image = image.copy()  # the shared overlay is also the web view's: the banner is the window's own
            draw_banner(image, lines)
        if not self._open:
            self._create(image.shape[1], image.shape[0])
            self._check_at = now + FIRST_CHECK_S
        elif cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            return Command.QUIT  # the user closed the window
        elif self._check_at is not None and now >= self._check_at:
            self._check_painted(image, now)
        cv2.imshow(self.title, image)
        self._last_shown = now
        self.shown += 1
        return self._keys(update)

    def _check_painted(self, image, now: float) -> None:
        """Maps the window again if, on a bare X server, it does not show the picture (shown a frame ago)."""
        self._checks += 1
        painted = bare_x.shows(self.title, image) if self._checks > 1 or bare_x.on_bare_x() else True
        if painted is False and self.remaps < MAX_REMAPS and bare_x.remap_on_bare_x(self.title):
            self.remaps += 1
            log.info("window: Qt has not painted the window: mapped it again (an X server without a window manager)")
        done = painted is True or self.remaps >= MAX_REMAPS or self._checks >= MAX_CHECKS
        self._check_at = None if done else now + CHECK_EVERY_S

    def _keys(self, update: Update) -> Command | None:
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            return Command.QUIT
        if key == ord("r"):
            self.say("r: the stream starts afresh")
            return Command.RESET
        if key == ord("t"):
            what = update.status.teach_what
            self.say(f"t: teaching {what}" if what else "t: nothing to teach; start with --teach NAME")
            return Command.TEACH
        if key == ord("f"):
            self.fullscreen = not self.fullscreen
            self._apply_fullscreen()
        elif key == ord("o"):
            self.say(f"o: overlay {self.annotator.renderer.next_mode()}")
        elif key == ord("h"):
            self.help = not self.help
            self._feedback = ""
        return None

    def close(self) -> None:
        if self._open:
            self._open = False
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # lets the GUI thread actually remove the window
