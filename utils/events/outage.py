"""Outage: one warning when an output stops working and one line when it works again, not one per event."""

from __future__ import annotations

import logging
import urllib.error

log = logging.getLogger(__name__)


class Outage:
    def __init__(self, what: str, consequence: str) -> None:
        self.what = what
        self.consequence = consequence  # e.g. "events are not saved until it works again"
        self.down = False
        self.failures = 0

    def failed(self, reason: object) -> None:
        self.failures += 1
        if self.down:
            log.debug("%s: still failing: %s", self.what, reason)
            return
        self.down = True
        log.warning("%s: %s; %s (classification goes on)", self.what, reason, self.consequence)

    def ok(self) -> None:
        if self.down:
            self.down = False
            log.info("%s: working again", self.what)


def describe(error: BaseException) -> str:
    """A short reason for a log line: 'No space left on device', 'HTTP 500', 'Connection refused'."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    reason = getattr(error, "reason", None) or error  # URLError wraps the socket's error
    return getattr(reason, "strerror", None) or str(reason) or type(error).__name__
