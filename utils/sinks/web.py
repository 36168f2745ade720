"""The web view: the annotated video as MJPEG and the latest results as JSON, for a browser on another machine,
and pages to browse, play and delete the events.

One daemon thread runs a ThreadingHTTPServer; the pipeline only hands over frames and never waits on a
client. A JPEG is encoded only while someone is watching, and at most `max_fps` times a second. Who may
connect and press buttons is web_access's job; here every connection is also bounded in time and number.
The pages, their style and scripts are static files in web_static/; the server fills in the run's token and
the camera's name.

Connections that have not yet sent a whole request (slowloris: a header byte every few seconds, from many
connections) cannot lock the view: they wait in a small pool of their own, not in the serving slots; the
whole request head must arrive within a deadline (not per read); and when the pool is full, or one address
holds its share of it, a new connection pushes out the oldest waiting one, so a browser's request, sent whole
at once, always gets through.
"""

from __future__ import annotations

import dataclasses
import errno
import html
import json
import logging
import os
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import cv2

from utils.config import is_loopback, web_exposure_problem
from utils.errors import ClassifierError
from utils.events.files import NO_SUCH_EVENT, EventFolder, disabled_event_list, event_file
from utils.results import Result
from utils.sinks.base import Command, Status, Update
from utils.sinks.overlay import Annotator
from utils.sinks.web_access import TOKEN_HEADER, WILDCARDS, WebAccess, same_origin

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
# The page's buttons: what each asks of the pipeline, and what the page shows when it is done.
BUTTONS = {"/reset": Command.RESET, "/teach": Command.TEACH, "/teach/undo": Command.UNDO_TEACH}
BUTTON_REPLIES = {Command.RESET: "the stream was reset: the results start afresh"}
BUTTON_WAIT_S = 3.0  # a button's answer waits this long for the pipeline to take the command up
STATIC = Path(__file__).with_name("web_static")  # the pages, their style and scripts (no build step)
LOGIN_PAGE = "login.html"
PAGES = {"/": "index.html", "/index.html": "index.html", "/events": "events.html", "/event": "event.html",
         "/login": LOGIN_PAGE}
ASSETS = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}  # under /static/
MAX_LOGIN_BODY = 4096
WRONG_PASSWORD_DELAY_S = 1.0  # a wrong password is answered after this long, one at a time
WRONG_PASSWORD = "wrong password, try again"
TOO_MANY_LOGINS = "too many login attempts: wait a second, then try again"
# Scripts and styles only from the files in web_static/: an injected <script> would not run.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors ")


def security_headers(embed_from: tuple[str, ...] = ()) -> dict[str, str]:
    """The headers of every answer. By default no other page may frame this one (and trick a click on its
    buttons); `embed_from` (checked origins, --web-embed-from) may, besides the web view's own pages."""
    if embed_from:
        framing = {"Content-Security-Policy": CONTENT_SECURITY_POLICY + " ".join(("'self'", *embed_from))}
    else:
        framing = {"X-Frame-Options": "DENY",  # for browsers without CSP's frame-ancestors
                   "Content-Security-Policy": CONTENT_SECURITY_POLICY + "'none'"}
    return {**framing, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


SECURITY_HEADERS = security_headers()


class _Server(ThreadingHTTPServer):
    """Serves each connection on its own daemon thread: at most `max_connections` requests at once, and
    besides them at most MAX_WAITING connections still sending their request head (the oldest pushed out)."""

    daemon_threads = True  # a client streaming for hours never holds up the exit
    request_queue_size = 64  # the listen backlog: a burst of connections waits to be accepted, not refused
    sink: WebSink
    access: WebAccess
    connection_timeout: float = CONNECTION_TIMEOUT_S  # also the deadline for a whole request head
    security_headers: dict[str, str] = SECURITY_HEADERS
    embed_from: tuple[str, ...] = ()  # --web-embed-from: the origins whose pages may frame this one
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
        for name, value in {**self.server.security_headers, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, body: bytes, content_type: str, status: HTTPStatus = HTTPStatus.OK,
              extra: dict[str, str] | None = None) -> None:
        self._headers(content_type, status, len(body), extra)
        self.wfile.write(body)

    def _json(self, data: object, status: HTTPStatus = HTTPStatus.OK, extra: dict[str, str] | None = None) -> None:
        self._send(json.dumps(data).encode(), "application/json", status, extra)

    def _redirect(self, location: str, extra: dict[str, str] | None = None) -> None:
        self._send(b"", "text/plain", HTTPStatus.SEE_OTHER, {"Location": location, **(extra or {})})

    def _admitted(self, path: str) -> bool:
        """The Host check, then the password (but not for the login page and its files); sends the refusal and
        returns False when the request fails one."""
        access = self.server.access
        if not access.host_allowed(self.headers.get("Host")):
            log.debug("web: %s refused: unknown Host %r", self.address_string(), self.headers.get("Host"))
            self._send(b"unknown host name: open the address classify.py printed\n", "text/plain",
                       HTTPStatus.BAD_REQUEST)
            return False
        if path in ("/login", "/session.json") or path.startswith("/static/"):
            return True
        if access.authorized(self.headers.get("Authorization"), self.headers.get("Cookie")):
            return True
        mode = self.headers.get("Sec-Fetch-Mode")
        if self.command == "GET" and self._navigating():
            self._redirect("/login?" + urlencode({"next": self.path}))  # a browser: the login form
        elif mode is not None:  # the page's own requests: no challenge, so no browser pops up its password box
            self._send(b"log in first\n", "text/plain", HTTPStatus.UNAUTHORIZED)
        else:  # a script: HTTP Basic
            self._send(b"password required\n", "text/plain", HTTPStatus.UNAUTHORIZED,
                       {"WWW-Authenticate": 'Basic realm="classify.py web view", charset="UTF-8"'})
        return False

    def _navigating(self) -> bool:
        """A browser opening a page (not a script, not the page's own fetch())."""
        mode = self.headers.get("Sec-Fetch-Mode")
        return mode == "navigate" or (mode is None and "text/html" in self.headers.get("Accept", ""))

    def do_GET(self) -> None:
        self._answer(self._get)

    def do_POST(self) -> None:
        self._answer(self._post)

    def do_DELETE(self) -> None:
        self._answer(self._delete)

    def _answer(self, respond: Callable[[str, dict[str, list[str]]], None]) -> None:
        """Every request: the Host check and the password first; a client that went away is no error."""
        url = urlsplit(self.path)
        try:
            if self._admitted(url.path):
                respond(url.path, parse_qs(url.query))
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout) as e:
            log.debug("web: %s went away (%s)", self.address_string(), e)

    def _get(self, path: str, query: dict[str, list[str]]) -> None:
        sink = self.server.sink
        if path in PAGES:
            if path == "/login" and self.server.access.password is None:
                self._redirect("/")
            else:
                self._send(sink.page(PAGES[path], login_next(query), WRONG_PASSWORD if "failed" in query else ""),
                           "text/html; charset=utf-8")
        elif path.startswith("/static/") and (asset := sink.asset(path[len("/static/"):])):
            self._send(*asset)
        elif path == "/results.json":
            self._send(sink.results_json(), "application/json")
        elif path == "/session.json":
            access = self.server.access
            self._json({"password": access.password is not None,
                        "logged_in": access.authorized(self.headers.get("Authorization"), self.headers.get("Cookie"))})
        elif path == "/frame.jpg":
            jpeg, _ = sink.next_jpeg(-1)
            if jpeg is None:
                self._send(b"no frame yet\n", "text/plain", HTTPStatus.SERVICE_UNAVAILABLE)
            else:
                self._send(jpeg, "image/jpeg")
        elif path == "/stream.mjpg":
            self._stream(sink)
        elif path == "/events.json":
            if sink.events is None:
                self._json(disabled_event_list())
            else:
                self._json(sink.events.page(first(query, "label"), first(query, "day"),
                                            number(first(query, "page"), 1), number(first(query, "per_page"), 10)))
        elif path == "/event.json":
            event = sink.events.find(first(query, "id")) if sink.events else None
            if event:
                self._json(event)
            else:
                self._json({"message": "no such event"}, HTTPStatus.NOT_FOUND)
        elif path.startswith("/events/") and (found := event_file(sink.events_dir, path[len("/events/"):])):
            self._send_file(*found)
        else:
            self._send(b"not found\n", "text/plain", HTTPStatus.NOT_FOUND)

    def _send_file(self, path: Path, content_type: str) -> None:
        """An event's clip or snapshot, streamed from the disk (a clip can be megabytes). A Range request gets
        that part: a browser's player seeks in a clip only when the server answers them."""
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            part = byte_range(self.headers.get("Range"), size)
            if part == UNSATISFIABLE:
                self._send(b"", content_type, HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                           {"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
                return
            if part is None:
                status, (start, end), extra = HTTPStatus.OK, (0, size - 1), {}
            else:
                status, (start, end) = HTTPStatus.PARTIAL_CONTENT, part
                extra = {"Content-Range": f"bytes {start}-{end}/{size}"}
            self._headers(content_type, status, end - start + 1, {"Accept-Ranges": "bytes", **extra})
            f.seek(start)
            left = end - start + 1
            while left and (chunk := f.read(min(left, 1 << 16))):
                self.wfile.write(chunk)
                left -= len(chunk)

    def _from_the_page(self, what: str) -> bool:
        """Same origin and the run's token, besides the Host check and the password; sends the refusal if not."""
        headers = self.headers
        if self.server.access.may_change_state(headers.get("Host"), headers.get("Origin") or headers.get("Referer"),
                                               headers.get(TOKEN_HEADER)):
            return True
        self.server.refusals += 1
        log.log(logging.WARNING if self.server.refusals == 1 else logging.DEBUG,
                "web: refused a %s from %s: not sent by this web view's own page (another site, or a page from "
                "before a restart)", what, self.address_string())
        self._json({"message": "refused: only this web view's own page may do that; reload the page (it may be "
                               "from before classify.py restarted)"}, HTTPStatus.FORBIDDEN)
        return False

    def _post(self, path: str, query: dict[str, list[str]]) -> None:
        if path == "/login":
            self._login()
            return
        if path == "/logout":
            if self._from_the_page("logout"):
                self._json({"message": "logged out"},
                           extra={"Set-Cookie": self.server.access.end_session(framed=self._framed_over_https())})
            return
        button = BUTTONS.get(path)
        if button is None:
            self._send(b"not found\n", "text/plain", HTTPStatus.NOT_FOUND)
        elif self._from_the_page(button.value):
            taken = self.server.sink.press(button)
            self._json({"message": self.server.sink.button_reply(button, taken)},
                       HTTPStatus.OK if taken else HTTPStatus.ACCEPTED)

    def _framed_over_https(self) -> bool:
        """Framing is allowed (--web-embed-from) and the browser reached the page over HTTPS, through a TLS proxy
        in front: the session cookie may then be SameSite=None, which browsers take only with Secure, over HTTPS.
        The browser's Origin says the scheme, or the proxy's X-Forwarded-Proto when it rewrites Origin. A client
        that claims HTTPS over plain HTTP only gets a cookie its browser drops."""
        origin = self.headers.get("Origin") or self.headers.get("Referer") or ""
        https = origin.startswith("https://") or self.headers.get("X-Forwarded-Proto", "").strip() == "https"
        return https and bool(self.server.embed_from)

    def _login(self) -> None:
        """The login form: the password gives a session cookie. Wrong passwords are answered one a second."""
        access = self.server.access
        length = number(self.headers.get("Content-Length", ""), -1)
        if not 0 <= length <= MAX_LOGIN_BODY:
            self._send(b"send the login form: at most 4 KB, with its Content-Length\n", "text/plain",
                       HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        target = login_next(form)
        if not same_origin(self.headers.get("Host"), self.headers.get("Origin") or self.headers.get("Referer")):
            self._send(b"refused: log in on this web view's own login page\n", "text/plain", HTTPStatus.FORBIDDEN)
        elif access.password is None or access.password_matches(first(form, "password")):
            self._redirect(target, {"Set-Cookie": access.new_session(framed=self._framed_over_https())}
                           if access.password else None)
        elif not self.server.sink.login_lock.acquire(blocking=False):
            # Another wrong password is being answered: say so at once rather than queue behind it, or scripted
            # guesses would hold every serving slot for a second each. A browser (a double click on "log in")
            # gets the form again, with the message, rather than a page with no way on.
            if self._navigating():
                self._send(self.server.sink.page(LOGIN_PAGE, target, TOO_MANY_LOGINS), "text/html; charset=utf-8",
                           HTTPStatus.TOO_MANY_REQUESTS, {"Retry-After": "1"})
            else:
                self._send(f"{TOO_MANY_LOGINS}\n".encode(), "text/plain", HTTPStatus.TOO_MANY_REQUESTS,
                           {"Retry-After": "1"})
        else:
            try:  # guessing costs a second a try, however many connections
                time.sleep(WRONG_PASSWORD_DELAY_S)
            finally:
                self.server.sink.login_lock.release()
            log.warning("web: a wrong password from %s", self.address_string())
            self._redirect("/login?" + urlencode({"failed": 1, "next": target}))

    def _delete(self, path: str, query: dict[str, list[str]]) -> None:
        """DELETE /events/<id>: the event's clip and snapshot, from the events page only."""
        sink = self.server.sink
        event_id = path[len("/events/"):] if path.startswith("/events/") else ""
        if not self._from_the_page("delete"):  # first: another site learns nothing, not even which ids exist
            return
        try:
            problem = sink.events.delete(event_id) if sink.events is not None else NO_SUCH_EVENT
        except OSError as e:
            problem = f"cannot delete: {e.strerror or e}"
        if problem:
            self._json({"message": problem}, HTTPStatus.NOT_FOUND if problem == NO_SUCH_EVENT else HTTPStatus.CONFLICT)
        else:
            log.info("web: deleted event %s", event_id)
            self._json({"message": "deleted"})

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


UNSATISFIABLE = (-1, -1)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte a `Range: bytes=...` header asks of a file of `size` bytes; None for the whole
    file (no header, another unit, several ranges, a malformed one: RFC 9110 lets a server ignore those), and
    UNSATISFIABLE when it starts past the end."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first_text, dash, last_text = header[len("bytes="):].strip().partition("-")
    if not dash or not (first_text or last_text) or not all(t.isdigit() for t in (first_text, last_text) if t):
        return None
    if not first_text:  # bytes=-N: the last N bytes
        length = int(last_text)
        return (max(0, size - length), size - 1) if length and size else UNSATISFIABLE
    start = int(first_text)
    end = min(int(last_text), size - 1) if last_text else size - 1
    if start >= size:
        return UNSATISFIABLE
    return None if end < start else (start, end)


def first(query: dict[str, list[str]], key: str) -> str:
    return query.get(key, [""])[0]


def number(text: str, default: int) -> int:
    return int(text) if text.isdigit() else default


def login_next(query: dict[str, list[str]]) -> str:
    """Where the login form leads: a path on this web view only (never "//evil.example")."""
    target = first(query, "next")
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def read_static(folder: Path) -> dict[str, bytes]:
    """Every file of the front end, read once at the start: a missing file is said then, not at a click."""
    try:
        files = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    except OSError as e:
        files = {}
        log.debug("web: %s: %s", folder, e)
    missing = set(PAGES.values()) - set(files)
    if missing:
        raise ClassifierError(f"the web view's files are missing from {folder} ({', '.join(sorted(missing))}); "
                              "restore them with git checkout, or reinstall")
    return files


class WebSink:
    """Serves the live page (/stream.mjpg, /frame.jpg, /results.json), the events pages (/events, /event,
    /events.json, /event.json, the events' files under /events/) and the login page; the live page's buttons
    reset the stream and teach the action named by --teach, the event page's deletes an event."""

    needs_status = True

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, max_fps: float = 10.0, quality: int = 80,
                 annotator: Annotator | None = None, password: str | None = None, insecure: bool = False,
                 connection_timeout: float = CONNECTION_TIMEOUT_S, max_connections: int = MAX_CONNECTIONS,
                 events_dir: Path | None = None, name: str = "", embed_from: tuple[str, ...] = ()) -> None:
        self.annotator = annotator or Annotator()
        self.events_dir = events_dir  # events, their snapshots and clips are listed from here
        self.events = EventFolder(events_dir) if events_dir is not None else None
        self.name = name  # the camera's --name, in the pages' titles
        self.run_id = secrets.token_hex(8)  # tells an open page that classify.py was restarted
        self.login_lock = threading.Lock()
        self._static = read_static(STATIC)
        self.interval = 1.0 / max_fps
        self.quality = quality
        self.closed = False
        self._new_frame = threading.Condition()
        self._jpeg: bytes | None = None
        self._jpeg_id = 0
        self._wanted_until = 0.0
        self._last_encode = -float("inf")
        self._latest: tuple[Result | None, Status] = (None, Status())
        self._buttons = threading.Condition()
        self._asked = dict.fromkeys(BUTTONS.values(), 0)  # presses of each button so far...
        self._taken = dict.fromkeys(BUTTONS.values(), 0)  # ...and how many of them the pipeline has taken up
        self._writes = 0  # updates so far: the one after a command says how it went (an undo's notice)
        self._taken_at = dict.fromkeys(BUTTONS.values(), 0)  # the update at which each was last taken up
        self._server = self._bind(host, port, max_connections)  # first: a wrong address is the first thing to say
        if problem := web_exposure_problem(host, password, insecure):
            self._server.server_close()
            raise ClassifierError(problem)
        local = is_loopback(host)
        self._server.sink = self
        self._server.access = WebAccess.for_host(host, password, self._server.server_address[1])
        self._server.connection_timeout = connection_timeout
        self._server.embed_from = embed_from
        self._server.security_headers = security_headers(embed_from)
        self._pages = self._fill_pages()
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
            if e.errno == errno.EACCES and port < 1024:
                raise ClassifierError(f"cannot start the web view on port {port}: ports below 1024 need root; "
                                      "choose another with --web-port, e.g. 8080") from e
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
        with self._buttons:
            self._writes += 1
            self._buttons.notify_all()
            for command, asked in self._asked.items():
                if asked > self._taken[command]:
                    self._taken[command] = asked
                    self._taken_at[command] = self._writes
                    return command
        return None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with self._new_frame:
            self._new_frame.notify_all()
        with self._buttons:
            self._buttons.notify_all()
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
        """The latest result and status, this computer's time (the page's clock) and the run's id."""
        result, status = self._latest
        data = result.as_dict() if result else {"results": []}
        shown = {**dataclasses.asdict(status), "source": status.source.as_dict()}
        return json.dumps({**data, "status": shown, "time": time.time(), "run": self.run_id}).encode()

    def press(self, button: Command, timeout: float = BUTTON_WAIT_S) -> bool:
        """A button of the page was pressed: the pipeline hears of it at the next frame. Waits up to `timeout`
        s for that (an undo also for the next update, whose notice says what was undone); returns whether the
        pipeline took it up."""
        deadline = time.monotonic() + timeout
        with self._buttons:
            self._asked[button] += 1
            mine = self._asked[button]
            if not self._buttons.wait_for(lambda: self._taken[button] >= mine or self.closed, timeout) \
                    or self.closed:
                return False
            if button is Command.UNDO_TEACH:
                taken_at = self._taken_at[button]
                self._buttons.wait_for(lambda: self._writes > taken_at or self.closed,
                                       max(0.0, deadline - time.monotonic()))
            return True

    def button_reply(self, button: Command, taken: bool) -> str:
        """What the page shows after a button: done, or asked but not taken up yet."""
        if not taken:
            return f"asked to {button.value}, but classify.py has not taken it up yet (busy, or the video is over)"
        status = self._latest[1]
        if button is Command.TEACH:
            return f"teaching {status.teach_what}: watch the countdown"
        if button is Command.UNDO_TEACH:  # undone, or why not: what the notice says after it
            return status.notice or "asked to undo the last teaching session"
        return BUTTON_REPLIES.get(button, f"{button.value}: done")

    def _fill_pages(self) -> dict[str, bytes]:
        """The pages of web_static/ with what stays the same for the whole run filled in once: the run's token,
        its header's name and the camera's name."""
        fields = {"%TOKEN_HEADER%": TOKEN_HEADER, "%TOKEN%": self._server.access.token,
                  "%NAME%": html.escape(self.name or socket.gethostname())}
        pages = {}
        for name in set(PAGES.values()):
            text = self._static[name].decode()
            for key, value in fields.items():
                text = text.replace(key, value)
            pages[name] = text.encode()
        return pages

    def page(self, name: str, login_next: str = "/", message: str = "") -> bytes:
        """A page, filled in; the login page also gets its form's fields (where it leads, why it is shown
        again)."""
        if name != LOGIN_PAGE:
            return self._pages[name]
        return (self._pages[name].replace(b"%NEXT%", html.escape(login_next).encode())
                .replace(b"%MESSAGE%", html.escape(message).encode()))

    def asset(self, name: str) -> tuple[bytes, str] | None:
        """(contents, content type) of a style sheet or script of web_static/, or None."""
        content_type = ASSETS.get(Path(name).suffix)
        return (self._static[name], content_type) if content_type and name in self._static else None
