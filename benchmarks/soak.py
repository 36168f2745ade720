"""Memory over a long run: classify.py on a live MJPEG camera with the web view watched, MQTT and recording.

    nice -n 10 python -m benchmarks.soak --minutes 60 > soak.json

The camera is an MJPEG server on 127.0.0.1 at --fps (640x480, as a USB camera sends it) that loops the
shared clips: cleaning pool, arm wrestling, cleaning pool, carving ice, 20 s each, so the two watched
actions (arm wrestling, carving ice) make about 1.5 events a minute. One browser-like client reads
/stream.mjpg and polls /results.json; a mosquitto broker takes the MQTT messages; --record keeps clips
within --events-max-mb 30. Every minute one JSON line on stdout gives classify.py's RSS (MB) and the events so
far (RSS is read every second: `rss_mb` is the reading at the minute, `rss_max_mb` the highest of that
minute); the last line sums up: the mean of minutes 1-10, the maximum, and the growth over the last half
(the last minute's reading minus the middle one's).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.mosquitto import Mosquitto, free_port  # noqa: E402
from benchmarks.paths import CLIPS, LABELS, MODEL  # noqa: E402
from utils.sources import sampled_frames  # noqa: E402

PROG = "benchmarks/soak.py"
SIZE = (640, 480)
SEGMENTS = (("cleaning pool", 20), ("arm wrestling", 20), ("cleaning pool", 20), ("carving ice", 20))
WATCHED = "arm wrestling,carving ice"


def camera_jpegs(fps: float) -> list[bytes]:
    """The looped scene as JPEGs, one per frame at `fps`."""
    jpegs: list[bytes] = []
    for label, seconds in SEGMENTS:
        frames = [cv2.resize(f.image, SIZE) for f in sampled_frames(CLIPS[label], fps)]
        jpegs += [cv2.imencode(".jpg", frames[i % len(frames)], [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
                  for i in range(round(seconds * fps))]
    return jpegs


def start_camera(jpegs: list[bytes], fps: float) -> ThreadingHTTPServer:
    """/live.mjpg: the JPEGs looped forever at `fps`, paced by the wall clock."""

    class Camera(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path != "/live.mjpg":
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            start = time.monotonic()
            try:
                for index in range(10**9):
                    jpeg = jpegs[index % len(jpegs)]
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                                     % (len(jpeg), jpeg))
                    time.sleep(max(0.0, start + (index + 1) / fps - time.monotonic()))
            except OSError:  # classify.py went away
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Camera)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="camera").start()
    return server


def watch_web_view(url: str, stop: threading.Event) -> None:
    """A browser: the MJPEG stream read to its end (reconnecting), and results.json twice a second."""

    def stream() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(url + "stream.mjpg", timeout=10) as response:
                    while not stop.is_set() and response.read(65536):
                        pass
            except OSError:
                stop.wait(1.0)

    def poll() -> None:
        while not stop.wait(0.5):
            try:
                with urllib.request.urlopen(url + "results.json", timeout=10) as response:
                    response.read()
                if int(time.monotonic()) % 3 == 0:
                    with urllib.request.urlopen(url + "events.json", timeout=10) as response:
                        response.read()
            except OSError:
                pass

    for target in (stream, poll):
        threading.Thread(target=target, daemon=True).start()


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def count_events(folder: Path) -> int:
    try:
        return sum('"type": "end"' in line for line in (folder / "events.jsonl").read_text().splitlines())
    except OSError:
        return 0


def summary(samples: list[dict]) -> dict:
    rss = [s["rss_mb"] for s in samples]
    half = samples[len(samples) // 2:]
    return {"minutes": len(samples) - 1, "rss_start_mb": rss[0], "rss_max_mb": max(s["rss_max_mb"] for s in samples),
            "rss_mean_min_1_10_mb": round(sum(rss[1:11]) / max(1, len(rss[1:11])), 1),
            "rss_growth_last_half_mb": round(half[-1]["rss_mb"] - half[0]["rss_mb"], 1) if len(half) > 1 else 0.0,
            "events": samples[-1]["events"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=60.0, help="length of the run")
    p.add_argument("--fps", type=float, default=15.0, help="the camera's frame rate")
    p.add_argument("--max-mb", type=float, default=30.0, help="--events-max-mb of the run")
    args = p.parse_args(argv)
    if args.minutes <= 0 or args.fps <= 0:
        p.error("--minutes and --fps must be above 0")
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="soak-") as temp:
        folder = Path(temp)
        try:
            broker = Mosquitto(folder)
        except FileNotFoundError as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 2
        camera = start_camera(camera_jpegs(args.fps), args.fps)
        broker.start()
        events_dir = folder / "events"
        web_port = free_port()
        command = [sys.executable, str(REPO / "classify.py"), "--model", str(MODEL), "--labels", str(LABELS),
                   "--video", f"http://127.0.0.1:{camera.server_address[1]}/live.mjpg", "--display", "none",
                   "--web", "--web-port", str(web_port), "--mqtt", broker.url, "--event", WATCHED, "--record",
                   "--events-dir", str(events_dir), "--events-max-mb", str(args.max_mb)]
        log = (folder / "classify.log").open("w")
        app = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, cwd=REPO)
        samples: list[dict] = []
        try:
            time.sleep(20)  # the model loaded and the stream open
            watch_web_view(f"http://127.0.0.1:{web_port}/", stop)
            started = time.monotonic()
            highest = 0.0
            for minute in range(int(args.minutes) + 1):
                while (left := started + minute * 60 - time.monotonic()) > 0:
                    time.sleep(min(1.0, left))
                    highest = max(highest, rss_mb(app.pid) or 0.0)
                if app.poll() is not None:
                    raise RuntimeError(f"classify.py ended ({app.returncode}): "
                                       f"{(folder / 'classify.log').read_text()[-800:]}")
                now = rss_mb(app.pid) or 0.0
                sample = {"minute": minute, "rss_mb": round(now, 1), "rss_max_mb": round(max(highest, now), 1),
                          "events": count_events(events_dir)}
                highest = 0.0
                samples.append(sample)
                print(json.dumps(sample), flush=True)
        except RuntimeError as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 1
        finally:
            stop.set()
            if app.poll() is None:
                app.terminate()
                app.wait(60)
            log.close()
            broker.stop()
            camera.shutdown()
        print(json.dumps({"summary": summary(samples), "fps": args.fps, "events_max_mb": args.max_mb,
                          "command": "python -m benchmarks.soak " + " ".join(argv or sys.argv[1:])}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
