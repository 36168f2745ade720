"""The MQTT topics of one camera, and the Home Assistant discovery messages that describe them.

Pure functions: nothing here talks to a broker. Discovery follows Home Assistant's per-entity MQTT
discovery (homeassistant/<component>/<node_id>/<object_id>/config, retained): a stable unique_id and
device identifiers keep the entities across restarts; default_entity_id (which replaced object_id in
Home Assistant 2025.10) suggests the entity ids.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from utils.events.event import END, START

APP = "pi-action-classifier"
DISCOVERY_PREFIX = "homeassistant"
ONLINE, OFFLINE = "online", "offline"
ON, OFF = "ON", "OFF"
EVENT_TYPES = (START, END)  # the "type" of the event objects, as in events.jsonl


def slug(text: str) -> str:
    """A Home Assistant id piece: lower case letters, digits and underscores."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"


@dataclass(frozen=True)
class Topics:
    """<prefix>/<name>/availability, /state, /event, /camera, /snapshot, /live, and /active/<action> for each
    watched action."""

    prefix: str
    name: str
    base: str = field(init=False)
    availability: str = field(init=False)
    state: str = field(init=False)
    event: str = field(init=False)
    camera: str = field(init=False)
    snapshot: str = field(init=False)
    live: str = field(init=False)

    def __post_init__(self) -> None:
        base = f"{self.prefix}/{self.name}"
        for key in ("availability", "state", "event", "camera", "snapshot", "live"):
            object.__setattr__(self, key, f"{base}/{key}")  # frozen: set once, here
        object.__setattr__(self, "base", base)

    def active(self, label: str) -> str:
        return f"{self.base}/active/{slug(label)}"


# The event entity's payload: Home Assistant wants a JSON object with `event_type`; the other keys become
# the event's attributes. The score is in percent, like the Action score sensor.
EVENT_TEMPLATE = ("{{ {'event_type': value_json.type, 'label': value_json.label, 'id': value_json.id, "
                  "'score': (value_json.peak_score * 100) | round(1), "
                  "'duration': value_json.get('duration'), 'reason': value_json.get('reason')} | tojson }}")


def discovery_topic(topics: Topics, component: str, key: str) -> str:
    return f"{DISCOVERY_PREFIX}/{component}/{slug(f'{topics.prefix}_{topics.name}')}/{key}/config"


def owned_filters(topics: Topics, discovery: bool) -> tuple[str, ...]:
    """The retained topics only this camera publishes, as topic filters: every action's on/off state and, with
    discovery, every entity's config. A connect removes what earlier runs left there that this run does not
    publish (an action no longer watched, the Live image of a run with --mqtt-live-image), before it says "online"."""
    active = f"{topics.base}/active/+"
    configs = f"{DISCOVERY_PREFIX}/+/{slug(f'{topics.prefix}_{topics.name}')}/+/config"
    return (active, configs) if discovery else (active,)


def discovery_messages(topics: Topics, watched: Sequence[str], version: str, model: str,
                       web_url: str | None = None, live_image: bool = False) -> list[tuple[str, dict]]:
    """(topic, payload) of every discovery config: the Action and Action score sensors, the Camera
    connectivity sensor (off while the camera or stream is offline, a diagnostic), with `live_image` the Live
    image (the camera's picture every few seconds), and with events: the Event entity (each start and end), the
    Snapshot image (the latest event's first frame) and one binary sensor per watched action ("any" is one
    binary sensor for whichever action has an event).

    No entity carries per-result attributes: Home Assistant's recorder stores a new attributes row whenever
    they change, which would be once a second. The full top-k stays on the state topic.
    """
    node = slug(f"{topics.prefix}_{topics.name}")
    device = {"identifiers": [node], "name": topics.name, "manufacturer": APP, "model": model,
              "sw_version": version}
    if web_url:
        device["configuration_url"] = web_url
    common = {"availability_topic": topics.availability, "payload_available": ONLINE,
              "payload_not_available": OFFLINE, "device": device,
              "origin": {"name": APP, "sw_version": version}}
    entity = slug(topics.name)

    def config(component: str, key: str, fields: dict) -> tuple[str, dict]:
        payload = {**fields, "unique_id": f"{node}_{key}", "default_entity_id": f"{component}.{entity}_{key}",
                   **common}
        return discovery_topic(topics, component, key), payload

    messages = [
        config("sensor", "action", {
            "name": "Action", "icon": "mdi:motion-sensor", "state_topic": topics.state,
            "value_template": "{{ value_json.results[0].label if value_json.results else 'none' }}",
        }),
        config("sensor", "action_score", {
            "name": "Action score", "icon": "mdi:percent", "state_topic": topics.state,
            "value_template": "{{ (value_json.results[0].score * 100) | round | int if value_json.results else 0 }}",
            "unit_of_measurement": "%", "state_class": "measurement", "suggested_display_precision": 0,
        }),
        config("binary_sensor", "camera", {
            "name": "Camera", "device_class": "connectivity", "entity_category": "diagnostic",
            "state_topic": topics.camera, "value_template": "{{ 'ON' if value_json.online else 'OFF' }}",
            "json_attributes_topic": topics.camera,  # changes only with the camera's health
        }),
    ]
    if live_image:
        # The picture itself on image_topic (raw JPEG bytes): Home Assistant keeps the last one in memory and
        # serves it. url_topic would make it fetch a URL, which needs a web view it can reach without a login.
        messages.append(config("image", "live", {
            "name": "Live", "icon": "mdi:cctv", "image_topic": topics.live, "content_type": "image/jpeg",
        }))
    if not watched:
        return messages
    messages += [
        config("event", "event", {
            "name": "Event", "icon": "mdi:run", "state_topic": topics.event, "event_types": list(EVENT_TYPES),
            "value_template": EVENT_TEMPLATE,
        }),
        config("image", "snapshot", {
            "name": "Snapshot", "image_topic": topics.snapshot, "content_type": "image/jpeg",
        }),
    ]
    for label in watched:
        messages.append(config("binary_sensor", f"event_{slug(label)}", {
            "name": "Any event" if label == "any" else label.capitalize(), "icon": "mdi:run",
            "state_topic": topics.active(label), "payload_on": ON, "payload_off": OFF,
        }))
    return messages
