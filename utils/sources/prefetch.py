"""Reads frames on one named thread so decoding overlaps with inference."""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
from typing import Union

from utils.sources.demand import Demand, DemandAware
from utils.sources.frame import Frame, FrameSource
from utils.sources.health import ONLINE, ReportsHealth, SourceHealth
from utils.sources.opencv import OpenCVSource
from utils.sources.reconnect import ReconnectingSource

log = logging.getLogger(__name__)

# A file may run ahead by about one classified frame's worth of frames (6 at 30 -> 5 fps), so
# decoding hides behind inference, but never by more than FILE_BUDGET bytes (two 1080p frames).
FILE_QUEUE = 8
FILE_BUDGET = 16 * 1024 * 1024
LIVE_QUEUE = 1   # a camera keeps only its newest frame
# A file's decoder runs at this niceness: while the model's threads want every core, they win,
# and decoding fills the queue in their gaps instead of stretching each invoke (see README, Performance).
FILE_NICENESS = 10
# read() returns within WAIT_S even when no frame comes (a stalled stream), so the loop sees Ctrl-C and SIGTERM
# and shows the outage; close() waits at most CLOSE_WAIT_S for a reader stuck in a read (a live source's read
# ends by itself within opencv.READ_TIMEOUT_S).
WAIT_S = 0.25
CLOSE_WAIT_S = 0.5
_END = None      # the item that marks the end of a file
_Item = Union["Frame", BaseException, None]


def queue_size(live: bool, frame_bytes: int = 0) -> int:
    """How many frames may wait: 1 for a live source; for a file up to 8, within FILE_BUDGET."""
    if live:
        return LIVE_QUEUE
    return max(2, min(FILE_QUEUE, FILE_BUDGET // frame_bytes)) if frame_bytes > 0 else FILE_QUEUE


def lower_thread_priority(niceness: int) -> None:
    """Makes the calling thread nicer (Linux sets niceness per thread); a no-op where that is refused."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + niceness)
    except (AttributeError, OSError) as e:  # not Linux, or a sandbox that forbids it: decoding just competes
        log.debug("cannot lower the capture thread's priority: %s", e)


class PrefetchSource:
    """Wraps a FrameSource and reads it on a daemon thread into a small queue.

    Files (`live=False`) lose no frame: the reader waits while the queue is full. Cameras and
    streams (`live=True`) never wait: when the consumer falls behind, the oldest queued frame is
    dropped for the newest and counted in `dropped`, as frigate does. An error on the reader
    thread is raised again by the next read(). The reader owns the wrapped source and closes it
    when it stops, so the source is never closed under a read in progress. `stop` may be shared
    with the wrapped source, so close() also ends a wait inside it (a reconnect's back-off).
    """

    def __init__(self, source: FrameSource, live: bool, maxsize: int | None = None, frame_bytes: int = 0,
                 name: str = "capture", niceness: int = 0, stop: threading.Event | None = None,
                 demand: Demand | None = None) -> None:
        """`demand` is handed to the wrapped source before the reader starts, so it applies from the first
        frame; the frames are sampled on the reader thread then (Frame.due)."""
        self.source = source
        if demand is not None and isinstance(source, DemandAware):
            source.set_demand(demand)
        self.live = live
        self.description = source.description
        self.nominal_fps = source.nominal_fps
        self.dropped = 0
        self.niceness = niceness
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize or queue_size(live, frame_bytes))
        self._stop = stop or threading.Event()
        self._ended = False
        self._closed = False
        self._thread = threading.Thread(target=self._reader, name=name, daemon=True)
        self._source_closed = threading.Event()  # the reader has closed its source: no native read runs on it any more
        self._thread.start()

    @property
    def health(self) -> SourceHealth:
        """The wrapped source's health: a reconnecting one can be offline."""
        return self.source.health if isinstance(self.source, ReportsHealth) else ONLINE

    @property
    def running(self) -> bool:
        """True while the reader thread is alive."""
        return self._thread.is_alive()

    def __enter__(self) -> PrefetchSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _reader(self) -> None:
        if self.niceness:
            lower_thread_priority(self.niceness)
        try:
            while not self._stop.is_set():
                try:
                    frame = self.source.read()
                except Exception as e:  # handed to the consumer, which raises it on its own thread
                    self._put(e)
                    return
                if isinstance(frame, SourceHealth):  # the wrapped source waits itself: the consumer asks health
                    continue
                self._put(frame)
                if frame is None:
                    return
        finally:
            self.source.close()
            self._source_closed.set()

    def _put(self, item: _Item) -> None:
        if not self.live or item is _END or isinstance(item, BaseException):
            # Waits for room, but wakes up to see whether close() was called.
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue
            return
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    dropped = self._queue.get_nowait()  # the consumer is behind: the newest frame wins
                    self.dropped += 1
                except queue.Empty:
                    continue
                if isinstance(dropped, Frame) and dropped.due and isinstance(item, Frame) and not item.due:
                    item = dataclasses.replace(item, due=True)  # ... and is classified in its place

    def read(self) -> Frame | SourceHealth | None:
        """The next frame; None once the source has ended (or is closed); the health when none came within WAIT_S."""
        if self._ended or self._closed:
            return None
        try:
            item = self._queue.get(timeout=WAIT_S)
        except queue.Empty:
            if not self._thread.is_alive() and self._queue.empty():  # ended without a word
                self._ended = True
                return None
            return self.health
        if item is _END:
            self._ended = True
            return None
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        return item

    def close(self, timeout: float = CLOSE_WAIT_S) -> None:
        """Stops the reader, drops what it queued and waits a moment for it; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._drain()  # a reader waiting for room wakes up and sees the stop
        interrupted = self._wait_for_reader(timeout)
        if not self._source_closed.is_set():  # a daemon thread: it cannot hold up the exit
            log.debug("%s: the capture thread is still inside a read after %.1f s; leaving it to end",
                      self.description, timeout)
        self._drain()
        if self.dropped:
            log.info("%s: dropped %d frame%s the classifier had no time for", self.description, self.dropped,
                     "" if self.dropped == 1 else "s")
        if interrupted:
            raise KeyboardInterrupt

    def _wait_for_reader(self, timeout: float) -> bool:
        """Waits up to `timeout` s for the reader to close its source, through a second Ctrl-C or SIGTERM too
        (returns whether one came): a reader that comes out of a native read (OpenCV's) while Python exits
        aborts the whole process ("Fatal Python error: Aborted", exit code 134). An event, not Thread.join: a
        join that a signal interrupts can take a running thread for ended (Python 3.11)."""
        deadline = time.monotonic() + timeout
        interrupted = False
        while not self._source_closed.is_set() and (left := deadline - time.monotonic()) > 0:
            try:
                self._source_closed.wait(left)
            except KeyboardInterrupt:
                interrupted = True
        if self._source_closed.is_set():
            try:
                self._thread.join(1.0)  # it only returns now
            except KeyboardInterrupt:
                interrupted = True
        return interrupted

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass


def prefetched(source: OpenCVSource, demand: Demand | None = None) -> PrefetchSource:
    """Decodes on a capture thread: a file loses no frame; a camera or stream keeps its newest, and is
    reopened after an outage."""
    if source.is_file:
        # Only a file's decoder yields to the model: a camera's frames are stamped on arrival, and a
        # starved capture thread would stamp them late.
        return PrefetchSource(source, live=False, frame_bytes=source.frame_bytes, niceness=FILE_NICENESS,
                              demand=demand)
    stop = threading.Event()
    return PrefetchSource(ReconnectingSource(source, stop), live=True, stop=stop, demand=demand)
