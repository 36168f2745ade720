"""MqttSink: the current results as retained state, and events with their on/off states, on one broker."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from utils.events.event import END, START, Event
from utils.results import Result
from utils.sinks.base import Command, Update
from utils.sinks.mqtt.publisher import MqttPublisher
from utils.sinks.mqtt.topics import OFF, ON, Topics, discovery_messages
from utils.sources.health import ONLINE

STATE_INTERVAL = 1.0  # seconds between state messages while the top-1 label stays the same


class MqttSink:
    """Publishes <prefix>/<name>/state when the top-1 label changes, and at most once a second otherwise.

    Event starts and ends go to <prefix>/<name>/event (QoS 1) and switch <prefix>/<name>/active/<action>;
    <prefix>/<name>/camera says whether the camera or stream delivers frames.
    """

    needs_status = False
    wants_every_frame = False

    def __init__(self, publisher: MqttPublisher, watched: Sequence[str] = (), discovery: bool = True,
                 version: str = "", model: str = "") -> None:
        self.publisher = publisher
        self.topics: Topics = publisher.topics
        self.watched = tuple(watched)
        self._discovery = discovery_messages(self.topics, self.watched, version, model) if discovery else []
        self._state: str | None = None
        self._top: str | None = None
        self._last = -float("inf")
        self._active = {label: OFF for label in self.watched}
        self._camera = ONLINE

    def retained(self) -> list[tuple[str, str]]:
        """Everything a broker should hold for this camera: discovery, the latest state, the event states."""
        messages = [(topic, json.dumps(payload)) for topic, payload in self._discovery]
        if self._state is not None:
            messages.append((self.topics.state, self._state))
        messages += [(self.topics.active(label), state) for label, state in self._active.items()]
        messages.append((self.topics.camera, json.dumps(self._camera.as_dict())))
        return messages

    def write(self, update: Update) -> Command | None:
        if update.status.source != self._camera:  # the camera or stream went offline, or came back
            self._camera = update.status.source
            self.publisher.publish(self.topics.camera, json.dumps(self._camera.as_dict()), qos=1, retain=True)
        if update.is_new and update.result:
            self.publish_state(update.result)
        return None

    def publish_state(self, result: Result) -> None:
        top = result.predictions[0].label if result.predictions else None
        now = time.monotonic()
        if top == self._top and now - self._last < STATE_INTERVAL:
            return
        self._top, self._last = top, now
        self._state = json.dumps(result.as_dict())
        if self.publisher.connected:  # else the connection publishes it (retained()), after "online"
            self.publisher.publish(self.topics.state, self._state, qos=0, retain=True)

    def publish_event(self, event: dict) -> None:
        """An event's start or end object (as in events.jsonl); switches its action's binary sensor."""
        self.publisher.publish(self.topics.event, json.dumps(event), qos=1)
        for label in (event.get("label"), "any"):
            if label in self._active:
                self._active[label] = ON if event.get("type") == "start" else OFF
                self.publisher.publish(self.topics.active(label), self._active[label], qos=1, retain=True)

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
