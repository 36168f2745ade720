"""EventTracker: turns the stream of top-1 results into events with a start and an end (no I/O).

A watched action starts an event once it has been top-1 with a score at or above the threshold for
`min_seconds` of stream time, and the event ends once that action has been below the threshold (or not top-1)
for `end_seconds`. The gap between the two thresholds in time is the hysteresis: a single low frame inside an
event does not split it. Another watched action that qualifies for `min_seconds` ends the current event and
starts its own.

With a `floor` below the threshold, an action that stays top-1 at the floor or more for `floor_seconds` starts
an event too (a steady top-1 is evidence even at a modest score); an event then starts at the first result of
its run at the floor, and lasts while its action is top-1 at the floor.

With a `hold`, an event that has started lasts while its action is top-1 at `hold` or more (0: at any score);
the hold only keeps events going, it never starts one. A dimmed room lowers the score of an action that stays
top-1, and a threshold alone would end its event there. With a floor too, the lower of the two holds. It is off
by default (`--event-hold`): measured, it also makes some events outlast their action
(docs/research/short-actions.md).

With a `margin`, a top-1 that leads the second prediction by `margin` or more (its score minus the second's)
counts as at the threshold, to start an event (for `min_seconds`) and to keep it going: an action named steadily
at a modest score usually leads clearly, while a fresh stream's first guesses and the labels shown during a switch
tend to have a close second. The predictions must then hold at least two labels (a lone top-1 leads by nothing).
It has no flag: measured, it did not earn one (docs/research/short-actions.md); benchmarks/event_rule.py replays it.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from utils.config import ANY
from utils.events.event import END, START, Event
from utils.results import Prediction

TOLERANCE_S = 1e-6  # 0.6 - 0.2 is 0.39999999999999997 in floats: still 0.4 s
EVENT = "event"  # peak_of: whose peak score the last result raised
CANDIDATE = "candidate"


@dataclass(frozen=True)
class Change:
    """An event that started or ended on this result."""

    kind: str  # START or END
    event: Event


@dataclass
class _Run:
    """Consecutive results in which one label qualified: a candidate, or the event it became."""

    label: str
    start: float
    start_frame: int
    start_utc: datetime
    peak_score: float
    peak_frame: int
    strong_since: float | None  # since when it has been at the threshold or leading by the margin (None: not)


def event_id(label: str, start_utc: datetime) -> str:
    """Sorts by time, names the action, and is unique across restarts: 20250131T120000-waving-hand-3fa2c1."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:40] or "event"
    return f"{start_utc:%Y%m%dT%H%M%S}-{slug}-{secrets.token_hex(3)}"


class EventTracker:
    """Fed every classified result in stream order; returns the events that started or ended."""

    def __init__(self, watched: Collection[str], threshold: float = 0.6, min_seconds: float = 1.0,
                 end_seconds: float = 2.0, source: str = "",
                 new_id: Callable[[str, datetime], str] = event_id, *, floor: float | None = None,
                 floor_seconds: float = 2.0, hold: float | None = None, margin: float | None = None) -> None:
        if floor is not None and floor > threshold:
            raise ValueError(f"the floor ({floor}) is above the threshold ({threshold})")
        if hold is not None and hold > threshold:
            raise ValueError(f"the hold ({hold}) is above the threshold ({threshold})")
        if margin is not None and not 0 < margin <= threshold:
            raise ValueError(f"the margin ({margin}) is not above 0 and at most the threshold ({threshold})")
        self.watch_any = ANY in watched
        self.watched = frozenset(watched) - {ANY}
        self.threshold = threshold
        self.min_seconds = min_seconds
        self.end_seconds = end_seconds
        # Without a floor, the threshold is the floor and only min_seconds at it starts an event.
        self.floor = threshold if floor is None else floor
        self.floor_seconds = floor_seconds if floor is not None else float("inf")
        # An event lasts while its action is top-1 at this score: the floor's (the threshold's), or a lower hold.
        self.hold = self.floor if hold is None else min(hold, self.floor)
        self.margin = margin
        self.source = source
        self.new_id = new_id
        self.active: Event | None = None
        self.peak_of: str | None = None  # EVENT or CANDIDATE when the last update raised that run's peak
        self._run: _Run | None = None          # the candidate: qualifying, not yet long enough
        self._low_since: tuple[float, datetime] | None = None  # the active event's label is low since then
        self._last: tuple[float, datetime] | None = None

    def _leads(self, predictions: Sequence[Prediction]) -> bool:
        """The top-1 leads the second by the margin or more (never without a margin or a second)."""
        return (self.margin is not None and len(predictions) > 1
                and predictions[0].score - predictions[1].score >= self.margin - TOLERANCE_S)

    def _strong(self, predictions: Sequence[Prediction]) -> bool:
        """The top-1 is at the threshold, or leads the second by the margin."""
        return predictions[0].score >= self.threshold or self._leads(predictions)

    def _qualifying(self, predictions: Sequence[Prediction]) -> Prediction | None:
        """The top-1 if it is watched and at the floor (the threshold when there is no floor) or leads by the
        margin."""
        top = predictions[0] if predictions else None
        if top is None or (top.score < self.floor and not self._leads(predictions)):
            return None
        return top if self.watch_any or top.label in self.watched else None

    def _held(self, active: Event, predictions: Sequence[Prediction]) -> Prediction | None:
        """The top-1 if it is the active event's action at the hold's score or more, or leading by the margin."""
        top = predictions[0] if predictions else None
        if top is None or top.label != active.label:
            return None
        return top if top.score >= self.hold or self._leads(predictions) else None

    def update(self, frame: int, timestamp: float, predictions: Sequence[Prediction],
               now: datetime) -> list[Change]:
        """One classified result (its frame index, stream time and top predictions) seen at wall time `now`."""
        self._last = (timestamp, now)
        self.peak_of = None
        changes: list[Change] = []
        active = self.active
        if active is not None and (held := self._held(active, predictions)) is not None:
            self._low_since = None
            self._run = None  # a candidate of another label was interrupted
            if held.score > active.peak_score:
                self.active = dataclasses.replace(active, peak_score=held.score, peak_frame=frame)
                self.peak_of = EVENT
            return changes
        top = self._qualifying(predictions)
        if active is not None:
            if self._low_since is None:
                self._low_since = (timestamp, now)
            if timestamp - self._low_since[0] >= self.end_seconds - TOLERANCE_S:
                changes.append(self._end("ended"))
        self._follow_candidate(top, top is not None and self._strong(predictions), frame, timestamp, now)
        run = self._run
        if run is not None and self._long_enough(run, timestamp):
            if self.active is not None:
                changes.append(self._end("replaced"))
            self.active = Event(self.new_id(run.label, run.start_utc), run.label, self.source, run.start,
                                run.start_frame, run.start_utc, run.peak_score, run.peak_frame)
            self._run = None
            changes.append(Change(START, self.active))
        return changes

    def _long_enough(self, run: _Run, timestamp: float) -> bool:
        """The candidate has been strong for min_seconds, or top-1 at the floor for floor_seconds."""
        return ((run.strong_since is not None and timestamp - run.strong_since >= self.min_seconds - TOLERANCE_S)
                or timestamp - run.start >= self.floor_seconds - TOLERANCE_S)

    def _follow_candidate(self, top: Prediction | None, strong: bool, frame: int, timestamp: float,
                          now: datetime) -> None:
        """Starts, extends or drops the candidate run from this result's qualifying top-1 (or None); `strong`: at
        the threshold or leading by the margin."""
        if top is None:
            self._run = None
            return
        if self._run is None or self._run.label != top.label:
            self._run = _Run(top.label, timestamp, frame, now, top.score, frame, timestamp if strong else None)
            self.peak_of = CANDIDATE
            return
        if not strong:
            self._run.strong_since = None
        elif self._run.strong_since is None:
            self._run.strong_since = timestamp
        if top.score > self._run.peak_score:
            self._run.peak_score, self._run.peak_frame = top.score, frame
            self.peak_of = CANDIDATE

    def _end(self, reason: str) -> Change:
        assert self.active is not None
        end, end_utc = self._low_since or self._last or (self.active.start, self.active.start_utc)
        ended = self.active.ended(end, end_utc, reason)
        self.active, self._low_since = None, None
        return Change(END, ended)

    def finish(self) -> list[Change]:
        """The stream stopped: ends the event in progress (at its low run's start, else at the last result)."""
        self._run = None
        return [self._end("stopped")] if self.active is not None else []
