"""The app against a real Home Assistant: mosquitto on 127.0.0.1, Home Assistant with an MQTT entry, the app.

    python -m benchmarks.home_assistant --python /path/to/venv/bin/python [--chroot DIR]

`--python` is an interpreter with `homeassistant` and `paho-mqtt` installed (Home Assistant 2026.2 needs
Python 3.13.2 or later: a Debian trixie chroot has it; `--chroot DIR` runs Home Assistant inside it, and its
configuration goes to DIR/tmp). Home Assistant's own `mqtt_statestream` publishes every state it has, so
what it shows is read from the broker without a login.

The run: the app watches "arm wrestling" on the clip in real time; once the event is on in Home Assistant
the app is killed (SIGKILL, mid-event), then started again on a clip without that action. Prints one JSON
object: Home Assistant's version, every state the app's entities went through (in order), their final
states and attributes, and Home Assistant's warnings and errors about MQTT or templates.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from benchmarks.mosquitto import Mosquitto
from benchmarks.paths import LABELS, MEDIA, MODEL
from utils.paths import PROJECT_DIR

NAME, WATCHED = "kitchen", "arm wrestling"
EVENT_CLIP, QUIET_CLIP = MEDIA / "arm_wrestling.mp4", MEDIA / "carving_ice.mp4"
STATES = "hass"  # mqtt_statestream's base topic
SECRET_ATTRIBUTES = ("access_token", "entity_picture")  # the image entity's proxy token: not printed
CONFIGURATION = f"""homeassistant:
  name: bench
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
logger:
  default: warning
mqtt_statestream:
  base_topic: {STATES}
  publish_attributes: true
"""


def config_entries(port: int) -> dict:
    """Home Assistant's stored config entries with one MQTT entry (older minor versions are migrated)."""
    entry = {"entry_id": "benchmqttentry", "version": 1, "minor_version": 1, "domain": "mqtt",
             "title": "127.0.0.1", "data": {"broker": "127.0.0.1", "port": port}, "options": {},
             "source": "user", "unique_id": None, "disabled_by": None,
             "pref_disable_new_entities": False, "pref_disable_polling": False}
    return {"version": 1, "minor_version": 1, "key": "core.config_entries", "data": {"entries": [entry]}}


class StateLog:
    """Every state Home Assistant publishes for the app's entities, in order, from a subscriber started first."""

    def __init__(self, port: int) -> None:
        self.lock = threading.Lock()
        self.changes: list[tuple[str, str]] = []  # (entity id, state)
        self.attributes: dict[str, dict[str, object]] = {}
        self.ha_online = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = self._subscribe
        self.client.on_message = self._record
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    @staticmethod
    def _subscribe(client, userdata, flags, reason_code, properties) -> None:
        for topic in (f"{STATES}/#", "homeassistant/status"):
            client.subscribe(topic, qos=1)

    def _record(self, client, userdata, message) -> None:
        if message.topic == "homeassistant/status":
            if message.payload == b"online":
                self.ha_online.set()
            return
        parts = message.topic.split("/")  # hass/<domain>/<object id>/<state or attribute>
        if len(parts) != 4 or not parts[2].startswith(NAME):
            return
        entity, key, text = f"{parts[1]}.{parts[2]}", parts[3], message.payload.decode(errors="replace")
        if key in SECRET_ATTRIBUTES:
            return
        with self.lock:
            if key == "state":
                self.changes.append((entity, text))
            else:
                try:
                    self.attributes.setdefault(entity, {})[key] = json.loads(text)
                except ValueError:
                    self.attributes.setdefault(entity, {})[key] = text

    def states_of(self, entity: str) -> list[str]:
        with self.lock:
            return [state for name, state in self.changes if name == entity]

    def wait(self, check, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.1)
        raise RuntimeError(f"Home Assistant did not show {what} within {timeout:g} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_app(url: str, clip: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "classify.py"), "--model", str(MODEL), "--labels", str(LABELS),
         "--video", str(clip), "--realtime", "--display", "none", "--event", WATCHED, "--events-dir",
         str(log.parent / "events"), "--mqtt", url, "--name", NAME, "--mqtt-required"],
        cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=open(log, "ab"))  # noqa: SIM115


def run(python: str, chroot: Path | None) -> dict:
    root = chroot or Path("/")
    with tempfile.TemporaryDirectory(prefix="ha-bench-") as folder, \
            tempfile.TemporaryDirectory(prefix="ha-config-", dir=root / "tmp") as config:
        broker = Mosquitto(Path(folder))
        broker.start()
        (Path(config) / "configuration.yaml").write_text(CONFIGURATION)
        (Path(config) / ".storage").mkdir()
        (Path(config) / ".storage" / "core.config_entries").write_text(json.dumps(config_entries(broker.port)))
        inside = "/" + str(Path(config).relative_to(root))
        interpreter = ["chroot", str(chroot), python] if chroot else [python]
        command = [*interpreter, "-m", "homeassistant", "--config", inside, "--skip-pip"]
        version = subprocess.run([*interpreter, "-c", "from homeassistant.const import __version__; "
                                  "print(__version__)"], capture_output=True, text=True).stdout.strip()
        states = StateLog(broker.port)
        hass = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        app: subprocess.Popen | None = None
        try:
            states.wait(states.ha_online.is_set, 300, "its MQTT connection")
            binary = f"binary_sensor.{NAME}_event_{WATCHED.replace(' ', '_')}"
            app = start_app(broker.url, EVENT_CLIP, Path(folder) / "app.log")
            states.wait(lambda: states.states_of(binary)[-1:] == ["on"], 120, f"{binary} on")
            os.kill(app.pid, signal.SIGKILL)  # mid-event: the broker keeps active/<action> ON
            app.wait(10)
            killed = time.monotonic()
            states.wait(lambda: states.states_of(binary)[-1:] == ["unavailable"], 120, f"{binary} unavailable")
            unavailable_after = time.monotonic() - killed
            with states.lock:
                restart_from = len(states.changes)
            app = start_app(broker.url, QUIET_CLIP, Path(folder) / "app.log")
            if app.wait(120):
                raise RuntimeError(f"the app failed: {(Path(folder) / 'app.log').read_text()[-500:]}")
            states.wait(lambda: states.states_of(binary)[-1:] == ["unavailable"], 60, "the app offline again")
            with states.lock:
                history: dict[str, list[str]] = {}
                for entity, state in states.changes:
                    history.setdefault(entity, []).append(state)
                after_restart = [(e, s) for e, s in states.changes[restart_from:] if e == binary]
        finally:
            if app is not None and app.poll() is None:
                app.kill()
            hass.send_signal(signal.SIGTERM)
            try:
                hass.wait(60)
            except subprocess.TimeoutExpired:
                hass.kill()
            states.close()
            broker.stop()
        log_file = Path(config) / "home-assistant.log"
        log_text = log_file.read_text(errors="replace") if log_file.exists() else ""
        problems = [line for line in log_text.splitlines() if (" WARNING " in line or " ERROR " in line)
                    and ("mqtt" in line.lower() or "template" in line.lower())]
        return {
            "home_assistant": version,
            "history": history,
            "attributes": states.attributes,
            "binary_sensor_after_restart": [s for _, s in after_restart],
            "stale_event_on_after_restart": "on" in [s for _, s in after_restart],
            "unavailable_after_sigkill_s": round(unavailable_after, 3),
            "warnings_and_errors": problems,
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.home_assistant", description=__doc__.splitlines()[0])
    p.add_argument("--python", required=True, help="an interpreter with homeassistant and paho-mqtt installed")
    p.add_argument("--chroot", type=Path, default=None, help="run Home Assistant inside this chroot (as root)")
    args = p.parse_args(argv)
    if args.chroot is not None and not shutil.which("chroot"):
        p.error("chroot is not installed")
    print(json.dumps(run(args.python, args.chroot), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
