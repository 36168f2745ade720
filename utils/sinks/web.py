"""The web view: the annotated video as MJPEG and the latest results as JSON, for a browser on another machine.

One daemon thread runs a ThreadingHTTPServer; the pipeline only hands over frames and never waits on a
client. A JPEG is encoded only while someone is watching, and at most `max_fps` times a second. Who may
connect and press buttons is web_access's job; here every connection is also bounded in time and number.

Connections that have not yet sent a whole request (slowloris: a header byte every few seconds, from many
connections) cannot lock the view: they wait in a small pool of their own, not in the serving slots; the
whole request head must arrive within a deadline (not per read); and when the pool is full, or one address
holds its share of it, a new connection pushes out the oldest waiting one, so a browser's request, sent whole
at once, always gets through.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
import select
import shutil
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2

from utils.config import is_loopback, web_exposure_problem
from utils.errors import ClassifierError
from utils.events.files import event_file, recent_event_list
from utils.results import Result
from utils.sinks.base import Command, Status, Update
from utils.sinks.overlay import Annotator
from utils.sinks.web_access import TOKEN_HEADER, WILDCARDS, WebAccess

log = logging.getLogger(__name__)

WANTED_SECONDS = 2.0  # a client's request for frames lasts this long; streams renew it every frame
# A client whose request head is not complete after this long, or that reads nothing for this long, is
# dropped, and only this many requests are served at once (each holds a thread): idle connections cannot pile
# up until the Pi runs out of memory.
CONNECTION_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 32
MAX_WAITING = 16             # connections still sending their request head (each holds a thread too)
MAX_WAITING_PER_ADDRESS = 8  # of which one address may hold this many
SERVE, BUSY, DROPPED = "serve", "busy", "dropped"  # what becomes of a connection whose request head arrived
BUTTONS = {"/reset": Command.RESET, "/teach": Command.TEACH}  # the page's buttons: what each asks of the pipeline
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",  # no other page may frame this one and trick a click on its buttons
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="classify-token" content="%TOKEN%">
<title>Action classifier</title>
<style>
body { margin: 0; background: #111; color: #eee; font: 18px system-ui, sans-serif; }
main { display: flex; flex-wrap: wrap; gap: 16px; padding: 16px; }
#video { max-width: 100%; max-height: 90vh; background: #000; min-width: 320px; min-height: 240px; }
#panel { flex: 1; min-width: 260px; }
.row { margin: 10px 0; }
.bar { height: 10px; background: #444; border-radius: 5px; overflow: hidden; }
.bar div { height: 100%; background: #aaa; }
.row:first-child .bar div { background: #ffbe00; }
.row:first-child .label { font-size: 26px; font-weight: bold; }
#status { color: #aaa; font-size: 15px; line-height: 1.5; }
#notice { color: #ffbe00; font-size: 24px; font-weight: bold; min-height: 1em; margin: 0 0 8px; }
button { font-size: 16px; padding: 6px 14px; }
#events a { color: #eee; display: flex; gap: 10px; align-items: center; margin: 8px 0; text-decoration: none; }
#events img { width: 120px; border-radius: 4px; }
</style></head>
<body><main>
<img id="video" alt="live video">
<div id="panel"><p id="notice"></p><div id="results"><div class="row">waiting for the first result...</div></div>
<p id="status"></p><button id="reset" title="forget the video so far (key r)">reset stream</button>
<button id="teach" hidden title="a countdown, then the next seconds of video teach this action (key t)"></button>
<div id="events"></div></div>
</main>
<script>
const results = document.getElementById("results"), status = document.getElementById("status");
const notice = document.getElementById("notice"), teach = document.getElementById("teach");
function message(text) {
  const row = document.createElement("div"); row.className = "row"; row.textContent = text; return row;
}
function show(data) {
  const s = data.status;
  notice.textContent = s.notice;  // the teaching countdown, "none of the taught actions"
  teach.hidden = !s.teach;
  teach.textContent = `teach '${s.teach}'`;
  if (!s.source.online) results.replaceChildren(message(s.source.message));  // the camera is away
  else if ("frame" in data) results.replaceChildren(...(data.results.length ? data.results : s.notice ? [] : [{label:
      "(no label above the threshold)", score: 0}]).map(p => {
    const row = document.createElement("div"), label = document.createElement("div");
    const bar = document.createElement("div"), fill = document.createElement("div");
    row.className = "row"; label.className = "label"; bar.className = "bar";
    label.textContent = `${p.label}  ${Math.round(p.score * 100)}%`;
    fill.style.width = `${Math.max(0, Math.min(1, p.score)) * 100}%`;
    bar.append(fill); row.append(label, bar); return row;
  }));
  else return;  // no result yet: keep "waiting..."
  status.textContent = `capture ${s.capture_fps.toFixed(1)} fps, classify ${s.classify_fps.toFixed(1)} fps, ` +
    `${s.inference_ms.toFixed(1)} ms; ${s.model}, ${s.threads} threads` +
    (s.cpu_temp_c == null ? "" : `, ${s.cpu_temp_c.toFixed(0)} °C`) +
    (s.cpu_percent == null ? "" : `, CPU ${s.cpu_percent.toFixed(0)}%`);
}
async function poll() {
  try { show(await (await fetch("results.json", {cache: "no-store"})).json()); }
  catch (e) { status.textContent = "disconnected: is classify.py still running?"; }
  setTimeout(poll, 500);
}
async function pollEvents() {
  try {
    const data = await (await fetch("events.json", {cache: "no-store"})).json();
    const box = document.getElementById("events");
    if (!data.enabled) return;
    box.replaceChildren(document.createElement("h3"), ...data.events.map(e => {
      const link = document.createElement("a"), text = document.createElement("span");
      if (e.clip) link.href = e.clip;
      if (e.snapshot) {
        const img = document.createElement("img"); img.src = e.snapshot; img.alt = ""; link.append(img);
      }
      const when = new Date(e.start_utc).toLocaleString();
      text.textContent = `${e.label}, ${when}, ` + (e.duration == null ? "going on" : `${e.duration.toFixed(1)} s`);
      link.append(text); return link;
    }));
    box.firstChild.textContent = data.events.length ? "Recent events" : "No events yet";
    setTimeout(pollEvents, 3000);
  } catch (e) { setTimeout(pollEvents, 3000); }
}
// Buttons send the page's token: another site's page can post to /reset but cannot read the token.
const token = document.querySelector('meta[name="classify-token"]').content;
const press = path => fetch(path, {method: "POST", headers: {"%TOKEN_HEADER%": token}});
document.getElementById("reset").onclick = () => press("reset");
teach.onclick = () => press("teach");
// The endless MJPEG request starts after the page has loaded, so the page counts as loaded.
window.addEventListener("load", () => { document.getElementById("video").src = "stream.mjpg"; poll(); pollEvents(); });
</script></body></html>
"""


class _Server(ThreadingHTTPServer):
    """Serves each connection on its own daemon thread: at most `max_connections` requests at once, and
    besides them at most MAX_WAITING connections still sending their request head (the oldest pushed out)."""

    daemon_threads = True  # a client streaming for hours never holds up the exit
    request_queue_size = 64  # the listen backlog: a burst of connections waits to be accepted, not refused
    sink: WebSink
    access: WebAccess
    connection_timeout: float = CONNECTION_TIMEOUT_S  # also the deadline for a whole request head
    refusals = 0  # requests to change something that did not come from the page
    pushed_out = 0  # waiting connections dropped for a newer one or for their deadline

    def __init__(self, address: tuple[str, int], max_connections: int, max_waiting: int = MAX_WAITING,
                 max_waiting_per_address: int = MAX_WAITING_PER_ADDRESS) -> None:
        self._slots = threading.BoundedSemaphore(max_connections)
        self.max_waiting = max_waiting
        self.max_waiting_per_address = max_waiting_per_address
        self._lock = threading.Lock()
        self._waiting: dict[socket.socket, tuple[str, float]] = {}  # -> (address, deadline), oldest first
        self._serving: set[socket.socket] = set()  # the connections holding a slot
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):
        with self._lock:
            same = [s for s, (address, _) in self._waiting.items() if address == client_address[0]]
            if len(same) >= self.max_waiting_per_address:
                self._push_out(same[0], "its address holds too many connections that sent no request yet")
            elif len(self._waiting) >= self.max_waiting:
                self._push_out(next(iter(self._waiting)), "too many connections sent no request yet")
            self._waiting[request] = (client_address[0], time.monotonic() + self.connection_timeout)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._forget(request)
            raise

    def _push_out(self, request: socket.socket, why: str) -> None:
        """Ends a waiting connection (under the lock): its thread's read returns at once and it closes."""
        address, _ = self._waiting.pop(request)
        self.pushed_out += 1
        log.log(logging.WARNING if self.pushed_out == 1 else logging.DEBUG,
                "web: dropped a connection from %s: %s (a slow or hostile client?)", address, why)
        try:
            request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # closed meanwhile

    def service_actions(self) -> None:
        """Between requests (every poll interval): drops the connections whose head is late."""
        now = time.monotonic()
        with self._lock:
            for request in [r for r, (_, deadline) in self._waiting.items() if deadline < now]:
                self._push_out(request, "its request was not complete in time")

    def head_received(self, request: socket.socket) -> str:
        """A connection sent its whole request head: it leaves the waiting pool and takes a serving slot.
        Returns SERVE, BUSY (every slot taken) or DROPPED (pushed out meanwhile: its head may be cut short)."""
        with self._lock:
            if self._waiting.pop(request, None) is None:
                return DROPPED
            if not self._slots.acquire(blocking=False):
                return BUSY
            self._serving.add(request)
            return SERVE

    def _forget(self, request: socket.socket) -> None:
        with self._lock:
            self._waiting.pop(request, None)
            if request in self._serving:
                self._serving.discard(request)
                self._slots.release()

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._forget(request)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.connection_timeout)  # every read and write of this client

    def log_message(self, format: str, *args) -> None:
        log.debug("web: %s %s", self.address_string(), format % args)

    def parse_request(self) -> bool:
        """After the whole head: a serving slot, or 503 when every one is busy."""
        if not super().parse_request():
            return False
        admitted = self.server.head_received(self.connection)
        if admitted == SERVE:
            return True
        self.close_connection = True
        if admitted == DROPPED:
            return False
        log.debug("web: %s refused: too many connections", self.address_string())
        try:
            self._send(b"too many connections\n", "text/plain", HTTPStatus.SERVICE_UNAVAILABLE,
                       {"Retry-After": "5", "Connection": "close"})
        except OSError:
            pass
        return False

    def _headers(self, content_type: str, status: HTTPStatus, length: int | None = None,
                 extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        for name, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, body: bytes, content_type: str, status: HTTPStatus = HTTPStatus.OK,
              extra: dict[str, str] | None = None) -> None:
        self._headers(content_type, status, len(body), extra)
        self.wfile.write(body)

    def _admitted(self) -> bool:
        """The Host check, then the password; sends the refusal and returns False when the request fails one."""
        access = self.server.access
        if not access.host_allowed(self.headers.get("Host")):
            log.debug("web: %s refused: unknown Host %r", self.address_string(), self.headers.get("Host"))
            self._send(b"unknown host name: open the address classify.py printed\n", "text/plain",
                       HTTPStatus.BAD_REQUEST)
            return False
        if not access.authorized(self.headers.get("Authorization")):
            self._send(b"password required\n", "text/plain", HTTPStatus.UNAUTHORIZED,
                       {"WWW-Authenticate": 'Basic realm="classify.py web view", charset="UTF-8"'})
            return False
        return True

    def do_GET(self) -> None:
        self._answer(self._get)

    def do_POST(self) -> None:
        self._answer(self._post)

    def _answer(self, respond: Callable[[], None]) -> None:
        """Every request: the Host check and the password first; a client that went away is no error."""
        try:
            if self._admitted():
                respond()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout) as e:
            log.debug("web: %s went away (%s)", self.address_string(), e)

    def _get(self) -> None:
        sink = self.server.sink
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            page = PAGE.replace("%TOKEN_HEADER%", TOKEN_HEADER).replace("%TOKEN%", self.server.access.token)
            self._send(page.encode(), "text/html; charset=utf-8")
        elif path == "/results.json":
            self._send(sink.results_json(), "application/json")
        elif path == "/frame.jpg":
            jpeg, _ = sink.next_jpeg(-1)
            if jpeg is None:
                self._send(b"no frame yet\n", "text/plain", HTTPStatus.SERVICE_UNAVAILABLE)
            else:
                self._send(jpeg, "image/jpeg")
        elif path == "/stream.mjpg":
            self._stream(sink)
        elif path == "/events.json":
            self._send(json.dumps(recent_event_list(sink.events_dir)).encode(), "application/json")
        elif path.startswith("/events/") and (found := event_file(sink.events_dir, path[len("/events/"):])):
            self._send_file(*found)
        else:
            self._send(b"not found\n", "text/plain", HTTPStatus.NOT_FOUND)

    def _send_file(self, path: Path, content_type: str) -> None:
        """An event's clip or snapshot, streamed from the disk (a clip can be megabytes)."""
        with path.open("rb") as f:
            self._headers(content_type, HTTPStatus.OK, os.fstat(f.fileno()).st_size)
            shutil.copyfileobj(f, self.wfile)

    def _post(self) -> None:
        """Every button: same origin and the run's token, besides the Host check and the password."""
        button = BUTTONS.get(self.path)
        if button is None:
            self._send(b"not found\n", "text/plain", HTTPStatus.NOT_FOUND)
            return
        headers = self.headers
        if not self.server.access.may_change_state(headers.get("Host"), headers.get("Origin") or headers.get("Referer"),
                                                   headers.get(TOKEN_HEADER)):
            self.server.refusals += 1
            log.log(logging.WARNING if self.server.refusals == 1 else logging.DEBUG,
                    "web: refused a %s from %s: not sent by this web view's own page (another site?)",
                    button.value, self.address_string())
            self._send(b"refused: only this web view's own page may do that\n", "text/plain", HTTPStatus.FORBIDDEN)
            return
        self.server.sink.press(button)
        self._send(b"", "text/plain", HTTPStatus.NO_CONTENT)

    def _client_gone(self) -> bool:
        """The client closed its end (seen without waiting: a closed socket reads as end-of-file)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True

    def _stream(self, sink: WebSink) -> None:
        self._headers("multipart/x-mixed-replace; boundary=frame", HTTPStatus.OK)
        seen = -1
        while not sink.closed:
            jpeg, seen = sink.next_jpeg(seen)
            if jpeg is None:
                if self._client_gone():  # no frame to write would tell: free the slot now
                    return
                continue
            self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg))
            self.wfile.write(jpeg + b"\r\n")
            self.wfile.flush()


class WebSink:
    """Serves the page, /stream.mjpg, /frame.jpg, /results.json and /events.json (with the events' files under
    /events/); the page's buttons reset the stream and teach the action named by --teach."""

    needs_status = True

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, max_fps: float = 10.0, quality: int = 80,
                 annotator: Annotator | None = None, password: str | None = None, insecure: bool = False,
                 connection_timeout: float = CONNECTION_TIMEOUT_S, max_connections: int = MAX_CONNECTIONS,
                 events_dir: Path | None = None) -> None:
        self.annotator = annotator or Annotator()
        self.events_dir = events_dir  # recent events, their snapshots and clips are listed from here
        self.interval = 1.0 / max_fps
        self.quality = quality
        self.closed = False
        self._new_frame = threading.Condition()
        self._jpeg: bytes | None = None
        self._jpeg_id = 0
        self._wanted_until = 0.0
        self._last_encode = -float("inf")
        self._latest: tuple[Result | None, Status] = (None, Status())
        self._pressed = {command: threading.Event() for command in BUTTONS.values()}
        self._server = self._bind(host, port, max_connections)  # first: a wrong address is the first thing to say
        if problem := web_exposure_problem(host, password, insecure):
            self._server.server_close()
            raise ClassifierError(problem)
        local = is_loopback(host)
        self._server.sink = self
        self._server.access = WebAccess.for_host(host, password)
        self._server.connection_timeout = connection_timeout
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="web-view", daemon=True)
        self._thread.start()
        self.port = self._server.server_address[1]
        shown = socket.gethostname() if host in WILDCARDS else host
        self.url = f"http://{f'[{shown}]' if ':' in shown else shown}:{self.port}/"
        if local:
            log.info("web view: %s (only this computer; from another one: ssh -L %d:localhost:%d <user>@<pi>, "
                     "then open http://localhost:%d/)", self.url, self.port, self.port, self.port)
        elif password:
            log.info("web view: %s (password required; whoever has it can watch the camera and reset the stream)",
                     self.url)
        else:
            log.warning("web view: %s: anyone who can reach this computer can watch the camera and reset the "
                        "stream (--web-insecure, no password)", self.url)

    @staticmethod
    def _bind(host: str, port: int, max_connections: int) -> _Server:
        server_class = _Server6 if ":" in host else _Server
        try:
            return server_class((host, port), max_connections)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise ClassifierError(f"cannot start the web view: port {port} is already in use on {host} "
                                      "(another classify.py?); choose another with --web-port") from e
            if server_class is _Server6 and e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                raise ClassifierError(f"cannot start the web view on [{host}]:{port}: IPv6 is not enabled on "
                                      "this computer; use --web-host 127.0.0.1 (or 0.0.0.0)") from e
            raise ClassifierError(f"cannot start the web view on {host}:{port}: {e.strerror or e}; "
                                  "check --web-host (an address of this machine, or 0.0.0.0 for all)") from e

    @property
    def wants_every_frame(self) -> bool:
        """While a browser watches the video: it asks for frames at least every WANTED_SECONDS."""
        return time.monotonic() < self._wanted_until

    # Called by the pipeline, on the main thread.

    def write(self, update: Update) -> Command | None:
        self._latest = (update.result, update.status)  # one assignment: the server threads see both or neither
        now = time.monotonic()
        if now < self._wanted_until and now - self._last_encode >= self.interval:
            self._last_encode = now
            ok, jpeg = cv2.imencode(".jpg", self.annotator.draw(update), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if ok:
                with self._new_frame:
                    self._jpeg, self._jpeg_id = jpeg.tobytes(), self._jpeg_id + 1
                    self._new_frame.notify_all()
        for command, pressed in self._pressed.items():
            if pressed.is_set():
                pressed.clear()
                return command
        return None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with self._new_frame:
            self._new_frame.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # Called by the server's threads.

    def next_jpeg(self, seen: int, timeout: float = 1.0) -> tuple[bytes | None, int]:
        """Asks for frames and waits up to `timeout` s for one newer than `seen`; returns (JPEG or None, its id).

        `seen` is a stream's last id, or -1 for a first request: that one waits for a fresh frame too, but gets
        the last one when none comes in time (the video is over).
        """
        self._wanted_until = time.monotonic() + WANTED_SECONDS
        with self._new_frame:
            newer_than = self._jpeg_id if seen < 0 else seen
            self._new_frame.wait_for(lambda: self._jpeg_id > newer_than or self.closed, timeout)
            if self._jpeg_id > newer_than or (seen < 0 and self._jpeg is not None):
                return self._jpeg, self._jpeg_id
            return None, seen

    def results_json(self) -> bytes:
        result, status = self._latest
        data = result.as_dict() if result else {"results": []}
        shown = {**dataclasses.asdict(status), "source": status.source.as_dict()}
        return json.dumps({**data, "status": shown}).encode()

    def press(self, button: Command) -> None:
        """A button of the page was pressed: the pipeline hears of it at the next frame."""
        self._pressed[button].set()
