"""Keeps a live camera or stream going: after a failed read it is reopened, with back-off, until it is back."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Sequence

import cv2

from utils.errors import ClassifierError
from utils.sources.demand import Demand
from utils.sources.frame import ClosingSource, Frame
from utils.sources.health import ONLINE, SourceHealth
from utils.sources.opencv import OpenCVSource

log = logging.getLogger(__name__)

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)  # the waits before each new try; the last one repeats


class ReconnectingSource(ClosingSource):
    """A live OpenCV source (camera or stream) that comes back after an outage.

    Runs on the capture thread. A failed read (an unplugged camera, a server that closed or stopped sending)
    starts an outage: logged once, reported by `health`, and ended by the first frame of a reopened source,
    logged once too. Frames are restamped on arrival, so index and time run on across reopens. `stop`, the
    capture thread's own, ends a back-off wait at once.
    """

    def __init__(self, source: OpenCVSource, stop: threading.Event, backoff: Sequence[float] = BACKOFF_S) -> None:
        self.description = source.description
        self.nominal_fps = source.nominal_fps
        self.health = ONLINE
        self._source: OpenCVSource | None = source
        self._reopen = source.reopen
        self._stop = stop
        self._backoff = backoff
        self._tries = 0
        self._index = 0
        self._start: float | None = None
        self._last_frame_time = time.time()

    def set_demand(self, demand: Demand | None) -> None:
        """Also the demand of every reopened capture (reopen() carries it over)."""
        if self._source is not None:
            self._source.set_demand(demand)

    @property
    def source(self) -> OpenCVSource | None:
        """The capture in use (None while it is being reopened)."""
        return self._source

    def read(self) -> Frame | None:
        """The next frame, however long the outage; None only once `stop` is set."""
        while not self._stop.is_set():
            if self._source is None:
                self._source = self._try_reopen()
                continue
            try:
                frame = self._source.read()
                problem = f"{self.description} ended"
            except (ClassifierError, cv2.error) as e:
                frame, problem = None, str(e)
            if frame is not None:
                return self._delivered(frame)
            self._source.close()
            self._source = None
            self._went_offline(problem)
        return None

    def _try_reopen(self) -> OpenCVSource | None:
        delay = self._backoff[min(self._tries, len(self._backoff) - 1)]
        self._tries += 1
        if self._stop.wait(delay):
            return None
        try:
            return self._reopen()
        except ClassifierError as e:  # still down: the outage goes on, already logged
            log.debug("%s: try %d failed: %s", self.description, self._tries, e)
            return None

    def _went_offline(self, problem: str) -> None:
        if self.health.online:
            self.health = SourceHealth(offline_since=self._last_frame_time)
            log.warning("camera offline since %s (%s); retrying", self.health.since_text, problem)

    def _delivered(self, frame: Frame) -> Frame:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        if not self.health.online:
            log.warning("camera back online after %.0f s (%s)", time.time() - (self.health.offline_since or 0),
                        self.description)
            self.health = ONLINE
        self._tries = 0
        self._last_frame_time = time.time()
        frame = dataclasses.replace(frame, timestamp=now - self._start, index=self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None
