"""MQTT and Home Assistant: every camera a device on an existing broker."""

from __future__ import annotations

import os
from collections.abc import Sequence

from utils.broker_url import mqtt_string_problem, parse_broker_url
from utils.config import MqttOptions
from utils.errors import ClassifierError
from utils.sinks.mqtt.publisher import MqttPublisher
from utils.sinks.mqtt.sink import MqttEventOutput, MqttSink
from utils.sinks.mqtt.topics import Topics, owned_filters

__all__ = ["MqttEventOutput", "MqttPublisher", "MqttSink", "Topics", "open_mqtt"]


def open_mqtt(options: MqttOptions, watched: Sequence[str] = (), version: str = "", model: str = "",
              web_link_pending: bool = False) -> MqttSink:
    """The MQTT sink for --mqtt, connecting in the background (or waiting for the broker with --mqtt-required);
    with `web_link_pending`, Home Assistant's discovery waits for the web view's link (link_web_view())."""
    assert options.mqtt is not None
    password = options.mqtt_password or os.environ.get("MQTT_PASSWORD") or None
    if password is not None and (problem := mqtt_string_problem(password)):
        raise ClassifierError(f"MQTT_PASSWORD {problem}")
    topics = Topics(options.mqtt_prefix, options.name)
    sink: MqttSink | None = None
    publisher = MqttPublisher(parse_broker_url(options.mqtt), topics, lambda: sink.retained() if sink else [],
                              password, options.mqtt_ca, owned=owned_filters(topics, options.ha_discovery))
    sink = MqttSink(publisher, watched, options.ha_discovery, version, model, options.mqtt_live_image,
                    web_link_pending)
    publisher.start(required=options.mqtt_required)
    return sink
