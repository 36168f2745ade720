"""The web view for real: the app on a clip, read with urllib and looked at in headless Chromium."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ARM_WRESTLING, LABELS, MODEL, REPO, free_port, need_binary, run_cli

from utils.errors import ClassifierError
from utils.results import Prediction, Result
from utils.sinks import Command, Update
from utils.sinks.base import Status
from utils.sinks.overlay import Annotator
from utils.sinks.web import WebSink
from utils.sources import Frame

DOCS = REPO / "docs"


def get(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def results(base: str) -> dict:
    return json.loads(get(base + "results.json"))


def mjpeg_frames(url: str, count: int, timeout: float = 10) -> list[np.ndarray]:
    """Reads `count` JPEGs from a multipart MJPEG stream, then hangs up (as a closed browser tab does)."""
    frames = []
    with urllib.request.urlopen(url, timeout=timeout) as response:
        assert response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
        while len(frames) < count:
            assert response.readline() == b"--frame\r\n"
            headers = {}
            while (line := response.readline().strip()):
                name, _, value = line.decode().partition(":")
                headers[name.lower()] = value.strip()
            assert headers["content-type"] == "image/jpeg"
            jpeg = response.read(int(headers["content-length"]))
            response.readline()
            frames.append(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR))
    return frames


def lan_address() -> str | None:
    """This machine's address on its network (no packet is sent), or None with only loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def chromium(*args: str, tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """Headless Chromium as root in a container: no sandbox, no GPU, no network chatter of its own."""
    command = [need_binary("chromium", "chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)


@pytest.fixture
def web_app(tmp_path):
    """classify.py --display web on the 10 s clip at its own speed; yields the base URL."""
    port = free_port()
    log = open(tmp_path / "stderr.log", "w+")  # closed below
    process = subprocess.Popen(
        [sys.executable, str(REPO / "classify.py"), "--model", str(MODEL), "--labels", str(LABELS),
         "--video", str(ARM_WRESTLING), "--realtime", "--display", "web", "--web-port", str(port)],
        stdout=subprocess.DEVNULL, stderr=log, text=True, cwd=REPO,
        env={k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")})
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        log.seek(0)
        if f"web view: {base}" in log.read():
            break
        assert process.poll() is None and time.monotonic() < deadline, f"no web view:\n{log.read()}"
        time.sleep(0.1)
    while "frame" not in results(base):  # the first result
        assert time.monotonic() < deadline
        time.sleep(0.1)
    app = type("App", (), {"base": base, "port": port, "process": process, "log": log})
    try:
        yield app
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()


def test_the_web_view_serves_the_annotated_stream_and_the_results(web_app, tmp_path):
    base = web_app.base
    data = results(base)
    assert data["results"][0]["label"] == "arm wrestling"
    assert {"capture_fps", "classify_fps", "inference_ms", "model", "threads"} <= set(data["status"])
    assert data["status"]["model"] == "movinet_a0_stream_int8"

    frame = cv2.imdecode(np.frombuffer(get(base + "frame.jpg"), np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape[:2] == (480, 638), "the annotated frame: the 340x256 clip enlarged for the overlay"
    assert frame.std() > 20

    first, second = mjpeg_frames(base + "stream.mjpg", 2)  # the client then hangs up mid-stream
    assert first.shape == second.shape == frame.shape
    assert np.abs(first.astype(int) - second).mean() > 0.1, "a live stream, not one picture"
    assert b"stream.mjpg" in get(base) and b"results.json" in get(base)

    # The page in a real browser: the video and the results panel are drawn.
    dom = chromium("--virtual-time-budget=3000", "--dump-dom", base, tmp_path=tmp_path)
    assert 'id="results"' in dom.stdout and "arm wrestling" in dom.stdout, dom.stderr[-2000:]
    shot_file = tmp_path / "web.png"
    chromium("--virtual-time-budget=3000", f"--screenshot={shot_file}", "--window-size=1000,560", base,
             tmp_path=tmp_path)
    shot = cv2.imread(str(shot_file))
    assert shot is not None and shot.shape[:2] == (560, 1000)
    video, panel = shot[16:496, 16:654], shot[:, 660:]
    assert video.std() > 30, "the video area is blank"
    b, g, r = (panel[..., i].astype(int) for i in range(3))
    assert ((r > 230) & (g > 170) & (g < 210) & (b < 40)).sum() > 500, "no top-1 bar in the results panel"
    assert (panel > 200).all(axis=2).sum() > 500, "no result text in the panel"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        cv2.imwrite(str(DOCS / "web.jpg"), shot, [cv2.IMWRITE_JPEG_QUALITY, 85])

    # The clients that went away (the MJPEG reader, two browsers) did not stop the pipeline.
    before = results(base)["frame"]
    time.sleep(0.6)
    assert results(base)["frame"] > before
    assert web_app.process.wait(60) == 0
    web_app.log.seek(0)
    assert "Traceback" not in web_app.log.read()


def test_the_web_view_is_not_reachable_from_the_network_by_default(web_app):
    address = lan_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, web_app.port), timeout=5).close()
    assert get(web_app.base)  # while loopback answers


def test_a_port_in_use_is_one_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = run_cli("--video", str(ARM_WRESTLING), "--display", "web", "--web-port", str(port))
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == (
        f"classify.py: error: cannot start the web view: port {port} is already in use on 127.0.0.1 "
        "(another classify.py?); choose another with --web-port")
    assert "Traceback" not in run.stderr


def test_a_bad_web_host_is_one_clear_error():
    with pytest.raises(ClassifierError, match="cannot start the web view on 203.0.113.1:.*check --web-host"):
        WebSink("203.0.113.1", free_port())  # TEST-NET-3: not an address of this machine


# The sink itself: no encoding without a viewer, a bounded rate, the reset button.

class CountingAnnotator(Annotator):
    """Counts the overlays drawn and draws none, so the frames arrive as they were made."""

    drawn = 0

    def draw(self, update: Update) -> np.ndarray:
        CountingAnnotator.drawn += 1
        return update.frame.image


def an_update(index: int) -> Update:
    image = np.full((48, 64, 3), index % 255, np.uint8)
    result = Result(index, index / 30, 4.0, (Prediction("carving ice", 0.97),))
    return Update(Frame(image, index / 30, index), result, True, Status(model="m", threads=2))


@pytest.fixture
def sink():
    web = WebSink("127.0.0.1", free_port(), max_fps=10, annotator=CountingAnnotator())
    CountingAnnotator.drawn = 0
    yield web
    web.close()
    web.close()


def test_nothing_is_encoded_while_nobody_watches(sink):
    for i in range(50):
        sink.write(an_update(i))
    assert CountingAnnotator.drawn == 0
    assert json.loads(get(sink.url + "results.json"))["frame"] == 49  # results are still served
    assert CountingAnnotator.drawn == 0


def test_a_viewer_gets_frames_at_a_modest_rate(sink):
    stop = threading.Event()

    def pipeline():
        i = 0
        while not stop.is_set():
            sink.write(an_update(i))
            i += 1
            time.sleep(0.002)

    thread = threading.Thread(target=pipeline)
    thread.start()
    try:
        started = time.monotonic()
        frames = mjpeg_frames(sink.url + "stream.mjpg", 5)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
    assert len(frames) == 5 and frames[0].shape == (48, 64, 3)
    assert elapsed > 0.3, "at most 10 frames a second"
    assert CountingAnnotator.drawn <= 10 * elapsed + 3


def test_the_reset_button_resets_the_stream(sink):
    request = urllib.request.Request(sink.url + "reset", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 204
    assert sink.write(an_update(0)) is Command.RESET
    assert sink.write(an_update(1)) is None


def test_unknown_paths_are_404(sink):
    with pytest.raises(urllib.error.HTTPError, match="404"):
        get(sink.url + "nope")
