"""The web view for real: the app on a clip, read with urllib and looked at in headless Chromium."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, LABELS, MODEL, REPO, free_port, need_binary, run_cli
from test_cli import one_error_line

from utils.errors import ClassifierError
from utils.results import Prediction, Result
from utils.sinks import Command, Update
from utils.sinks.base import Status
from utils.sinks.overlay import Annotator
from utils.sinks.web import WebSink
from utils.sinks.web_access import TOKEN_HEADER
from utils.sources import Frame
from utils.sources.health import SourceHealth

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


def page_token(url: str, headers: dict[str, str] | None = None) -> str:
    """The per-run token the page carries for its buttons."""
    page = urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5).read().decode()
    return re.search(r'<meta name="classify-token" content="([^"]+)">', page).group(1)


def post_reset(url: str, headers: dict[str, str]) -> int:
    """POST /reset with these headers; returns the HTTP status."""
    request = urllib.request.Request(url + "reset", method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_the_reset_button_resets_the_stream(sink):
    # What the page's button sends: the page's own origin and its token.
    headers = {"Origin": sink.url.rstrip("/"), TOKEN_HEADER: page_token(sink.url)}
    assert post_reset(sink.url, headers) == 204
    assert sink.write(an_update(0)) is Command.RESET
    assert sink.write(an_update(1)) is None
    assert f'headers: {{"{TOKEN_HEADER}": token}}' in get(sink.url).decode(), "the page's button sends the token"


def test_the_teach_button_asks_for_teaching_and_the_page_shows_the_notice(sink):
    update = Update(Frame(np.zeros((48, 64, 3), np.uint8), 0.0, 0), Result(0, 0.0, 1.0, ()), True,
                    Status(notice="teaching 'ice': get ready, recording in 3", teach="ice"))
    assert sink.write(update) is None
    status = json.loads(get(sink.url + "results.json"))["status"]
    assert status["notice"] == "teaching 'ice': get ready, recording in 3" and status["teach"] == "ice"
    assert 'id="teach"' in get(sink.url).decode() and 'teach.onclick = () => press("teach")' in get(sink.url).decode()
    token, origin = page_token(sink.url), sink.url.rstrip("/")
    teach = urllib.request.Request(sink.url + "teach", method="POST", headers={"Origin": "http://evil.example",
                                                                                TOKEN_HEADER: token})
    with pytest.raises(urllib.error.HTTPError, match="403"):
        urllib.request.urlopen(teach, timeout=5)  # the same protection as the reset button
    assert sink.write(update) is None
    teach = urllib.request.Request(sink.url + "teach", method="POST", headers={"Origin": origin, TOKEN_HEADER: token})
    with urllib.request.urlopen(teach, timeout=5) as answer:
        assert answer.status == 204
    assert sink.write(update) is Command.TEACH
    assert sink.write(update) is None


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
    assert post_reset(sink.url, {"Referer": sink.url, TOKEN_HEADER: token}) == 204  # Referer stands in for Origin
    assert sink.write(an_update(0)) is Command.RESET


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

    class Attacker(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(attack)))
            self.end_headers()
            self.wfile.write(attack)

        def log_message(self, *args) -> None:
            pass

    evil = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        with caplog.at_level(logging.DEBUG, logger="utils.sinks.web"):
            dom = chromium("--virtual-time-budget=5000", "--dump-dom", f"http://127.0.0.1:{evil.server_address[1]}/",
                           tmp_path=tmp_path)
            assert "started fetch form" in dom.stdout, dom.stdout + dom.stderr[-2000:]
            deadline = time.monotonic() + 30
            while caplog.text.count('"POST /reset ') < 2:  # both requests reached the web view...
                assert time.monotonic() < deadline, caplog.text
                time.sleep(0.05)
    finally:
        evil.shutdown()
        evil.server_close()
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
        assert post_reset(web.url, {**auth, "Origin": web.url.rstrip("/"), TOKEN_HEADER: token}) == 204
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
    assert source == {"online": False, "offline_since": since,
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
