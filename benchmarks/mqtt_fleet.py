"""Many cameras, one broker: N publisher processes into one mosquitto on 127.0.0.1, counted and timed.

    python -m benchmarks.mqtt_fleet [--publishers 20] [--seconds 60] [--rate 5]

Each publisher is the app's own MQTT output (MqttSink + MqttPublisher) fed with results recorded from a
real run of classify.py on a shared clip, at --rate results a second, with an event start and end every
10 s; one subscriber counts what arrives. Prints one JSON object: messages sent and received, the
broker's CPU, and each publisher's CPU per second.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil

from benchmarks.mosquitto import Mosquitto
from benchmarks.paths import DEFAULT_CLIP, LABELS, MODEL
from utils.broker_url import parse_broker_url
from utils.paths import PROJECT_DIR
from utils.results import Prediction, Result
from utils.sinks.mqtt import MqttPublisher, MqttSink, Topics
from utils.sinks.mqtt.publisher import Payload

PREFIX = "fleet"


def record_results(clip: Path) -> list[dict]:
    """The --json lines of a real run on the clip: what a camera would publish."""
    done = subprocess.run([sys.executable, str(PROJECT_DIR / "classify.py"), "--video", str(clip), "--model",
                           str(MODEL), "--labels", str(LABELS), "--display", "none", "--json"],
                          capture_output=True, text=True, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def counted(topic: str) -> bool:
    """The results and events; availability, discovery and event states are also re-sent on each connect."""
    return topic.endswith(("/state", "/event"))


class CountingPublisher(MqttPublisher):
    sent = 0

    def publish(self, topic: str, payload: Payload, qos: int = 0, retain: bool = False) -> None:
        CountingPublisher.sent += counted(topic)
        super().publish(topic, payload, qos, retain)


def worker(url: str, name: str, results_file: Path, seconds: float, rate: float) -> dict:
    """One camera: publishes the recorded results in a loop for `seconds`; returns what it sent and its CPU."""
    records = json.loads(results_file.read_text())
    topics = Topics(PREFIX, name)
    sink: MqttSink | None = None
    publisher = CountingPublisher(parse_broker_url(url), topics, lambda: sink.retained() if sink else [])
    sink = MqttSink(publisher, watched=["any"], discovery=True, version="bench", model="movinet_a0")
    publisher.start(required=True)
    cpu_start, start = time.process_time(), time.monotonic()
    frame, event_id = 0, 0
    while (elapsed := time.monotonic() - start) < seconds:
        record = records[frame % len(records)]
        predictions = tuple(Prediction(r["label"], r["score"]) for r in record["results"])
        sink.publish_state(Result(frame, frame / rate, record["inference_ms"], predictions))
        if frame % int(10 * rate) == 0:  # an event every 10 s: its start, and its end 2 s later
            sink.publish_event({"type": "start", "id": f"{name}-{event_id}", "label": predictions[0].label})
        if frame % int(10 * rate) == int(2 * rate):
            sink.publish_event({"type": "end", "id": f"{name}-{event_id}", "label": predictions[0].label})
            event_id += 1
        frame += 1
        time.sleep(max(0.0, frame / rate - (time.monotonic() - start)))
    sent = CountingPublisher.sent
    publisher.close()
    return {"sent": sent, "cpu_s": round(time.process_time() - cpu_start, 3), "seconds": round(elapsed, 2)}


def fleet(publishers: int, seconds: float, rate: float, clip: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="mqtt-fleet-") as folder:
        results_file = Path(folder) / "results.json"
        results_file.write_text(json.dumps(record_results(clip)))
        broker = Mosquitto(Path(folder))
        broker.start()
        received = 0
        lock = threading.Lock()

        def count(client, userdata, message) -> None:
            nonlocal received
            if counted(message.topic) and not message.retain:  # retained copies replay what was counted
                with lock:
                    received += 1

        subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        subscriber.on_message = count
        subscriber.connect("127.0.0.1", broker.port)
        subscriber.subscribe(f"{PREFIX}/#", qos=1)
        subscriber.loop_start()
        time.sleep(0.5)
        broker_process = psutil.Process(broker.process.pid) if broker.process else None
        broker_cpu = sum(broker_process.cpu_times()[:2]) if broker_process else 0.0
        commands = [[sys.executable, "-m", "benchmarks.mqtt_fleet", "--worker", broker.url, f"cam{i:02d}",
                     str(results_file), str(seconds), str(rate)] for i in range(publishers)]
        workers = [subprocess.Popen(c, cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True) for c in commands]
        reports = [json.loads(w.communicate(timeout=seconds + 120)[0]) for w in workers]
        time.sleep(1.0)  # the last messages in flight
        broker_cpu = (sum(broker_process.cpu_times()[:2]) - broker_cpu) if broker_process else 0.0
        subscriber.disconnect()
        subscriber.loop_stop()
        broker.stop()
    sent = sum(r["sent"] for r in reports)
    return {
        "publishers": publishers, "seconds": seconds, "rate": rate,
        "sent": sent, "received": received, "lost": sent - received,
        "broker_cpu_percent_of_one_core": round(100 * broker_cpu / seconds, 2),
        "publisher_cpu_percent_of_one_core": {
            "median": round(100 * sorted(r["cpu_s"] / r["seconds"] for r in reports)[len(reports) // 2], 2),
            "max": round(100 * max(r["cpu_s"] / r["seconds"] for r in reports), 2)},
        "results_and_events_per_publisher_second": round(sent / publishers / seconds, 2),
    }


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--worker"]:
        url, name, results, seconds, rate = sys.argv[2:7]
        print(json.dumps(worker(url, name, Path(results), float(seconds), float(rate))))
        return 0
    p = argparse.ArgumentParser(prog="python -m benchmarks.mqtt_fleet", description=__doc__.splitlines()[0])
    p.add_argument("--publishers", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--rate", type=float, default=5.0, help="results a second per camera (the app's --fps)")
    p.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    args = p.parse_args(argv)
    print(json.dumps(fleet(args.publishers, args.seconds, args.rate, args.clip)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
