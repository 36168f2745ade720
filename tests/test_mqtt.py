"""MQTT and Home Assistant discovery against a real mosquitto broker started by each test on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, LABELS, MODEL, REPO, Mosquitto, free_port, need_binary, run_cli

from utils.broker_url import parse_broker_url
from utils.sinks.mqtt.publisher import MqttPublisher
from utils.sinks.mqtt.sink import LIVE_MAX_SIDE
from utils.sinks.mqtt.topics import Topics, discovery_messages, discovery_topic

PREFIX, NAME = "pi-action", "kitchen"


class Subscriber:
    """A real paho client that records every message of the test's topics, retained ones included."""

    def __init__(self, port: int, topics: tuple[str, ...] = ("pi-action/#", "homeassistant/#"),
                 client_id: str = "", persistent: bool = False) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=not persistent)
        self.client.on_connect = lambda c, u, f, rc, p: [c.subscribe(t, qos=1) for t in topics]
        self.client.on_message = self._record
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _record(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append(message)

    def raw(self, topic: str) -> list[bytes]:
        with self.lock:
            return [m.payload for m in self.messages if m.topic == topic]

    def on(self, topic: str) -> list[str]:
        with self.lock:
            return [m.payload.decode() for m in self.messages if m.topic == topic]

    def wait_for(self, check: Callable[[], object], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        with self.lock:
            seen = sorted({m.topic for m in self.messages})
        raise AssertionError(f"not seen within {timeout} s; topics seen: {seen}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def classify(*args: str, **popen) -> subprocess.Popen:
    command = [sys.executable, str(REPO / "classify.py"), "--model", str(MODEL), "--labels", str(LABELS),
               "--display", "none", "--json", "--name", NAME, *args]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **popen.pop("env", {})}, **popen)


TOPICS = Topics(PREFIX, NAME)


def test_a_run_publishes_availability_state_and_discovery(mosquitto):
    subscriber = Subscriber(mosquitto.port)
    try:
        done = run_cli("--video", str(CARVING_ICE), "--display", "none", "--json", "--mqtt", mosquitto.url,
                       "--name", NAME)
        assert done.returncode == 0, done.stderr
        subscriber.wait_for(lambda: subscriber.on(TOPICS.availability)[-1:] == ["offline"])
        assert subscriber.on(TOPICS.availability)[0] == "online"
        states = [json.loads(s) for s in subscriber.on(TOPICS.state)]
        assert states and states[-1]["results"][0]["label"] == "carving ice"
        assert set(states[-1]) == set(done.records[-1])  # the shape of a --json line
        # The top-1 label stays "carving ice": at most one state a second (the clip runs faster than real time).
        assert len(states) < len(done.records)
        configs = {m.topic: json.loads(m.payload) for m in subscriber.messages
                   if m.topic.startswith("homeassistant/") and m.payload}
        assert subscriber.on(discovery_topic(TOPICS, "image", "live")) == [], "no Live image without the flag"
        assert set(configs) == {"homeassistant/sensor/pi_action_kitchen/action/config",
                                "homeassistant/sensor/pi_action_kitchen/action_score/config",
                                "homeassistant/binary_sensor/pi_action_kitchen/camera/config"}
        published = {m.topic for m in subscriber.messages}
        for config in configs.values():
            assert config["state_topic"] in published and config["availability_topic"] == TOPICS.availability
            assert config["device"]["identifiers"] == ["pi_action_kitchen"]
        assert "MQTT: connected to mqtt://127.0.0.1" in done.stderr
    finally:
        subscriber.close()
    # What a newcomer (Home Assistant after a restart) finds on the broker: everything retained.
    late = Subscriber(mosquitto.port)
    try:
        late.wait_for(lambda: late.on(TOPICS.availability) == ["offline"] and late.on(TOPICS.state)
                      and len([m for m in late.messages if m.topic.startswith("homeassistant/")]) == 3)
    finally:
        late.close()


def test_killed_app_goes_offline_through_the_last_will(mosquitto):
    subscriber = Subscriber(mosquitto.port)
    app = classify("--video", str(ARM_WRESTLING), "--realtime", "--mqtt", mosquitto.url)
    try:
        subscriber.wait_for(lambda: subscriber.on(TOPICS.state))
        assert subscriber.on(TOPICS.availability) == ["online"]
        app.kill()
        app.wait(10)
        subscriber.wait_for(lambda: subscriber.on(TOPICS.availability)[-1:] == ["offline"])
    finally:
        app.kill()
        app.communicate()
        subscriber.close()


def test_broker_down_at_start_is_one_line_and_connects_when_it_appears(tmp_path):
    broker = Mosquitto(tmp_path, need_binary("mosquitto", "mosquitto"))  # configured, not running yet
    app = classify("--video", str(ARM_WRESTLING), "--realtime", "--mqtt", broker.url)
    try:
        first = app.stdout.readline()  # classifying without the broker
        assert json.loads(first)["frame"] == 0
        broker.start()
        subscriber = Subscriber(broker.port)
        try:
            subscriber.wait_for(lambda: subscriber.on(TOPICS.state))
        finally:
            subscriber.close()
        out, err = app.communicate(timeout=60)
        assert app.returncode == 0, err
        assert err.count("MQTT: cannot reach") == 1 and "MQTT: connected again to" in err
        assert "Traceback" not in err
    finally:
        app.kill()
        broker.stop()


def test_events_published_while_the_broker_is_down_arrive_once_after_it_restarts(mosquitto):
    listener = Subscriber(mosquitto.port, (TOPICS.event,), client_id="listener", persistent=True)
    publisher = MqttPublisher(parse_broker_url(mosquitto.url), TOPICS, lambda: [])
    publisher.start(required=True)
    try:
        publisher.publish(TOPICS.event, json.dumps({"id": 0}), qos=1)
        listener.wait_for(lambda: listener.on(TOPICS.event))
        mosquitto.stop()
        deadline = time.monotonic() + 10
        while publisher.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.perf_counter()
        for i in range(1, 21):  # while the broker is away: queued, never blocking
            publisher.publish(TOPICS.event, json.dumps({"id": i}), qos=1)
        assert time.perf_counter() - started < 0.5
        mosquitto.start()
        listener.wait_for(lambda: len(listener.on(TOPICS.event)) >= 21, timeout=60)
        time.sleep(0.5)  # a duplicate would arrive right behind
        assert sorted(json.loads(p)["id"] for p in listener.on(TOPICS.event)) == list(range(21))
    finally:
        publisher.close()
        listener.close()


def test_wrong_password_is_one_line_and_classifying_goes_on(tmp_path):
    broker = Mosquitto(tmp_path, need_binary("mosquitto", "mosquitto"), users={"pi": "right"})
    broker.start()
    try:
        url = f"mqtt://pi@127.0.0.1:{broker.port}"
        done = run_cli("--video", str(CARVING_ICE), "--display", "none", "--json", "--mqtt", url,
                       env={"MQTT_PASSWORD": "wrong"})
        assert done.returncode == 0 and done.records[-1]["results"][0]["label"] == "carving ice"
        assert "refused the connection" in done.stderr and "MQTT is off" in done.stderr
        assert [line.startswith("MQTT:") for line in done.stderr.splitlines()].count(True) == 1, done.stderr
        required = run_cli("--video", str(CARVING_ICE), "--display", "none", "--mqtt", url, "--mqtt-required",
                           env={"MQTT_PASSWORD": "wrong"})
        assert required.returncode == 2 and "Traceback" not in required.stderr
        assert required.stderr.strip().splitlines()[-1].startswith("classify.py: error: --mqtt-required")
        right = run_cli("--video", str(CARVING_ICE), "--display", "none", "--mqtt", url, "--mqtt-required",
                        env={"MQTT_PASSWORD": "right"})
        assert right.returncode == 0 and "MQTT: connected to" in right.stderr
    finally:
        broker.stop()


def test_tls_with_the_broker_ca_and_a_clear_line_without_it(tmp_path):
    broker = Mosquitto(tmp_path, need_binary("mosquitto", "mosquitto"), tls=True)
    broker.start()
    try:
        url = f"mqtts://127.0.0.1:{broker.tls_port}"
        ok = run_cli("--video", str(CARVING_ICE), "--display", "none", "--mqtt", url, "--mqtt-ca",
                     str(broker.ca_file), "--mqtt-required")
        assert ok.returncode == 0 and "MQTT: connected to mqtts://127.0.0.1" in ok.stderr, ok.stderr
        untrusted = run_cli("--video", str(CARVING_ICE), "--display", "none", "--json", "--mqtt", url)
        assert untrusted.returncode == 0 and "TLS failure" in untrusted.stderr and "MQTT is off" in untrusted.stderr
        assert "certificate" in untrusted.stderr.lower()
    finally:
        broker.stop()


def test_unknown_host_is_one_line():
    done = run_cli("--video", str(CARVING_ICE), "--display", "none", "--json", "--mqtt",
                   "mqtt://no-such-host.invalid", "--mqtt-required")
    assert done.returncode == 2 and "cannot find the host 'no-such-host.invalid'" in done.stderr
    assert len([line for line in done.stderr.splitlines() if "no-such-host" in line]) == 1
    assert done.stderr.strip().splitlines()[-1].startswith("classify.py: error: --mqtt-required")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--mqtt", "http://broker"], "must look like mqtt://host"),
    (["--mqtt", "mqtt://broker:70000"], "port must be 1..65535"),
    (["--mqtt", "mqtt://[::1"], "--mqtt is not a valid address (Invalid IPv6 URL), got 'mqtt://[::1'"),
    (["--mqtt", "mqtt://pi:secret@broker"], "must not hold the password"),
    (["--mqtt", "mqtt://kitchen..local"], "host name 'kitchen..local' is not a valid host name"),
    (["--mqtt", "mqtt://" + "x" * 64], "is not a valid host name"),
    (["--mqtt", "mqtt://broker", "--name", "kitchen/left"], "--name must not contain '/'"),
    (["--mqtt", "mqtt://broker", "--name", "cam+1"], "--name must not contain '+'"),
    (["--mqtt", "mqtt://broker", "--mqtt-prefix", "a#"], "--mqtt-prefix must not contain '#'"),
    (["--mqtt", "mqtt://broker", "--mqtt-ca", "ca.pem"], "--mqtt-ca is for TLS"),
    (["--mqtt", "mqtt://broker", "--mqtt-live-image", "0.5"], "--mqtt-live-image: '0.5' is not a number from 1"),
    (["--mqtt", "mqtt://broker", "--mqtt-live-image", "often"], "--mqtt-live-image: 'often' is not a number"),
    (["--mqtt-live-image", "5"], "--mqtt-live-image needs --mqtt"),
])
def test_bad_mqtt_input_is_one_line_and_exit_2(args, message):
    done = run_cli("--video", str(CARVING_ICE), *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_discovery_follows_home_assistant_schema():
    messages = dict(discovery_messages(TOPICS, ["falling off chair", "any"], "1.1.0", "movinet_a0",
                                       "http://kitchen:8080/"))
    again = dict(discovery_messages(TOPICS, ["falling off chair", "any"], "1.1.0", "movinet_a0",
                                    "http://kitchen:8080/"))
    assert messages == again  # the same ids on every start: the entities survive restarts
    action = messages["homeassistant/sensor/pi_action_kitchen/action/config"]
    assert action["unique_id"] == "pi_action_kitchen_action"
    assert action["default_entity_id"] == "sensor.kitchen_action"
    assert action["state_topic"] == "pi-action/kitchen/state"
    score = messages["homeassistant/sensor/pi_action_kitchen/action_score/config"]
    assert score["unit_of_measurement"] == "%" and score["state_class"] == "measurement"
    camera = messages["homeassistant/binary_sensor/pi_action_kitchen/camera/config"]
    assert camera["entity_category"] == "diagnostic" and camera["device_class"] == "connectivity"
    fall = messages["homeassistant/binary_sensor/pi_action_kitchen/event_falling_off_chair/config"]
    assert fall["state_topic"] == "pi-action/kitchen/active/falling_off_chair"
    assert fall["payload_on"] == "ON" and fall["payload_off"] == "OFF"
    assert fall["default_entity_id"] == "binary_sensor.kitchen_event_falling_off_chair"
    event = messages["homeassistant/event/pi_action_kitchen/event/config"]
    assert event["state_topic"] == TOPICS.event and event["event_types"] == ["start", "end"]
    image = messages["homeassistant/image/pi_action_kitchen/snapshot/config"]
    assert image["image_topic"] == TOPICS.snapshot and image["content_type"] == "image/jpeg"
    ids = [payload["unique_id"] for payload in messages.values()]
    assert len(ids) == len(set(ids)) == 7
    for payload in messages.values():
        assert payload["availability_topic"] == "pi-action/kitchen/availability"
        assert payload["origin"]["name"] == "pi-action-classifier" and payload["device"]["name"] == "kitchen"
        assert payload["device"]["configuration_url"] == "http://kitchen:8080/"
        # Attributes that change with every result would make Home Assistant's recorder store a row a second.
        assert "json_attributes_topic" not in payload or payload["json_attributes_topic"] == TOPICS.camera
    assert "configuration_url" not in discovery_messages(TOPICS, [], "1.1.0", "movinet_a0")[0][1]["device"]


def test_the_device_links_to_the_web_view_when_other_computers_can_open_it(mosquitto):
    """Home Assistant's "Visit" link: only for a web view beyond loopback (127.0.0.1 would be the browser's own
    computer)."""
    subscriber = Subscriber(mosquitto.port)
    try:
        for host, linked in (("0.0.0.0", True), ("127.0.0.1", False)):
            port = free_port()
            done = run_cli("--video", str(CARVING_ICE), "--display", "none", "--web", "--web-host", host,
                           "--web-port", str(port), "--mqtt", mosquitto.url, "--name", NAME, "--mqtt-required",
                           env={"WEB_PASSWORD": "a long enough password"})
            assert done.returncode == 0, done.stderr
            # "offline" is the run's last message on its one connection: everything it sent has arrived by then.
            subscriber.wait_for(lambda: "offline" in subscriber.on(TOPICS.availability))
            configs = subscriber.on("homeassistant/sensor/pi_action_kitchen/action/config")
            assert len(configs) == 1, "each entity is announced once, with its link when it has one"
            device = json.loads(configs[0])["device"]
            if linked:
                assert device["configuration_url"].startswith("http://")
                assert device["configuration_url"].endswith(f":{port}/")
            else:
                assert "configuration_url" not in device
            with subscriber.lock:
                subscriber.messages.clear()
    finally:
        subscriber.close()


def _before_online(messages: list[mqtt.MQTTMessage], after: int) -> dict[str, str]:
    """The last payload of each topic that arrived after message `after` and before the first "online"."""
    seen: dict[str, str] = {}
    for message in messages[after:]:
        if message.topic == TOPICS.availability and message.payload == b"online":
            return seen
        if message.topic != TOPICS.snapshot:
            seen[message.topic] = message.payload.decode()
    raise AssertionError("no 'online' arrived")


def test_a_restart_after_a_crash_mid_event_says_off_before_online(mosquitto, tmp_path):
    """SIGKILL during an event leaves the broker holding active/<action> ON and the last label. The restart
    must publish OFF and "no result" before "online": a subscriber (Home Assistant) never sees the stale event
    on an available device."""
    watched = "arm wrestling"
    # --mqtt-required: connected before the first frame, so no result of the new run can be there yet.
    args = ("--video", str(ARM_WRESTLING), "--realtime", "--event", watched, "--events-dir", str(tmp_path / "events"),
            "--mqtt", mosquitto.url, "--mqtt-required")
    subscriber = Subscriber(mosquitto.port)
    app = classify(*args)
    restarted = None
    try:
        subscriber.wait_for(lambda: subscriber.on(TOPICS.active(watched))[-1:] == ["ON"], timeout=60)
        subscriber.wait_for(lambda: subscriber.raw(TOPICS.snapshot))  # the event's first frame, a JPEG
        image = cv2.imdecode(np.frombuffer(subscriber.raw(TOPICS.snapshot)[-1], np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[:2] == cv2.VideoCapture(str(ARM_WRESTLING)).read()[1].shape[:2]
        app.kill()
        app.wait(10)
        subscriber.wait_for(lambda: subscriber.on(TOPICS.availability)[-1:] == ["offline"])  # the last will
        with subscriber.lock:
            crashed = len(subscriber.messages)
        restarted = classify(*args)
        subscriber.wait_for(lambda: subscriber.on(TOPICS.availability)[-1:] == ["online"])
        with subscriber.lock:
            before = _before_online(subscriber.messages, crashed)
        assert before[TOPICS.active(watched)] == "OFF"
        assert json.loads(before[TOPICS.state])["results"] == []
        assert json.loads(before[TOPICS.camera])["online"] is True
        assert "homeassistant/event/pi_action_kitchen/event/config" in before
    finally:
        for process in (app, restarted):
            if process is not None:
                process.kill()
                process.communicate()
        subscriber.close()
def test_sigterm_with_mqtt_still_exits_quickly(mosquitto):
    app = classify("--video", str(ARM_WRESTLING), "--realtime", "--mqtt", mosquitto.url)
    try:
        assert app.stdout.readline()
        app.send_signal(signal.SIGTERM)
        _, err = app.communicate(timeout=10)
        assert app.returncode == 0, err
    finally:
        app.kill()


def test_fleet_benchmark_counts_every_message():
    """The scale-out benchmark in miniature: what the publishers send, the subscriber receives."""
    need_binary("mosquitto", "mosquitto")
    done = subprocess.run([sys.executable, "-m", "benchmarks.mqtt_fleet", "--publishers", "2", "--seconds", "3"],
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["sent"] > 0 and report["received"] == report["sent"] and report["lost"] == 0


class HeldRelay:
    """A TCP relay in front of the real broker that passes nothing on until `release()`: a broker that answers
    slowly (a far network, a busy Pi), so the test decides when the connection comes up."""

    def __init__(self, broker_port: int) -> None:
        self.broker_port = broker_port
        self.released = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = [self.server]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            client, _ = self.server.accept()
        except OSError:  # closed
            return
        self.sockets.append(client)
        self.released.wait()
        upstream = socket.create_connection(("127.0.0.1", self.broker_port))
        self.sockets.append(upstream)
        for source, target in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def test_events_of_a_short_run_reach_a_slow_broker_before_the_exit(mosquitto, caplog):
    """The run ends before the broker has answered: close() waits (bounded) until its events are delivered."""
    listener = Subscriber(mosquitto.port, (TOPICS.event,))
    listener.wait_for(lambda: listener.client.is_connected())
    relay = HeldRelay(mosquitto.port)
    publisher = MqttPublisher(parse_broker_url(f"mqtt://127.0.0.1:{relay.port}"), TOPICS, lambda: [],
                              close_wait=120)  # a bound for a hang only: close() returns once all is delivered
    try:
        publisher.start()
        publisher.publish(TOPICS.event, json.dumps({"id": 1}), qos=1)
        assert not publisher.connected and publisher.pending == 1  # the relay holds the connection back
        closing = threading.Thread(target=publisher.close)
        closing.start()
        relay.release()
        closing.join(150)
        assert not closing.is_alive()
        listener.wait_for(lambda: listener.on(TOPICS.event))
        assert [json.loads(p)["id"] for p in listener.on(TOPICS.event)] == [1]
        assert "did not reach the broker" not in caplog.text
    finally:
        publisher.close()
        relay.close()
        listener.close()


def test_events_a_broker_never_took_are_counted_at_the_exit(mosquitto, caplog):
    relay = HeldRelay(mosquitto.port)  # never released: the broker never answers
    publisher = MqttPublisher(parse_broker_url(f"mqtt://127.0.0.1:{relay.port}"), TOPICS, lambda: [],
                              close_wait=0.5)
    try:
        publisher.start()
        for i in range(3):
            publisher.publish(TOPICS.event, json.dumps({"id": i}), qos=1)
        publisher.publish(TOPICS.state, "{}", qos=0)  # state messages are replaced, not counted
        with caplog.at_level("WARNING"):
            publisher.close()
        lines = [r.getMessage() for r in caplog.records if "did not reach the broker" in r.getMessage()]
        assert lines == [f"MQTT: 3 messages (events, event and camera states) did not reach the broker "
                         f"mqtt://127.0.0.1:{relay.port} within 0.5 s of the end"]
    finally:
        relay.close()


MARKER = f"{PREFIX}/{NAME}/test-marker"


def subscribed(port: int, topic: str) -> Subscriber:
    """A subscriber to `topic` whose subscription is in place, with every retained message of it received.

    A marker published after the subscription comes back after every retained message: the broker sends
    those while it handles the SUBSCRIBE, and one connection keeps the order."""
    subscriber = Subscriber(port, (topic, MARKER))
    subscriber.wait_for(lambda: subscriber.client.publish(MARKER, "m", qos=1).wait_for_publish(5)
                        or subscriber.on(MARKER))
    return subscriber


def retained_now(port: int, topic: str) -> list[mqtt.MQTTMessage]:
    """What the broker holds on `topic` for a newcomer (Home Assistant after a restart)."""
    late = subscribed(port, topic)
    try:
        with late.lock:
            return [m for m in late.messages if m.topic == topic]
    finally:
        late.close()


def test_the_live_image_is_announced_only_when_asked_and_arrives_every_n_seconds_of_video(mosquitto):
    """--mqtt-live-image 2 on the 10 s clip: the Live image entity, and a small JPEG of the picture at video
    times 0, 2, 4, 6 and 8 (the schedule runs on the frames' time, so the count is exact however fast the clip
    is classified); none is retained. A run without the flag removes the entity again."""
    config_topic = discovery_topic(TOPICS, "image", "live")
    subscriber = Subscriber(mosquitto.port)
    try:
        done = run_cli("--video", str(ARM_WRESTLING), "--display", "none", "--json", "--mqtt", mosquitto.url,
                       "--name", NAME, "--mqtt-required", "--mqtt-live-image", "2")
        assert done.returncode == 0, done.stderr
        subscriber.wait_for(lambda: subscriber.on(TOPICS.availability)[-1:] == ["offline"])
        config = json.loads(subscriber.on(config_topic)[-1])
        assert config["image_topic"] == TOPICS.live and config["content_type"] == "image/jpeg"
        assert "url_topic" not in config and config["availability_topic"] == TOPICS.availability
        assert config["unique_id"] == "pi_action_kitchen_live" and config["default_entity_id"] == "image.kitchen_live"
        frames = [cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) for jpeg in subscriber.raw(TOPICS.live)]
        assert len(frames) == 5, f"{len(frames)} live pictures from a 10 s clip every 2 s"
        clip = cv2.VideoCapture(str(ARM_WRESTLING))
        ok, first = clip.read()
        clip.release()
        assert ok
        for image in frames:
            assert image is not None and image.shape == first.shape  # 340x256: no larger than LIVE_MAX_SIDE
        assert max(first.shape) <= LIVE_MAX_SIDE
        assert np.abs(frames[0].astype(int) - first).mean() < 6, "the clip's first picture, without the overlay"
        assert all(len(jpeg) < 40_000 for jpeg in subscriber.raw(TOPICS.live))
    finally:
        subscriber.close()
    assert retained_now(mosquitto.port, TOPICS.live) == [], "a live picture must not outlive the run on the broker"
    assert [json.loads(m.payload)["image_topic"] for m in retained_now(mosquitto.port, config_topic)] == [TOPICS.live]

    done = run_cli("--video", str(CARVING_ICE), "--display", "none", "--mqtt", mosquitto.url, "--name", NAME,
                   "--mqtt-required")
    assert done.returncode == 0, done.stderr
    assert retained_now(mosquitto.port, config_topic) == [], "without the flag the Live image is removed"


def test_a_large_camera_picture_is_shrunk_for_the_live_image(mosquitto):
    """A 1280x720 frame becomes a 640x360 JPEG (a Pi encodes it in a few ms; Home Assistant keeps it in memory)."""
    from utils.sinks.base import Status, Update
    from utils.sinks.mqtt.sink import MqttSink
    from utils.sources import Frame

    subscriber = subscribed(mosquitto.port, TOPICS.live)
    publisher = MqttPublisher(parse_broker_url(mosquitto.url), TOPICS, lambda: [])
    sink = MqttSink(publisher, live_image=5)
    publisher.start(required=True)
    try:
        image = cv2.resize(cv2.imread(str(REPO / "tests" / "data" / "juggling_soccer_ball_frame.png")), (1280, 720))
        for index in range(11):  # 10 s at one frame a second: pictures at 0, 5 and 10 s
            sink.write(Update(Frame(image, float(index), index), None, False, Status()))
        subscriber.wait_for(lambda: len(subscriber.raw(TOPICS.live)) == 3)
        for jpeg in subscriber.raw(TOPICS.live):
            assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (360, 640, 3)
    finally:
        sink.close()
        subscriber.close()


def test_a_restart_watching_other_actions_removes_the_old_ones_before_online(mosquitto, tmp_path):
    """SIGKILL during an "arm wrestling" event, then a run that watches only "walking the dog": the broker still
    held the old action's binary sensor config and its active/ ON, so Home Assistant kept a sensor that turned
    on again, and stayed on, as soon as the device said "online". The restart must remove both before it."""
    old, new = "arm wrestling", "walking the dog"
    old_config = "homeassistant/binary_sensor/pi_action_kitchen/event_arm_wrestling/config"
    subscriber = Subscriber(mosquitto.port)
    app = classify("--video", str(ARM_WRESTLING), "--realtime", "--event", old, "--events-dir", str(tmp_path / "a"),
                   "--mqtt", mosquitto.url, "--mqtt-required")
    try:
        subscriber.wait_for(lambda: subscriber.on(TOPICS.active(old))[-1:] == ["ON"], timeout=60)
        app.kill()
        app.wait(10)
        subscriber.wait_for(lambda: subscriber.on(TOPICS.availability)[-1:] == ["offline"])  # the last will
        with subscriber.lock:
            crashed = len(subscriber.messages)
        done = run_cli("--video", str(CARVING_ICE), "--display", "none", "--event", new, "--events-dir",
                       str(tmp_path / "b"), "--mqtt", mosquitto.url, "--name", NAME, "--mqtt-required")
        assert done.returncode == 0, done.stderr
        subscriber.wait_for(lambda: any(m.topic == TOPICS.availability and m.payload == b"online"
                                        for m in subscriber.messages[crashed:]))  # the restart's
        with subscriber.lock:
            before = _before_online(subscriber.messages, crashed)
        assert before[old_config] == "" and before[TOPICS.active(old)] == "", before.keys()
        assert json.loads(before[f"homeassistant/binary_sensor/pi_action_kitchen/event_{new.replace(' ', '_')}/config"])
        assert before[TOPICS.active(new)] == "OFF"
    finally:
        app.kill()
        app.communicate()
        subscriber.close()
    assert retained_now(mosquitto.port, old_config) == [] and retained_now(mosquitto.port, TOPICS.active(old)) == []
