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
RETRY_DELAYS_S = (1.0, 2.0, 4.0)  # back-off between the attempts of one delivery
QUEUE_SIZE = 100                  # events waiting while the server is down; later ones are dropped


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """urllib follows a 301/302/303 with a GET without the body: the event would be lost and counted as
    delivered. A redirect is a failed delivery instead, whose warning names the URL to use."""

    def redirect_request(self, *args, **kwargs) -> None:
        return None


_OPENER = urllib.request.build_opener(_RefuseRedirects)


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
        self._outage = Outage(f"webhook {url}", "events are retried, then dropped")
        self._worker: BackgroundWorker[dict] = BackgroundWorker("webhook", self._deliver, maxsize=QUEUE_SIZE,
                                                                drain_seconds=timeout + 1.0)

    def on_start(self, event: Event) -> None:
        self._submit(event.record(START))

    def on_end(self, event: Event) -> None:
        self._submit(event.record(END))

    def _submit(self, record: dict) -> None:
        if not self._worker.submit(record):
            log.debug("webhook: queue full, dropped the %s of %s", record["type"], record["id"])

    def _deliver(self, record: dict) -> None:
        body = json.dumps(record).encode()
        for attempt, delay in enumerate((*self.retry_delays, None)):
            try:
                self._post(body)
            except (OSError, ValueError) as e:  # URLError, HTTPError, timeouts, refused connections
                self._outage.failed(f"cannot deliver ({failure(e)})")
                if delay is None or self._worker.stopping.wait(delay):
                    log.debug("webhook: gave up on the %s of %s after %d attempts", record["type"], record["id"],
                              attempt + 1)
                    return
            else:
                self.delivered += 1
                self._outage.ok()
                return

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with _OPENER.open(request, timeout=self.timeout) as response:
            response.read()

    def close(self) -> None:
        self._worker.close()

