"""The web view: the annotated video as MJPEG and the latest results as JSON, for a browser on another machine.

One daemon thread runs a ThreadingHTTPServer; the pipeline only hands over frames and never waits on a
client. A JPEG is encoded only while someone is watching, and at most `max_fps` times a second.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2

from utils.errors import ClassifierError
from utils.results import Result
from utils.sinks.base import Command, Status, Update
from utils.sinks.overlay import Annotator

log = logging.getLogger(__name__)

WANTED_SECONDS = 2.0  # a client's request for frames lasts this long; streams renew it every frame

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
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
button { font-size: 16px; padding: 6px 14px; }
</style></head>
<body><main>
<img id="video" alt="live video">
<div id="panel"><div id="results"><div class="row">waiting for the first result...</div></div>
<p id="status"></p><button id="reset" title="forget the video so far (key r)">reset stream</button></div>
</main>
<script>
const results = document.getElementById("results"), status = document.getElementById("status");
function show(data) {
  if (!("frame" in data)) return;  // no result yet: keep "waiting..."
  results.replaceChildren(...(data.results.length ? data.results : [{label: "(no label above the threshold)",
      score: 0}]).map(p => {
    const row = document.createElement("div"), label = document.createElement("div");
    const bar = document.createElement("div"), fill = document.createElement("div");
    row.className = "row"; label.className = "label"; bar.className = "bar";
    label.textContent = `${p.label}  ${Math.round(p.score * 100)}%`;
    fill.style.width = `${Math.max(0, Math.min(1, p.score)) * 100}%`;
    bar.append(fill); row.append(label, bar); return row;
  }));
  const s = data.status;
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
document.getElementById("reset").onclick = () => fetch("reset", {method: "POST"});
// The endless MJPEG request starts after the page has loaded, so the page counts as loaded.
window.addEventListener("load", () => { document.getElementById("video").src = "stream.mjpg"; poll(); });
</script></body></html>
"""


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a client streaming for hours never holds up the exit
    sink: WebSink


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args) -> None:
        log.debug("web: %s %s", self.address_string(), format % args)

    def _send(self, body: bytes, content_type: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        sink = self.server.sink
        path = self.path.split("?", 1)[0]
        try:
            if path in ("/", "/index.html"):
                self._send(PAGE.encode(), "text/html; charset=utf-8")
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
            else:
                self._send(b"not found\n", "text/plain", HTTPStatus.NOT_FOUND)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout) as e:
            log.debug("web: %s went away (%s)", self.address_string(), e)

    def do_POST(self) -> None:
        if self.path == "/reset":
            self.server.sink.request_reset()
            self._send(b"", "text/plain", HTTPStatus.NO_CONTENT)
        else:
            self._send(b"not found\n", "text/plain", HTTPStatus.NOT_FOUND)

    def _stream(self, sink: WebSink) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen = -1
        while not sink.closed:
            jpeg, seen = sink.next_jpeg(seen)
            if jpeg is None:
                continue
            self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg))
            self.wfile.write(jpeg + b"\r\n")
            self.wfile.flush()


class WebSink:
    """Serves the page, /stream.mjpg, /frame.jpg and /results.json; the page's button resets the stream."""

    needs_status = True

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, max_fps: float = 10.0, quality: int = 80,
                 annotator: Annotator | None = None) -> None:
        self.annotator = annotator or Annotator()
        self.interval = 1.0 / max_fps
        self.quality = quality
        self.closed = False
        self._new_frame = threading.Condition()
        self._jpeg: bytes | None = None
        self._jpeg_id = 0
        self._wanted_until = 0.0
        self._last_encode = -float("inf")
        self._latest: tuple[Result | None, Status] = (None, Status())
        self._reset = threading.Event()
        try:
            self._server = _Server((host, port), _Handler)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise ClassifierError(f"cannot start the web view: port {port} is already in use on {host} "
                                      "(another classify.py?); choose another with --web-port") from e
            raise ClassifierError(f"cannot start the web view on {host}:{port}: {e.strerror or e}; "
                                  "check --web-host (an address of this machine, or 0.0.0.0 for all)") from e
        self._server.sink = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="web-view", daemon=True)
        self._thread.start()
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}/"
        if host in ("0.0.0.0", "::", ""):
            log.warning("web view: anyone on the network can watch the camera at http://%s:%d/",
                        socket.gethostname(), self.port)
        elif host in ("127.0.0.1", "localhost", "::1"):
            log.info("web view: %s (from another computer: ssh -L %d:localhost:%d <user>@<pi>, then open "
                     "http://localhost:%d/; or listen on the network with --web-host 0.0.0.0)",
                     self.url, self.port, self.port, self.port)
        else:
            log.info("web view: %s", self.url)

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
        if self._reset.is_set():
            self._reset.clear()
            return Command.RESET
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
        return json.dumps({**data, "status": dataclasses.asdict(status)}).encode()

    def request_reset(self) -> None:
        self._reset.set()
