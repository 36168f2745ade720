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

APP = "pi-action-classifier"
DISCOVERY_PREFIX = "homeassistant"
ONLINE, OFFLINE = "online", "offline"
ON, OFF = "ON", "OFF"


def slug(text: str) -> str:
    """A Home Assistant id piece: lower case letters, digits and underscores."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"


@dataclass(frozen=True)
class Topics:
    """<prefix>/<name>/availability, /state, /event, /camera, and /active/<action> for each watched action."""

    prefix: str
    name: str
    base: str = field(init=False)
    availability: str = field(init=False)
    state: str = field(init=False)
    event: str = field(init=False)
    camera: str = field(init=False)

    def __post_init__(self) -> None:
        base = f"{self.prefix}/{self.name}"
        for key, value in (("base", base), ("availability", f"{base}/availability"),
                           ("state", f"{base}/state"), ("event", f"{base}/event"), ("camera", f"{base}/camera")):
            object.__setattr__(self, key, value)  # frozen: set once, here

    def active(self, label: str) -> str:
        return f"{self.base}/active/{slug(label)}"


def discovery_messages(topics: Topics, watched: Sequence[str], version: str,
                       model: str) -> list[tuple[str, dict]]:
    """(topic, payload) of every discovery config: the Action and Action score sensors, the Camera
    connectivity sensor (off while the camera or stream is offline), and one binary sensor per watched
    action ("any" is one binary sensor for whichever action has an event)."""
    node = slug(f"{topics.prefix}_{topics.name}")
    device = {"identifiers": [node], "name": topics.name, "manufacturer": APP, "model": model,
              "sw_version": version}
    common = {"availability_topic": topics.availability, "payload_available": ONLINE,
              "payload_not_available": OFFLINE, "device": device,
              "origin": {"name": APP, "sw_version": version}}
    entity = slug(topics.name)

    def config(component: str, key: str, fields: dict) -> tuple[str, dict]:
        payload = {**fields, "unique_id": f"{node}_{key}", "default_entity_id": f"{component}.{entity}_{key}",
                   **common}
        return f"{DISCOVERY_PREFIX}/{component}/{node}/{key}/config", payload

    messages = [
        config("sensor", "action", {
            "name": "Action", "icon": "mdi:motion-sensor", "state_topic": topics.state,
            "value_template": "{{ value_json.results[0].label if value_json.results else 'none' }}",
            "json_attributes_topic": topics.state,
            "json_attributes_template": "{{ {'results': value_json.results, 'frame': value_json.frame} | tojson }}",
        }),
        config("sensor", "action_score", {
            "name": "Action score", "icon": "mdi:percent", "state_topic": topics.state,
            "value_template": "{{ value_json.results[0].score if value_json.results else 0 }}",
            "state_class": "measurement", "suggested_display_precision": 2,
        }),
    ]
    messages.append(config("binary_sensor", "camera", {
        "name": "Camera", "device_class": "connectivity", "state_topic": topics.camera,
        "value_template": "{{ 'ON' if value_json.online else 'OFF' }}",
        "json_attributes_topic": topics.camera,
    }))
    for label in watched:
        messages.append(config("binary_sensor", f"event_{slug(label)}", {
            "name": "Any event" if label == "any" else label.capitalize(), "icon": "mdi:run",
            "state_topic": topics.active(label), "payload_on": ON, "payload_off": OFF,
        }))
    return messages
