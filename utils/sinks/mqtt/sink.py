"""MqttSink: the current results as retained state, and events with their on/off states, on one broker."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

import cv2

from utils.events.event import END, START, Event
from utils.resize import shrink
from utils.results import Result
from utils.sinks.base import Command, Update
from utils.sinks.mqtt.publisher import MqttPublisher, Payload
from utils.sinks.mqtt.topics import OFF, ON, Topics, discovery_messages
from utils.sources.health import ONLINE

log = logging.getLogger(__name__)

STATE_INTERVAL = 1.0  # seconds between state messages while the top-1 label stays the same
SNAPSHOT_QUALITY = 80  # JPEG quality of the Snapshot image: about 40 kB for 640x480
# The Live image: at most this wide or high, at this JPEG quality; small enough for a Pi to encode now and then
# and for Home Assistant to hold in memory and send to every dashboard that shows it.
LIVE_MAX_SIDE = 640
LIVE_QUALITY = 70
# The state before the first result: the Action sensor says "none" at once after a restart instead of the
# label the broker kept from the last run. The keys of a result (a --json line), without a frame.
NO_RESULT = json.dumps({"frame": None, "timestamp": None, "inference_ms": None, "results": []})


class MqttSink:
    """Publishes <prefix>/<name>/state when the top-1 label changes, and at most once a second otherwise.

    Event starts and ends go to <prefix>/<name>/event (QoS 1) and switch <prefix>/<name>/active/<action>;
    the first classified frame of each event goes to <prefix>/<name>/snapshot (a retained JPEG);
    <prefix>/<name>/camera says whether the camera or stream delivers frames. With `live_image` (seconds), the
    camera's picture goes to <prefix>/<name>/live that often, not retained: a broker never holds a stale one.
    """

    needs_status = False
    wants_every_frame = False

    def __init__(self, publisher: MqttPublisher, watched: Sequence[str] = (), discovery: bool = True,
                 version: str = "", model: str = "", live_image: float | None = None,
                 web_link_pending: bool = False) -> None:
        self.publisher = publisher
        self.topics: Topics = publisher.topics
        self.watched = tuple(watched)
        self.live_interval = live_image
        self._live_due = -float("inf")  # the frame time the next live picture is due at
        self._discovery_of = (version, model) if discovery else None
        # With a web view on the network, discovery waits for its link (link_web_view): sent before it, every
        # entity would be announced twice at start, once without the device's "Visit" link.
        self._discovery = self._discovery_messages() if discovery and not web_link_pending else []
        self._state = NO_RESULT
        self._top: str | None = None
        self._last = -float("inf")
        self._active = {label: OFF for label in self.watched}
        self._camera = ONLINE
        self._snapshot: bytes | None = None
        self._snapshot_due = False

    def _discovery_messages(self, web_url: str | None = None) -> list[tuple[str, dict]]:
        assert self._discovery_of is not None
        return discovery_messages(self.topics, self.watched, *self._discovery_of, web_url,
                                  live_image=self.live_interval is not None)

    def link_web_view(self, url: str | None) -> None:
        """Gives the device in Home Assistant a link to the web view, and sends the discovery that waited for it
        (now if connected, else with the rest of the retained state at the connect)."""
        if self._discovery_of is None:
            return
        self._discovery = self._discovery_messages(url)
        for topic, payload in self._discovery:
            self.publisher.publish_state(topic, json.dumps(payload))

    def retained(self) -> list[tuple[str, Payload]]:
        """Everything a broker should hold for this camera: discovery, the latest state, the event states."""
        messages: list[tuple[str, Payload]] = [(topic, json.dumps(payload)) for topic, payload in self._discovery]
        messages.append((self.topics.state, self._state))
        messages += [(self.topics.active(label), state) for label, state in list(self._active.items())]
        messages.append((self.topics.camera, json.dumps(self._camera.as_dict())))
        if self._snapshot is not None:
            messages.append((self.topics.snapshot, self._snapshot))
        return messages

    def write(self, update: Update) -> Command | None:
        if update.status.source != self._camera:  # the camera or stream went offline, or came back
            self._camera = update.status.source
            self.publisher.publish_state(self.topics.camera, json.dumps(self._camera.as_dict()))
        if update.is_new and update.result:
            if self._snapshot_due:
                self._snapshot_due = False
                self.publish_snapshot(update.frame.image)
            self.publish_state(update.result)
        if self.live_interval is not None and self.publisher.connected:
            self._maybe_publish_live(update.frame.timestamp, update.frame.image)
        return None

    def _maybe_publish_live(self, timestamp: float, image) -> None:
        """The picture every `live_interval` seconds of the frames' time: on a schedule, so the rate holds on
        average whatever the frame rate; a jump (a reconnect, a restarted video) starts the schedule again."""
        due, interval = self._live_due, self.live_interval
        assert interval is not None
        if due - interval <= timestamp < due:
            return
        self._live_due = due + interval if due <= timestamp < due + interval else timestamp + interval
        height, width = image.shape[:2]
        scale = min(1.0, LIVE_MAX_SIDE / max(width, height))
        small = shrink(image, (max(1, round(width * scale)), max(1, round(height * scale))))
        ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, LIVE_QUALITY])
        if ok:
            self.publisher.publish(self.topics.live, jpeg.tobytes(), qos=0, retain=False)

    def publish_state(self, result: Result) -> None:
        top = result.predictions[0].label if result.predictions else None
        now = time.monotonic()
        if top == self._top and now - self._last < STATE_INTERVAL:
            return
        self._top, self._last = top, now
        self._state = json.dumps(result.as_dict())
        self.publisher.publish_state(self.topics.state, self._state)

    def publish_snapshot(self, image) -> None:
        """A BGR frame as the Snapshot image (retained, so Home Assistant shows it after a restart too)."""
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_QUALITY])
        if not ok:
            log.debug("MQTT: the snapshot could not be encoded")
            return
        self._snapshot = jpeg.tobytes()
        self.publisher.publish_state(self.topics.snapshot, self._snapshot)

    def publish_event(self, event: dict) -> None:
        """An event's start or end object (as in events.jsonl); switches its action's binary sensor. A start's
        snapshot is the next classified frame this sink gets: the frame whose result started the event (the
        events' sink comes before this one)."""
        self.publisher.publish(self.topics.event, json.dumps(event), qos=1)
        started = event.get("type") == START
        self._snapshot_due = self._snapshot_due or started
        for label in (event.get("label"), "any"):
            if label in self._active:
                self._active[label] = ON if started else OFF
                self.publisher.publish_state(self.topics.active(label), self._active[label])

    def close(self) -> None:
        self.publisher.close()


class MqttEventOutput:
    """The events as an EventOutput: each start and end object on <prefix>/<name>/event, and the action's
    binary sensor switched. The MQTT sink owns the connection and closes it after the events have ended."""

    def __init__(self, sink: MqttSink) -> None:
        self.sink = sink

    def on_start(self, event: Event) -> None:
        self.sink.publish_event(event.record(START))

    def on_end(self, event: Event) -> None:
        self.sink.publish_event(event.record(END))

    def close(self) -> None:
        pass
