"""Live runs for the network tests: servers on 127.0.0.1 (an MJPEG camera that can stall or drop and come
back, video files over HTTP with Range requests as a web server serves them) and classify.py running against
them, its output read as it comes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
from conftest import LABELS, MODEL, REPO

from utils.sources import sampled_frames

UP, STALL, FROZEN, DOWN = "up", "stall", "frozen", "down"


def clip_jpegs(clip: Path) -> list[bytes]:
    return [cv2.imencode(".jpg", frame.image)[1].tobytes() for frame in sampled_frames(clip, 0)]  # every frame


class StreamServer:
    """/live.mjpg: the clip as an endless MJPEG camera at `fps`; /<name>: the files in `files`.

    `mode` is UP (frames flow), STALL (connections stay open and nothing comes, new ones get headers only),
    FROZEN (the last frame is sent again and again, as OpenCV's videoio returns an unplugged USB camera's last
    frame forever: opencv/opencv#5221) or DOWN (open streams are cut and new requests get 503, as a camera that
    rebooted). `refused` counts the requests answered 503, `streams` the MJPEG connections that got frames.
    """

    def __init__(self, clip: Path, files: dict[str, Path] | None = None, fps: float = 25.0) -> None:
        self.jpegs = clip_jpegs(clip)
        self.files = {f"/{name}": path.read_bytes() for name, path in (files or {}).items()}
        self.fps = fps
        self.mode = UP
        self.refused = 0
        self.streams = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                try:
                    if self.path in owner.files:
                        self._file(owner.files[self.path])
                    elif self.path == "/live.mjpg":
                        self._live()
                    else:
                        self.send_error(HTTPStatus.NOT_FOUND)
                except OSError:  # the client hung up
                    pass

            def _file(self, data: bytes) -> None:
                start = 0
                if (ranges := self.headers.get("Range", "")).startswith("bytes="):
                    start = min(int(ranges[6:].split("-")[0] or 0), len(data))
                    self.send_response(HTTPStatus.PARTIAL_CONTENT)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(HTTPStatus.OK)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])

            def _live(self) -> None:
                if owner.mode == DOWN:
                    owner.refused += 1
                    self.send_error(HTTPStatus.SERVICE_UNAVAILABLE)
                    return
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                owner.streams += 1
                index = 0
                while owner.mode != DOWN:
                    if owner.mode == STALL:
                        time.sleep(0.05)
                        continue
                    if owner.mode != FROZEN or not index:
                        index += 1
                    jpeg = owner.jpegs[(index - 1) % len(owner.jpegs)]
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                                     % (len(jpeg), jpeg))
                    time.sleep(1 / owner.fps)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self.mode = DOWN
        self._server.shutdown()
        self._server.server_close()


class LiveApp:
    """classify.py with the test model in a subprocess; its stdout and stderr lines are collected as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        full_env.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "classify.py"), "--model", str(MODEL), "--labels", str(LABELS), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=full_env)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [threading.Thread(target=self._collect, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _collect(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.stderr)

    @property
    def records(self) -> list[dict]:
        return [json.loads(line) for line in list(self.stdout)]

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
        """Waits until `condition()` holds; fails the test when the app ends or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"classify.py ended while waiting for {what}:\n{self.log}"
            assert time.monotonic() < deadline, f"no {what} within {timeout} s:\n{self.log}"
            time.sleep(0.05)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Sends `signum` and returns the exit code (fails the test when it does not end within `timeout`)."""
        self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"classify.py still ran {timeout} s after {signal.Signals(signum).name}:\n"
                                 f"{self.log}") from None
        for reader in self._readers:
            reader.join(10)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
