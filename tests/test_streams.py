"""Network sources for real, against servers on 127.0.0.1: a camera stream that drops or stalls comes back,
Ctrl-C and SIGTERM work during a stall, and a video file behind a URL is read like a file."""

from __future__ import annotations

import json
import signal
import time
import urllib.request

import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, free_port, run_cli
from live import DOWN, FROZEN, STALL, UP, LiveApp, StreamServer
from test_web import chromium


@pytest.fixture
def camera():
    server = StreamServer(ARM_WRESTLING, files={"carving_ice.mp4": CARVING_ICE})
    yield server
    server.close()


@pytest.fixture
def app_on(camera):
    """Starts classify.py on the camera's live stream; kills it at the end of the test whatever happened."""
    started: list[LiveApp] = []

    def start(*args: str) -> LiveApp:
        app = LiveApp("--video", f"{camera.url}/live.mjpg", "--display", "none", "--json", *args)
        started.append(app)
        app.wait_for(lambda: len(app.stdout) >= 3, "the first results")
        return app

    yield start
    for app in started:
        app.kill()


def bring_back_and_stop(camera: StreamServer, app: LiveApp, signum: int) -> None:
    """The camera comes back: the app says so once and classifies again; then a signal ends it cleanly,
    with one outage logged once, nothing else leaking into stderr, and index and time running on."""
    seen = len(app.stdout)
    camera.mode = UP
    app.wait_for(lambda: "camera back online" in app.log, "the recovery in the log")
    app.wait_for(lambda: len(app.stdout) >= seen + 5, "results after the outage")
    assert app.stop(signum) == 0, app.log
    log = app.log
    assert log.count("camera offline since") == 1, log
    assert log.count("camera back online") == 1, log
    assert "Traceback" not in log
    assert not [line for line in app.stderr if line.startswith("[")], "FFmpeg's or OpenCV's own lines leaked"
    frames = [record["frame"] for record in app.records]
    times = [record["timestamp"] for record in app.records]
    assert frames == sorted(set(frames)) and times == sorted(times), "index and time run on across reopens"


def test_a_dropped_stream_comes_back_and_the_outage_shows(camera, app_on, tmp_path):
    port = free_port()
    app = app_on("--web", "--web-port", str(port))
    camera.mode = DOWN  # the camera reboots: the stream is cut and it refuses new ones for a while
    app.wait_for(lambda: "camera offline since" in app.log, "an outage in the log")
    app.wait_for(lambda: camera.refused >= 2, "two tries to reconnect")

    # The web view says so, in its JSON and on the page in a browser.
    page = f"http://127.0.0.1:{port}/"
    source = json.loads(urllib.request.urlopen(page + "results.json", timeout=10).read())["status"]["source"]
    assert source["online"] is False and source["message"].startswith("camera offline since"), source
    dom = chromium("--virtual-time-budget=3000", "--dump-dom", page, tmp_path=tmp_path)
    assert "camera offline since" in dom.stdout, dom.stderr[-2000:]

    bring_back_and_stop(camera, app, signal.SIGTERM)
    assert app.records[-1]["results"][0]["label"] == "arm wrestling"


def test_a_stalled_stream_times_out_and_comes_back(camera, app_on):
    app = app_on()
    camera.mode = STALL  # the connection stays open and nothing comes
    app.wait_for(lambda: "camera offline since" in app.log, "an outage in the log")
    bring_back_and_stop(camera, app, signal.SIGINT)


def test_a_frozen_picture_is_an_outage_until_it_moves(camera, app_on):
    port = free_port()
    app = app_on("--web", "--web-port", str(port))
    camera.mode = FROZEN  # the stream goes on, with the same frame every time
    app.wait_for(lambda: "camera picture frozen since" in app.log, "the frozen picture in the log")
    source = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/results.json", timeout=10).read())
    assert source["status"]["source"]["frozen"] is True and source["status"]["source"]["online"] is False
    assert source["status"]["source"]["message"].startswith("camera picture frozen since"), source
    classified = len(app.stdout)
    time.sleep(1)
    assert len(app.stdout) == classified, "the model is not fed the frozen frames"
    camera.mode = UP
    app.wait_for(lambda: "camera picture moving again" in app.log, "the picture moving again in the log")
    app.wait_for(lambda: len(app.stdout) >= classified + 5, "results after the frozen picture")
    assert app.stop() == 0, app.log
    assert app.log.count("camera picture frozen since") == 1 and app.log.count("camera picture moving again") == 1
    assert "camera offline" not in app.log and "Traceback" not in app.log
    assert app.records[-1]["results"][0]["label"] == "arm wrestling"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_stall_stops_at_once(camera, app_on, signum):
    app = app_on()
    camera.mode = STALL
    time.sleep(1)  # the capture thread is now inside a read that gets nothing
    # Bounded well below the stream's read timeout before this fix (30 s), and above what it takes now (< 1 s).
    assert app.stop(signum, timeout=10) == 0, app.log
    assert "Traceback" not in app.log


@pytest.mark.parametrize("url", ["http", "file"])
def test_a_url_of_a_video_file_is_read_like_the_file(camera, url):
    address = f"{camera.url}/carving_ice.mp4" if url == "http" else CARVING_ICE.as_uri()
    remote = run_cli("--video", address, "--display", "none", "--json")
    local = run_cli("--video", str(CARVING_ICE), "--display", "none", "--json")
    assert remote.returncode == 0, remote.stderr
    assert "dropped" not in remote.stderr and "Traceback" not in remote.stderr
    # The same frames at the same container timestamps, with the same results: nothing dropped, a normal end.
    assert [(r["frame"], r["timestamp"], r["results"]) for r in remote.records] == \
        [(r["frame"], r["timestamp"], r["results"]) for r in local.records]
    assert len(remote.records) == 22


def test_mqtt_reports_the_camera_offline_and_back(camera, app_on, mosquitto):
    from test_mqtt import Subscriber

    subscriber = Subscriber(mosquitto.port)
    try:
        app = app_on("--mqtt", mosquitto.url, "--name", "door")
        subscriber.wait_for(lambda: subscriber.on("pi-action/door/state"))
        camera.mode = DOWN
        subscriber.wait_for(lambda: any(not json.loads(p)["online"] for p in subscriber.on("pi-action/door/camera")))
        offline = [json.loads(p) for p in subscriber.on("pi-action/door/camera") if not json.loads(p)["online"]][0]
        assert offline["message"].startswith("camera offline since") and offline["offline_since"] > 0
        bring_back_and_stop(camera, app, signal.SIGTERM)
        subscriber.wait_for(lambda: json.loads(subscriber.on("pi-action/door/camera")[-1])["online"])
        configs = [m.topic for m in subscriber.messages if m.topic.endswith("/camera/config")]
        assert configs == ["homeassistant/binary_sensor/pi_action_door/camera/config"]
    finally:
        subscriber.close()
