"""--webhook URL: POSTs each event's start and end object as JSON, on its own thread, with retries."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request

from utils.events.event import END, START, Event
from utils.events.outage import Outage, describe
from utils.events.worker import BackgroundWorker

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0
# Back-off between the attempts of one delivery; the last delay repeats for as long as the server is away (a
# Home Assistant that restarts takes 30-60 s): the events wait in order and arrive when it is back.
RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
QUEUE_SIZE = 100                  # events waiting while the server is down; later ones are dropped
# Answers that another attempt cannot change: the request itself is refused (a wrong path or secret, a payload the
# server will not take) or sent elsewhere. Any other failure (no answer, 5xx, 408 Request Timeout, 429 Too Many
# Requests) is tried again.
RETRIED_CODES = (408, 429)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """urllib follows a 301/302/303 with a GET without the body: the event would be lost and counted as
    delivered. A redirect is a failed delivery instead, whose warning names the URL to use."""

    def redirect_request(self, *args, **kwargs) -> None:
        return None


_OPENER = urllib.request.build_opener(_RefuseRedirects)


def final(error: BaseException) -> bool:
    """Whether a failed delivery would fail the same way every time: an HTTP 3xx or 4xx answer, a URL urllib
    refuses."""
    if isinstance(error, urllib.error.HTTPError):
        return 300 <= error.code < 500 and error.code not in RETRIED_CODES
    return isinstance(error, ValueError)


def failure(error: BaseException) -> str:
    """Why a delivery failed, for the log: 'HTTP 500', 'Connection refused', 'HTTP 301 to https://…: …'."""
    if isinstance(error, urllib.error.HTTPError) and error.headers and (location := error.headers.get("Location")):
        return f"{describe(error)} to {urllib.parse.urljoin(error.geturl(), location)}: give --webhook that URL"
    return describe(error)


class WebhookOutput:
    """POSTs start and end objects to `url`. A server that is down costs the loop nothing: deliveries wait in
    a bounded queue on the webhook thread, and an outage is one warning line."""

    def __init__(self, url: str, timeout: float = TIMEOUT_S,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS_S) -> None:
        self.url = url
        self.timeout = timeout
        self.retry_delays = retry_delays
        self.delivered = 0
        self._outage = Outage(f"webhook {url}", "events wait and are sent again until it answers")
        self._full = False  # the queue was full: said once, until a delivery gets through again
        self._refusal = ""  # the last refusal said: each new reason is one warning, not one per event
        self.refused = 0
        self._worker: BackgroundWorker[dict] = BackgroundWorker("webhook", self._deliver, maxsize=QUEUE_SIZE,
                                                                drain_seconds=timeout + 1.0)

    def on_start(self, event: Event) -> None:
        self._submit(event.record(START))

    def on_end(self, event: Event) -> None:
        self._submit(event.record(END))

    def _submit(self, record: dict) -> None:
        if not self._worker.submit(record) and not self._full:
            self._full = True
            log.warning("webhook %s: %d events wait for it already; later ones are dropped until it answers",
                        self.url, QUEUE_SIZE)

    def _deliver(self, record: dict) -> None:
        body = json.dumps(record).encode()
        attempt = 0
        while True:
            try:
                self._post(body)
            except (OSError, ValueError) as e:  # URLError, HTTPError, timeouts, refused connections
                if final(e):  # the same answer every time: the next event must not wait behind this one
                    self.refused += 1
                    reason = failure(e)
                    level = logging.WARNING if reason != self._refusal else logging.DEBUG
                    self._refusal = reason
                    log.log(level, "webhook %s: refused the %s of %s (%s); a refused event is not sent again",
                            self.url, record["type"], record["id"], reason)
                    return
                self._outage.failed(f"cannot deliver ({failure(e)})")
                delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
                attempt += 1
                if self._worker.stopping.wait(delay):  # the app is closing: close() counts what is left
                    return
            else:
                self.delivered += 1
                self._full = False  # a queue that fills up again is a new outage's, said again
                self._outage.ok()
                return

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with _OPENER.open(request, timeout=self.timeout) as response:
            response.read()

    def close(self) -> None:
        self._worker.close()

