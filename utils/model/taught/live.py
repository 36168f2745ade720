"""Teaching from a live source: a countdown to get into the picture, a few seconds recorded, the action saved.

Driven by the pipeline, frame by frame, on the frames' own clock (a camera's seconds), so a person alone at
the Pi can press `t` (or the web view's button), step in front of the camera and watch the countdown.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Callable

from utils.errors import ClassifierError
from utils.model.taught.examples import ExampleRecorder
from utils.model.taught.features import Observe
from utils.model.taught.store import ActionStore, ModelIdentity, Session, TaughtAction, background_hint, background_left

log = logging.getLogger(__name__)

OUTCOME_SECONDS = 4.0  # how long "taught ..." stays on the screen


class Phase(enum.Enum):
    IDLE = "idle"
    COUNTDOWN = "countdown"
    RECORDING = "recording"


class LiveTeaching:
    """One action taught again and again from a live source; each start() is one session of `seconds`."""

    def __init__(self, name: str, seconds: float, countdown: float, store: ActionStore, model: ModelIdentity,
                 observe: Observe, rate: float, window_frames: int, source: str,
                 learned: Callable[[str, TaughtAction | None], None], background: bool = False) -> None:
        """`learned(name, action)` is called with the action as it is after a session, or after an undo (None:
        the action is gone). With `background`, each session records the background of the taught action `name`."""
        self.name, self.seconds, self.countdown = name, seconds, countdown
        self.background = background
        self.what = f"the background of '{name}'" if background else f"'{name}'"  # what a session teaches
        self.store, self.model, self.observe = store, model, observe
        self.rate, self.window_frames, self.source = rate, window_frames, source
        self.learned = learned
        self.phase = Phase.IDLE
        self._requested = False
        self._now = 0.0
        self._until = 0.0  # when the countdown or the recording ends
        self._outcome = ""
        self._outcome_until = -math.inf
        self._outcome_first = False  # shown over the countdown: an undo refused while a session is under way
        self._recorder = ExampleRecorder(rate, window_frames)

    def start(self) -> None:
        """Begins a session at the next frame (the t key, the web view's button, or a --teach run's start)."""
        if self.phase is not Phase.IDLE or self._requested:
            log.info("already teaching %r", self.name)
            return
        self._requested = True

    def starts_recording(self, timestamp: float) -> bool:
        """Called before each frame is sampled. True when the recording begins at this frame: the stream must be
        reset then, so the examples come from a fresh stream as when teaching from a file."""
        self._now = timestamp
        if self._requested:
            self._requested = False
            self.phase, self._until = Phase.COUNTDOWN, timestamp + self.countdown
            log.info("teaching %s: recording %g s of video starts in %g s", self.what, self.seconds, self.countdown)
        if self.phase is Phase.COUNTDOWN and timestamp >= self._until:
            self.phase, self._until = Phase.RECORDING, timestamp + self.seconds
            self._recorder = ExampleRecorder(self.rate, self.window_frames)
            log.info("teaching %s: recording", self.what)
            return True
        if self.phase is Phase.RECORDING and timestamp >= self._until:
            self._finish()
        return False

    def classified(self) -> None:
        """Called after each classified frame."""
        if self.phase is Phase.RECORDING:
            self._recorder.add(self.observe())

    def undo(self) -> None:
        """Forgets the action's last session (the web view's undo button); its only session: the action."""
        if self.phase is not Phase.IDLE or self._requested:
            self._show(f"nothing undone: teaching {self.what} is under way; undo it once it is saved", first=True)
            log.info("%s", self._outcome)
            return
        try:
            action, background = self.store.remove_last_session(self.name)
        except ClassifierError as e:  # nothing taught yet: the run goes on
            self._show(f"nothing undone: '{self.name}' has no taught session")
            log.warning("nothing to undo: %s", e)
            return
        self.learned(self.name, action)
        if action is None:
            self._show(f"undid the last session of '{self.name}', which was its only one: it is gone")
        elif background:
            self._show(f"undid the last background session of '{self.name}': {background_left(action)}")
        else:
            self._show(f"undid the last session of '{self.name}': {action.summary}")
        log.info("%s", self._outcome)

    def end(self) -> None:
        """The run ends (Ctrl-C, the end of the stream): a session under way is lost, and the user is told."""
        if self.phase is Phase.RECORDING:
            log.warning("teaching %s was cut short after %.1f of %g s of video: nothing saved; teach it again",
                        self.what, self._recorder.seconds, self.seconds)
        elif self.phase is Phase.COUNTDOWN or self._requested:
            log.warning("teaching %s was cut short before its recording began: nothing saved", self.what)
        self.phase, self._requested = Phase.IDLE, False

    def _finish(self) -> None:
        self.phase = Phase.IDLE
        recorder = self._recorder
        if not len(recorder):
            self._show(f"not taught: {recorder.seconds:.1f} s of video came, at least 1 s is needed")
            log.warning("teaching %s: %s", self.what, self._outcome)
            return
        session = Session(round(recorder.seconds, 3), len(recorder), self.window_frames, self.rate, self.source)
        try:
            action = (self.store.add_background if self.background else self.store.add)(
                self.name, self.model, recorder.examples, session)
        except ClassifierError as e:  # a disk that filled up since the start: the run goes on, as it was
            self._show(f"not taught: {self.what} could not be saved (see the log)")
            log.warning("teaching %s: nothing saved: %s", self.what, e)
            return
        if self.background:
            self._show(f"recorded the background of '{self.name}': {len(recorder)} examples "
                       f"({action.background_seconds:.1f} s in all)")
        else:
            self._show(f"taught '{self.name}': {len(recorder)} new examples ({action.summary})" + (
                "; teach it again later for an action that holds (t)" if len(action.sessions) == 1 else ""))
        self.learned(self.name, action)
        log.info("%s, saved in %s", self._outcome, self.store.path(self.name))
        if action.background is None:
            log.info("%s", background_hint(self.name))

    def _show(self, outcome: str, first: bool = False) -> None:
        """`outcome` is the notice for OUTCOME_SECONDS; `first`: even over the countdown of a session."""
        self._outcome, self._outcome_until, self._outcome_first = outcome, self._now + OUTCOME_SECONDS, first

    @property
    def notice(self) -> str:
        """What the screen says about the teaching now ("" when there is nothing to say)."""
        left = max(1, math.ceil(self._until - self._now - 1e-6))
        if self._outcome_first and self._now < self._outcome_until:
            return self._outcome
        if self.phase is Phase.COUNTDOWN:
            return f"teaching {self.what}: get ready, recording in {left}"
        if self.phase is Phase.RECORDING:
            return f"teaching {self.what}: recording, {left} s left"
        return self._outcome if self._now < self._outcome_until else ""
