"""BackgroundWorker: one named thread that handles items from a bounded queue, off the main loop."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")
_STOP = object()


class BackgroundWorker(Generic[Item]):
    """Calls `handle(item)` on its own thread for every item given to `submit`, which never waits.

    When `maxsize` items are waiting, new ones are dropped and counted (the consumer is stuck, e.g. a server
    that never answers); `handle` must catch its own errors. close() lets the thread finish what is queued
    for up to `drain_seconds`, then leaves it (a daemon thread) so the app can exit.
    """

    def __init__(self, name: str, handle: Callable[[Item], None], maxsize: int = 100,
                 drain_seconds: float = 5.0) -> None:
        self.name = name
        self.handle = handle
        self.drain_seconds = drain_seconds
        self.dropped = 0
        self.submitted = self.handled = 0
        self.stopping = threading.Event()  # set by close(): a handler waiting to retry gives up sooner
        self._queue: queue.Queue[object] = queue.Queue(maxsize)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Item) -> bool:
        """Queues the item; False (and counted in `dropped`) when the queue is full or the worker closed."""
        if self._closed:
            return False
        try:
            self._queue.put_nowait(item)
            self.submitted += 1
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            try:
                self.handle(item)  # type: ignore[arg-type]
            except Exception:  # a bug in a handler must not kill the thread silently
                log.exception("%s: unexpected error", self.name)
            self.handled += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + self.drain_seconds
        while True:  # room for the stop marker even when the queue is full
            try:
                self._queue.put(_STOP, timeout=0.1)
                break
            except queue.Full:
                if time.monotonic() > deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join(1.0)
        pending = self.submitted - self.handled
        if pending or self.dropped:
            log.warning("%s: %d not done at exit, %d dropped while it was behind", self.name, pending, self.dropped)
