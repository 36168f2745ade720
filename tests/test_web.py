"""The web view for real: the app on an endless camera, read with urllib and looked at in headless Chromium."""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, LABELS, MODEL, REPO, free_port, need_binary, run_cli
from live import StreamServer
from test_cli import one_error_line

from utils.errors import ClassifierError
from utils.events.event import Event
from utils.events.files import ENDED, GOING_ON, UNFINISHED, EventFolder
from utils.events.journal import Journal
from utils.events.tracker import event_id
from utils.results import Prediction, Result
from utils.sinks import Command, Update
from utils.sinks.base import Status
from utils.sinks.overlay import Annotator
from utils.sinks.web import UNSATISFIABLE, WebSink, byte_range, login_next
from utils.sinks.web_access import TOKEN_HEADER, WebAccess
from utils.sources import Frame
from utils.sources.health import SourceHealth


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


# Headless Chromium as root in a container: no sandbox, no GPU, no network chatter of its own.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]


def chromium(*args: str, tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """One headless Chromium run (--dump-dom, --screenshot); test_web_pages.py drives it with Playwright."""
    command = [need_binary("chromium", "chromium"), "--headless", *CHROMIUM_FLAGS,
               f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)


@pytest.fixture(scope="module")
def camera():
    """An endless MJPEG camera of the arm wrestling clip (tests/live.py): the app runs until it is stopped."""
    server = StreamServer(ARM_WRESTLING)
    yield server
    server.close()


@pytest.fixture
def web_app(tmp_path, camera):
    """classify.py --display web on the camera; yields the base URL."""
    port = free_port()
    log = open(tmp_path / "stderr.log", "w+")  # closed below
    process = subprocess.Popen(
        [sys.executable, str(REPO / "classify.py"), "--model", str(MODEL), "--labels", str(LABELS),
         "--video", f"{camera.url}/live.mjpg", "--display", "web", "--web-port", str(port)],
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
    assert b'src="static/live.js"' in get(base)
    assert b'"stream.mjpg"' in get(base + "static/live.js") and b'"results.json"' in get(base + "static/live.js")

    # The page in a real browser: the video and the results panel are drawn.
    dom = chromium("--virtual-time-budget=3000", "--dump-dom", base, tmp_path=tmp_path)
    assert 'id="results"' in dom.stdout and "arm wrestling" in dom.stdout, dom.stderr[-2000:]
    shot_file = tmp_path / "web.png"
    chromium("--virtual-time-budget=3000", f"--screenshot={shot_file}", "--window-size=1000,560", base,
             tmp_path=tmp_path)
    shot = cv2.imread(str(shot_file))
    assert shot is not None and shot.shape[:2] == (560, 1000)
    video, panel = shot[100:460, 40:620], shot[:, 680:]  # inside the 638x480 video below the title; beside it
    assert video.std() > 30, "the video area is blank"
    b, g, r = (panel[..., i].astype(int) for i in range(3))
    assert ((r > 230) & (g > 170) & (g < 210) & (b < 40)).sum() > 500, "no top-1 bar in the results panel"
    assert (panel > 200).all(axis=2).sum() > 500, "no result text in the panel"

    # The clients that went away (the MJPEG reader, two browsers) did not stop the pipeline.
    before = results(base)["frame"]
    deadline = time.monotonic() + 60
    while results(base)["frame"] <= before:
        assert time.monotonic() < deadline, "no new result"
        time.sleep(0.1)
    web_app.process.send_signal(signal.SIGTERM)
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


@contextmanager
def pipeline_running(sink: WebSink, pause: float = 0.002,
                     update: Callable[[int], Update] | None = None) -> Iterator[list[Command]]:
    """A pipeline thread that hands the sink a frame every `pause` s; yields the commands the sink answered."""
    stop, commands = threading.Event(), []

    def pipeline():
        i = 0
        while not stop.is_set():
            if (command := sink.write((update or an_update)(i))) is not None:
                commands.append(command)
            i += 1
            time.sleep(pause)

    thread = threading.Thread(target=pipeline)
    thread.start()
    try:
        yield commands
    finally:
        stop.set()
        thread.join()


def test_a_viewer_gets_frames_at_a_modest_rate(sink):
    with pipeline_running(sink):
        started = time.monotonic()
        frames = mjpeg_frames(sink.url + "stream.mjpg", 5)
        elapsed = time.monotonic() - started
    assert len(frames) == 5 and frames[0].shape == (48, 64, 3)
    assert elapsed > 0.3, "at most 10 frames a second"
    assert CountingAnnotator.drawn <= 10 * elapsed + 3


def page_token(url: str, headers: dict[str, str] | None = None) -> str:
    """The per-run token the page carries for its buttons."""
    page = urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5).read().decode()
    return re.search(r'<meta name="classify-token" content="([^"]+)">', page).group(1)


def post(url: str, headers: dict[str, str], method: str = "POST", body: bytes | None = None) -> tuple[int, str]:
    """A request with these headers; returns the HTTP status and the message of the JSON answer."""
    request = urllib.request.Request(url, body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())["message"]
    except urllib.error.HTTPError as e:
        body = e.read()
        return e.code, json.loads(body)["message"] if body.startswith(b"{") else body.decode()


def post_reset(url: str, headers: dict[str, str]) -> int:
    """POST /reset with these headers; returns the HTTP status."""
    return post(url + "reset", headers)[0]


def test_the_reset_button_resets_the_stream_and_says_so(sink):
    # What the page's button sends: the page's own origin and its token.
    headers = {"Origin": sink.url.rstrip("/"), TOKEN_HEADER: page_token(sink.url)}
    with pipeline_running(sink) as commands:
        assert post(sink.url + "reset", headers) == (200, "the stream was reset: the results start afresh")
    assert commands == [Command.RESET], "taken up once, before the answer"
    assert 'name="classify-token-header" content="X-Classify-Token"' in get(sink.url).decode()
    assert "{[header]: token}" in get(sink.url + "static/common.js").decode(), "the page's buttons send the token"


def test_a_button_the_pipeline_does_not_take_up_in_time_says_so(sink):
    headers = {"Origin": sink.url.rstrip("/"), TOKEN_HEADER: page_token(sink.url)}
    status, message = post(sink.url + "reset", headers)  # no frame comes: the pipeline is busy or over
    assert (status, message) == (202, "asked to reset, but classify.py has not taken it up yet (busy, or the video "
                                      "is over)")
    assert sink.write(an_update(0)) is Command.RESET, "still asked for"
    assert sink.write(an_update(1)) is None


def test_the_teach_button_asks_for_teaching_and_the_page_shows_the_notice(sink):
    update = Update(Frame(np.zeros((48, 64, 3), np.uint8), 0.0, 0), Result(0, 0.0, 1.0, ()), True,
                    Status(notice="teaching 'ice': get ready, recording in 3", teach="ice", teach_what="'ice'"))
    assert sink.write(update) is None
    status = json.loads(get(sink.url + "results.json"))["status"]
    assert status["notice"] == "teaching 'ice': get ready, recording in 3" and status["teach"] == "ice"
    assert 'data-press="teach"' in get(sink.url).decode()
    token, origin = page_token(sink.url), sink.url.rstrip("/")
    assert post(sink.url + "teach", {"Origin": "http://evil.example", TOKEN_HEADER: token})[0] == 403  # as reset
    assert sink.write(update) is None
    with pipeline_running(sink, update=lambda i: update) as commands:
        assert post(sink.url + "teach", {"Origin": origin, TOKEN_HEADER: token}) == (
            200, "teaching 'ice': watch the countdown")
    assert commands == [Command.TEACH]
    background = dataclasses.replace(update, status=Status(teach="ice", teach_what="the background of 'ice'"))
    with pipeline_running(sink, update=lambda i: background) as commands:  # --teach-background: says so
        assert post(sink.url + "teach", {"Origin": origin, TOKEN_HEADER: token}) == (
            200, "teaching the background of 'ice': watch the countdown")
    assert commands == [Command.TEACH]


def test_the_undo_button_asks_to_forget_the_last_session(sink):
    """The answer is the notice of the update after the undo: what was undone, or why nothing was."""
    done = "undid the last session of 'ice', which was its only one: it is gone"
    update = Update(Frame(np.zeros((48, 64, 3), np.uint8), 0.0, 0), Result(0, 0.0, 1.0, ()), True,
                    Status(teach="ice", notice=done))
    assert 'data-press="teach/undo"' in get(sink.url).decode()
    token, origin = page_token(sink.url), sink.url.rstrip("/")
    assert post(sink.url + "teach/undo", {"Origin": "http://evil.example", TOKEN_HEADER: token})[0] == 403
    assert sink.write(update) is None  # the same protection as the other buttons: nothing was asked
    with pipeline_running(sink, update=lambda i: update) as commands:
        assert post(sink.url + "teach/undo", {"Origin": origin, TOKEN_HEADER: token}) == (
            200, done)
    assert commands == [Command.UNDO_TEACH]


def test_a_reset_that_does_not_come_from_the_page_is_refused(sink):
    token, origin = page_token(sink.url), sink.url.rstrip("/")
    for headers in ({},                                                     # curl, a script
                    {"Origin": origin},                                     # same origin, no token
                    {"Origin": origin, TOKEN_HEADER: "guessed"},            # a wrong token
                    {"Origin": "http://evil.example", TOKEN_HEADER: token},  # another site
                    {"Origin": "null", TOKEN_HEADER: token},                # a sandboxed frame, a file
                    {TOKEN_HEADER: token}):                                 # neither Origin nor Referer
        assert post_reset(sink.url, headers) == 403, headers
        assert sink.write(an_update(0)) is None, headers
    with pipeline_running(sink) as commands:
        assert post_reset(sink.url, {"Referer": sink.url, TOKEN_HEADER: token}) == 200  # Referer stands in for Origin
    assert commands == [Command.RESET]


@contextmanager
def another_site(page: bytes) -> Iterator[str]:
    """A web server on another port (another origin) that serves `page`, as an attacker's site; yields its URL."""

    class Attacker(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args) -> None:
            pass

    evil = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{evil.server_address[1]}/"
    finally:
        evil.shutdown()
        evil.server_close()


def test_a_page_on_another_site_cannot_reset_the_stream_in_a_real_browser(sink, tmp_path, caplog):
    """Headless Chromium opens an attacker's page (another origin: another port) that posts to /reset by fetch
    and by a form, as any web page the user happens to open could."""
    attack = f"""<!doctype html><html><body><iframe name="sink" style="display:none"></iframe>
<form id="form" method="POST" action="{sink.url}reset" target="sink"><input name="x" value="1"></form>
<p id="out">started</p><script>
(async () => {{
  const out = document.getElementById("out");
  try {{ await fetch("{sink.url}reset", {{method: "POST", mode: "no-cors"}}); out.textContent += " fetch"; }}
  catch (e) {{ out.textContent += " fetch-error"; }}
  document.getElementById("form").submit();
  out.textContent += " form";
}})();
</script></body></html>""".encode()

    with caplog.at_level(logging.DEBUG, logger="utils.sinks.web"), another_site(attack) as evil_url:
        dom = chromium("--virtual-time-budget=5000", "--dump-dom", evil_url, tmp_path=tmp_path)
        assert "started fetch form" in dom.stdout, dom.stdout + dom.stderr[-2000:]
        deadline = time.monotonic() + 30
        while caplog.text.count('"POST /reset ') < 2:  # both requests reached the web view...
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
    assert sink.write(an_update(0)) is None, "...and one of them reset the stream"
    assert caplog.text.count('"POST /reset HTTP/1.1" 403') == 2


def raw_get(port: int, path: str, host: str, address: str = "127.0.0.1") -> tuple[int, bytes]:
    """A GET with any Host header, as a DNS-rebinding page's browser sends it."""
    connection = http.client.HTTPConnection(address, port, timeout=5)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_forged_host_is_refused_so_dns_rebinding_reads_nothing(sink):
    sink.write(an_update(3))
    port = sink.port
    for path in ("/", "/results.json", "/frame.jpg", "/stream.mjpg"):
        status, body = raw_get(port, path, f"evil.example:{port}")
        assert status == 400 and b"carving ice" not in body and b"classify-token" not in body, path
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost:9000"):  # 9000: an ssh -L tunnel's port
        assert raw_get(port, "/results.json", host)[0] == 200, host


def test_a_password_keeps_everyone_else_out():
    web = WebSink("127.0.0.1", free_port(), password="s3cret pass")
    try:
        def status(authorization: str | None) -> int:
            headers = {"Authorization": authorization} if authorization else {}
            try:
                with urllib.request.urlopen(urllib.request.Request(web.url, headers=headers), timeout=5) as r:
                    return r.status
            except urllib.error.HTTPError as e:
                assert e.code != 401 or e.headers["WWW-Authenticate"].startswith("Basic ")
                return e.code

        def basic(user: str, password: str) -> str:
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

        assert status(None) == 401
        assert status(basic("pi", "wrong")) == 401
        assert status("Basic !!!") == 401
        assert status(basic("anyone", "s3cret pass")) == 200
        auth = {"Authorization": basic("pi", "s3cret pass")}
        token = page_token(web.url, auth)
        assert post_reset(web.url, {"Origin": web.url.rstrip("/"), TOKEN_HEADER: token}) == 401  # no password
        with pipeline_running(web) as commands:
            assert post_reset(web.url, {**auth, "Origin": web.url.rstrip("/"), TOKEN_HEADER: token}) == 200
        assert commands == [Command.RESET]
    finally:
        web.close()


def test_beyond_loopback_a_password_or_web_insecure_is_required():
    line = one_error_line(run_cli("--video", str(ARM_WRESTLING), "--display", "web", "--web-host", "0.0.0.0",
                                  "--web-port", str(free_port())))
    assert "WEB_PASSWORD" in line and "--web-insecure" in line and "reset the stream" in line
    for extra, env in ((["--web-insecure"], {}), ([], {"WEB_PASSWORD": "s3cret"})):
        run = run_cli("--video", str(CARVING_ICE), "--display", "web", "--web-host", "0.0.0.0",
                      "--web-port", str(free_port()), *extra, env=env)
        assert run.returncode == 0, run.stderr
        assert "can watch the camera and reset the stream" in run.stderr
        assert "s3cret" not in run.stderr


def test_idle_connections_time_out_and_serving_is_bounded():
    web = WebSink("127.0.0.1", free_port(), connection_timeout=1.0, max_connections=4)
    idle = [socket.create_connection(("127.0.0.1", web.port), timeout=5) for _ in range(4)]  # send nothing
    streams: list = []
    try:
        # Connections that sent no request hold no serving slot: a request beside them is answered.
        assert json.loads(get(web.url + "results.json", timeout=30))["results"] == []
        assert all(s.recv(1) == b"" for s in idle), "the server closed the idle connections"
        streams = [urllib.request.urlopen(web.url + "stream.mjpg", timeout=30) for _ in range(4)]  # all 4 slots
        with pytest.raises(urllib.error.HTTPError, match="503"):
            get(web.url + "results.json", timeout=30)
        for stream in streams:
            stream.close()
        deadline = time.monotonic() + 30
        while True:  # the streams' slots come back once their threads notice the closed connections
            try:
                get(web.url + "results.json", timeout=5)
                break
            except urllib.error.HTTPError:
                assert time.monotonic() < deadline, "the slots of closed streams never came back"
                time.sleep(0.2)
    finally:
        for s in idle:
            s.close()
        for stream in streams:
            stream.close()
        web.close()


def test_ipv6_loopback_works():
    port = free_port()
    try:
        web = WebSink("::1", port)
    except ClassifierError as e:  # a machine without IPv6: refused, with the reason
        assert "IPv6 is not enabled" in str(e)
        return
    try:
        assert web.url == f"http://[::1]:{port}/"
        assert json.loads(get(web.url + "results.json"))["results"] == []
        assert raw_get(port, "/", f"[::1]:{port}", address="::1")[0] == 200
        assert raw_get(port, "/", "evil.example", address="::1")[0] == 400
    finally:
        web.close()


def test_an_outage_is_in_the_results(sink):
    since = time.time()
    sink.write(Update(an_update(5).frame, None, False, Status(source=SourceHealth(offline_since=since))))
    source = json.loads(get(sink.url + "results.json"))["status"]["source"]
    assert source == {"online": False, "offline_since": since, "frozen": False,
                      "message": f"camera offline since {time.strftime('%H:%M:%S', time.localtime(since))}; retrying"}


def test_unknown_paths_are_404(sink):
    with pytest.raises(urllib.error.HTTPError, match="404"):
        get(sink.url + "nope")


def test_a_very_wide_and_low_video_reaches_the_browser():
    """A 16384x8 video: the overlay used to enlarge it 60 times, to 983040x480 (1.4 GB), and no JPEG came of it."""
    web = WebSink("127.0.0.1", free_port())  # with the real overlay
    received: list[np.ndarray] = []

    def pipeline():
        update = Update(Frame(np.full((8, 16384, 3), 128, np.uint8), 0.0, 0), None, False, Status())
        while not received:
            web.write(update)
            time.sleep(0.01)

    thread = threading.Thread(target=pipeline)
    thread.start()
    try:
        received.extend(mjpeg_frames(web.url + "stream.mjpg", 1))
    finally:
        received.append(np.zeros(0))
        thread.join()
        web.close()
    assert received[0].shape == (8, 16384, 3)


def cookie_of(set_cookie: str) -> str:
    """The Cookie header a browser sends back for a Set-Cookie value."""
    return set_cookie.split(";", 1)[0]


def test_a_session_cookie_is_signed_expires_and_belongs_to_one_port_and_password():
    access = WebAccess.for_host("127.0.0.1", "s3cret", 8080)
    set_cookie = access.new_session()
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and f"Max-Age={30 * 86400}" in set_cookie
    assert "s3cret" not in set_cookie
    cookie = cookie_of(set_cookie)
    assert access.authorized(None, cookie) and access.authorized(None, f"other=1; {cookie}")
    name, _, value = cookie.partition("=")
    token, expires, signature = value.split(".")
    for forged in (f"{name}={token}.{int(expires) + 86400}.{signature}",  # a longer life
                   f"{name}=x{token[1:]}.{expires}.{signature}",           # another token
                   f"{name}={token}.{expires}.{'0' * len(signature)}",     # a guessed signature
                   f"{name}={token}.{expires}", f"{name}=", "", "garbage; ;=",
                   cookie.replace(name, "classify_session_9000")):         # another port's web view
        assert not access.authorized(None, forged), forged
    assert not access.authorized(None, cookie_of(access.new_session(now=time.time() - 31 * 86400))), "expired"
    assert not WebAccess.for_host("127.0.0.1", "new password", 8080).authorized(None, cookie), "password changed"
    assert cookie_of(access.end_session()) == f"{name}="


def test_the_login_form_leads_only_to_this_web_view():
    for given, expected in (("/events?label=x", "/events?label=x"), ("//evil.example/", "/"),
                            ("http://evil.example/", "/"), ("/\\evil.example", "/"), ("", "/")):
        assert login_next({"next": [given]}) == expected, given


def test_a_login_from_another_site_is_refused():
    web = WebSink("127.0.0.1", free_port(), password="pw")
    try:
        status, _ = post(web.url + "login", {"Origin": "http://evil.example",
                                             "Content-Type": "application/x-www-form-urlencoded"}, body=b"password=pw")
        assert status == 403
    finally:
        web.close()


def test_a_logout_from_another_site_is_refused_and_the_session_goes_on():
    web = WebSink("127.0.0.1", free_port(), password="pw")
    try:
        cookie = cookie_of(web._server.access.new_session())
        token, origin = page_token(web.url, {"Cookie": cookie}), web.url.rstrip("/")
        for headers in ({"Origin": "http://evil.example", TOKEN_HEADER: token},  # another site, the token guessed
                        {"Origin": origin, TOKEN_HEADER: "guess"}):               # the page's origin, no token
            assert post(web.url + "logout", {"Cookie": cookie, **headers})[0] == 403
        assert page_token(web.url, {"Cookie": cookie}) == token  # still logged in
        from_the_page = {"Cookie": cookie, "Origin": origin, TOKEN_HEADER: token}
        assert post(web.url + "logout", from_the_page) == (200, "logged out")
    finally:
        web.close()


def test_the_events_folder_pages_filters_and_deletes(tmp_path):
    """The journal as the events pages read it: states, pages, filters, and a deletion that keeps the lines."""
    since = datetime(2025, 1, 31, 12, 0, tzinfo=timezone.utc)  # when this run's web view started
    journal = Journal(tmp_path)
    made = {}
    for name, label, minutes, ends in (("old", "clapping", -90, True), ("lost", "clapping", -60, False),
                                       ("done", "juggling", 5, True), ("live", "juggling", 10, False)):
        start = since + timedelta(minutes=minutes)
        eid = event_id(label, start)  # only names the recorder writes are served
        event = Event(eid, label, "test", 0.0, 0, start, 0.9, 3, files=(f"{eid}.jpg",))
        (tmp_path / f"{eid}.jpg").write_bytes(b"jpeg")
        journal.on_start(event)
        if ends:
            journal.on_end(event.ended(2.0, start + timedelta(seconds=2), "ended"))
        made[name] = event.id
    journal.close()
    folder = EventFolder(tmp_path, since=since)

    assert [(e["id"], e["state"]) for e in folder.events()] == [
        (made["live"], GOING_ON), (made["done"], ENDED), (made["lost"], UNFINISHED), (made["old"], ENDED)]
    first, second = folder.page(per_page=3), folder.page(page=2, per_page=3)
    assert (first["total"], first["pages"], len(first["events"]), len(second["events"])) == (4, 2, 3, 1)
    assert folder.page(page=99, per_page=3)["page"] == 2, "past the end: the last page"
    assert [e["id"] for e in folder.page(label="clapping")["events"]] == [made["lost"], made["old"]]
    assert first["labels"] == ["clapping", "juggling"]
    day = (since + timedelta(minutes=5)).astimezone().date().isoformat()
    assert all(e["day"] == day for e in folder.page(day=day)["events"]) and folder.page(day=day)["total"] >= 2
    assert folder.events()[1]["snapshot"] == f"events/{made['done']}.jpg"

    assert folder.delete(made["live"]) == "the event is still going on; delete it once it has ended"
    assert folder.delete("../events") == folder.delete("nope") == "no such event"
    lines_before = (tmp_path / "events.jsonl").read_text().splitlines()
    assert folder.delete(made["done"]) is None
    assert not (tmp_path / f"{made['done']}.jpg").exists() and (tmp_path / f"{made['old']}.jpg").exists()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert lines[:-1] == lines_before and json.loads(lines[-1])["type"] == "deleted"
    assert made["done"] not in [e["id"] for e in folder.events()] and folder.page()["total"] == 3


def test_the_events_folder_reads_only_whole_new_lines(tmp_path):
    folder = EventFolder(tmp_path)
    assert folder.events() == []  # no journal yet
    start = datetime.now(timezone.utc) + timedelta(seconds=1)  # after the view started
    line = json.dumps(Event("a-1", "clapping", "test", 0.0, 0, start, 0.8, 1).record("start")) + "\n"
    with (tmp_path / "events.jsonl").open("w") as f:
        f.write(line[:20])  # the app is still writing the line
        f.flush()
        assert folder.events() == []
        f.write(line[20:])
        f.flush()
        assert [(e["id"], e["state"]) for e in folder.events()] == [("a-1", GOING_ON)]
    (tmp_path / "events.jsonl").write_text("")  # a new journal
    assert folder.events() == []


def test_the_events_pages_benchmark_prints_its_figures():
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "web_events.py"), "--events", "50",
                          "--repeats", "1"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["events"] == 50 and report["journal_bytes"] > 50 * 400
    assert all(report[key] > 0 for key in ("first_page_ms", "page_again_ms", "page_after_one_more_event_ms",
                                           "login_key_ms"))


def wrong_login(port: int) -> socket.socket:
    """A login form with a wrong password, sent whole on a raw socket (as a guessing script would)."""
    body = b"password=wrong&next=/"
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n"
                       b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
                       b"Connection: close\r\n\r\n%s" % (port, port, len(body), body))
    return connection


def answer_of(connection: socket.socket) -> bytes:
    with connection:
        return b"".join(iter(lambda: connection.recv(65536), b""))


def test_a_wrong_password_while_another_is_answered_gets_429_at_once():
    """Wrong passwords are answered one a second; those that come meanwhile are told to retry at once instead of
    each holding a serving slot while they wait (scripted guesses would otherwise fill every slot)."""
    web = WebSink("127.0.0.1", free_port(), password="pw", max_connections=4)
    try:
        with web.login_lock:  # a wrong password is being answered (held here, so the order is certain)
            guesses = [wrong_login(web.port) for _ in range(8)]  # twice the serving slots
            answers = [answer_of(guess) for guess in guesses]
        for answer in answers:
            assert answer.split(b"\r\n", 1)[0].endswith(b" 429 Too Many Requests"), answer[:80]
            assert b"\r\nRetry-After: 1\r\n" in answer
        answer = answer_of(wrong_login(web.port))  # the lock is free: the guess costs its second, then the form
        assert b" 303 " in answer.split(b"\r\n", 1)[0] and b"failed=1" in answer
    finally:
        web.close()


def test_the_pages_are_filled_in_once_and_the_login_page_per_request():
    web = WebSink("127.0.0.1", free_port(), name="Garden <cam>")
    try:
        page = web.page("index.html")
        assert web.page("index.html") is page, "the same bytes every time: filled in at the start"
        assert web._server.access.token.encode() in page and b"Garden &lt;cam&gt; \xc2\xb7 live" in page
        assert b"%" + b"TOKEN" not in page and b"%NAME%" not in page
        login = web.page("login.html", "/events?x=<1>", "wrong password, try again")
        assert b'value="/events?x=&lt;1&gt;"' in login and b"wrong password, try again" in login
        assert b"wrong password" not in web.page("login.html") and b'value="/"' in web.page("login.html")
    finally:
        web.close()


@pytest.mark.parametrize(("args", "message"), [
    (["--web", "--web-embed-from", "homeassistant.local:8123"], "--web-embed-from: 'homeassistant.local:8123' is "
                                                                 "not an origin: give scheme://host[:port]"),
    (["--web", "--web-embed-from", "http://ha:8123/lovelace"], "is not an origin"),
    (["--web", "--web-embed-from", "http://ha; frame-ancestors *"], "is not an origin"),
    (["--web", "--web-embed-from", ","], "must name at least one origin"),
    (["--web-embed-from", "http://ha:8123"], "--web-embed-from needs the web view: add --web"),
])
def test_a_bad_embedding_origin_is_one_line_and_exit_2(args, message):
    assert message in one_error_line(run_cli("--video", str(CARVING_ICE), "--display", "none", *args))


def test_a_range_request_gets_that_part_of_an_event_file():
    assert byte_range("bytes=0-99", 1000) == (0, 99)
    assert byte_range("bytes=900-", 1000) == byte_range("bytes=-100", 1000) == (900, 999)
    assert byte_range("bytes=990-5000", 1000) == (990, 999)
    assert byte_range("bytes=1000-", 1000) == byte_range("bytes=-0", 1000) == UNSATISFIABLE
    for whole in (None, "", "items=0-1", "bytes=0-1,5-6", "bytes=-", "bytes=a-9", "bytes=9-3"):
        assert byte_range(whole, 1000) is None, whole  # the whole file, as RFC 9110 allows
