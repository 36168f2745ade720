"""EventSink: feeds the event tracker from each result, the recorder from each frame, and tells the outputs."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime, timezone

import cv2
import numpy as np

from utils.config import EventOptions
from utils.events.event import START, Event
from utils.events.journal import JOURNAL_NAME, Journal
from utils.events.output import EventOutput
from utils.events.recorder import Recorder, Saved
from utils.events.recovery import close_interrupted_events
from utils.events.tracker import CANDIDATE, EVENT, Change, EventTracker
from utils.sinks.base import Command, Update
from utils.sinks.overlay import draw_overlay

log = logging.getLogger(__name__)


def snapshot_image(update: Update) -> np.ndarray:
    """The frame with the overlay, at the frame's own size (the overlay enlarges small frames to draw legibly)."""
    image = update.frame.image
    height, width = image.shape[:2]
    drawn = draw_overlay(image, update.result.predictions if update.result else (), update.status)
    if drawn.shape[:2] != (height, width):
        drawn = cv2.resize(drawn, (width, height), interpolation=cv2.INTER_AREA)
    return drawn


class EventSink:
    """Events from the results; clips and snapshots through the recorder (when recording); each start and end
    to every EventOutput. It comes first among the sinks, so the recorder copies frames before any overlay.

    When recording, the snapshot is written as the event starts (its peak so far) and replaced by the event's
    peak at the end; the end is announced once the clip is finished, with the files that exist. `interrupted`
    are the events an earlier run left open: each output hears their end first, as of any event.
    """

    def __init__(self, tracker: EventTracker, outputs: Sequence[EventOutput] = (),
                 recorder: Recorder | None = None, interrupted: Sequence[Event] = ()) -> None:
        self.tracker = tracker
        self.outputs = list(outputs)
        self.recorder = recorder
        self.interrupted = list(interrupted)
        self.needs_status = recorder is not None  # the snapshot shows the status lines
        self.wants_every_frame = recorder is not None  # the pre-roll and the clip hold every frame
        self.events: list[Event] = []  # every event that ended, for tests and the benchmark
        self._peaks: dict[str, Update] = {}  # EVENT/CANDIDATE -> the update with that run's peak score
        self._clip: str | None = None
        self._ending: dict[str, Event] = {}  # ended events waiting for the recorder to finish their files
        self._closed = False
        for event in self.interrupted:
            self._tell("on_end", event)

    def add_output(self, output: EventOutput) -> None:
        """Another consumer of the events (e.g. MQTT), told of every start and end from now on (and of the
        ends of the events an earlier run left open)."""
        self.outputs.append(output)
        for event in self.interrupted:
            self._tell("on_end", event, [output])

    def write(self, update: Update) -> Command | None:
        if not update.status.source.online:
            return None  # the dark stand-in frames of a camera outage are neither recorded nor results
        if self.recorder is not None:
            self.recorder.add_frame(update.frame.timestamp, update.frame.image)
        result = update.result
        if update.is_new and result is not None:
            changes = self.tracker.update(result.frame, result.timestamp, result.predictions,
                                          datetime.now(timezone.utc))
            if self.tracker.peak_of is not None and self.recorder is not None:
                # A copy: the window and web view draw their overlay onto this frame next.
                frame = dataclasses.replace(update.frame, image=update.frame.image.copy(), lores=None)
                self._peaks[self.tracker.peak_of] = dataclasses.replace(update, frame=frame)
            self._apply(changes)
        if self._ending:
            self._announce(self.recorder.take_saved() if self.recorder else [])
        return None

    def _apply(self, changes: list[Change]) -> None:
        for change in changes:
            if change.kind == START:
                self._started(change.event)
            else:
                self._ended(change.event)

    def _started(self, event: Event) -> None:
        log.info("event: %s started at %.1f s (%s)", event.label, event.start, event.id)
        if self.recorder is not None:
            self._clip = self.recorder.start_clip(event.id, event.start)
            if CANDIDATE in self._peaks:
                self._peaks[EVENT] = self._peaks.pop(CANDIDATE)
            if EVENT in self._peaks:  # at once: a kill or power loss later still leaves a snapshot
                self.recorder.save_snapshot(event.id, snapshot_image(self._peaks[EVENT]))
        self._tell("on_start", event)

    def _ended(self, event: Event) -> None:
        log.info("event: %s ended at %.1f s after %.1f s (%s)", event.label, event.end or 0.0,
                 event.duration or 0.0, event.reason)
        if self.recorder is None:
            self._announced(event)
            return
        peak = self._peaks.pop(EVENT, None)
        self.recorder.end_event(event.id, self._clip, event.end or event.start,
                                snapshot_image(peak) if peak is not None else None)
        self._clip = None
        self._ending[event.id] = event

    def _announce(self, saved: Sequence[Saved]) -> None:
        """Announces the ends whose files the recorder has finished, listing only the files that exist."""
        for outcome in saved:
            event = self._ending.pop(outcome.event_id, None)
            if event is None:
                continue
            if outcome.lost:
                log.warning("event %s: not saved: %s (see the warning above)", event.id, ", ".join(outcome.lost))
            self._announced(dataclasses.replace(event, files=outcome.written, lost=outcome.lost))

    def _announced(self, event: Event) -> None:
        self.events.append(event)
        self._tell("on_end", event)

    def _tell(self, method: str, event: Event, outputs: Sequence[EventOutput] | None = None) -> None:
        for output in self.outputs if outputs is None else outputs:
            try:
                getattr(output, method)(event)
            except Exception as e:  # outputs fail softly by contract; a bug in one must not stop the others
                log.warning("event output %s failed: %s", type(output).__name__, e)

    def close(self) -> None:
        """Ends the event in progress (stopped or end of the source), finishes its files, closes the outputs."""
        if self._closed:
            return
        self._closed = True
        self._apply(self.tracker.finish())
        if self.recorder is not None:
            self.recorder.close()
            self._announce(self.recorder.take_saved())
            # The recorder did not finish in time: the files as they are.
            self._announce([self.recorder.saved_so_far(event_id) for event_id in list(self._ending)])
        for output in self.outputs:
            try:
                output.close()
            except Exception as e:
                log.warning("event output %s: %s", type(output).__name__, e)


def make_event_sink(options: EventOptions, source_description: str = "", source_fps: float = 0.0,
                    live: bool = True) -> EventSink:
    """The tracker, journal, recorder, webhook and GPIO pins the options ask for. The outputs that can refuse
    to start come first: the journal, which makes the events folder, only once they stand."""
    outputs: list[EventOutput] = []
    recorder = None
    try:
        if options.gpio:
            from utils.events.gpio import GpioOutput  # gpiozero only where GPIO is used

            outputs.append(GpioOutput(options.gpio))
        if options.webhook:
            from utils.events.webhook import WebhookOutput

            outputs.append(WebhookOutput(options.webhook))
        outputs.insert(0, Journal(options.events_dir))  # first: the journal has an event before the others act
        interrupted = close_interrupted_events(options.events_dir)  # the folder exists now
        if options.record:
            recorder = Recorder(options.events_dir, options.pre_roll, options.post_roll, options.start_lead,
                                options.events_max_mb, source_fps, live)
    except BaseException:
        for output in outputs:
            output.close()
        raise
    tracker = EventTracker(options.event, options.event_threshold, options.event_min_seconds,
                           options.event_end_seconds, source_description, floor=options.event_floor,
                           floor_seconds=options.event_floor_seconds, hold=options.event_hold)
    floor = ("" if options.event_floor is None else
             f", or top-1 at >= {options.event_floor:g} for {options.event_floor_seconds:g} s")
    below = f"{tracker.hold:g} or not top-1" if tracker.hold < options.event_threshold else "the threshold"
    log.info("events: watching %s (score >= %g for %g s%s, ended after %g s below %s); journal %s",
             ", ".join(map(repr, options.event)), options.event_threshold, options.event_min_seconds, floor,
             options.event_end_seconds, below, options.events_dir / JOURNAL_NAME)
    return EventSink(tracker, outputs, recorder, interrupted)
