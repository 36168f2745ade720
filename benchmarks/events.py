"""What events and recording cost: the pre-roll ring's forms, the main loop, the recorder thread, peak RSS.

    python -m benchmarks.events                      # 640x480 at 30 fps, 3 s pre-roll, the app's defaults
    python -m benchmarks.events --seconds 6 --runs 1 # quicker

Prints one JSON object (logs go to stderr):

- "ring": the pre-roll buffer of --pre-roll seconds of 640x480 frames at 30 fps, in each form it could take:
  "raw" (BGR copies: bytes, ms to copy a frame), "jpeg" (the recorder's form: bytes, encode and decode ms a
  frame) and "h264" (an encoder's own circular buffer, PyAV libx264 ultrafast: bytes, encode ms a frame).
  Frames are the arm_wrestling test clip scaled to 640x480, so JPEG sizes are those of real video.
- "loop": the app's Pipeline in this process on an A-B-A video (cleaning pool, arm wrestling, cleaning pool;
  640x480, 30 fps, handed over at 30 frames a second as a camera delivers them), with the overlay drawn on every
  frame, for "off" (no events), "events" (--event "arm wrestling": tracker, journal) and "record" (also
  --record): e2e_ms per classified frame (p50, p95: from asking for the frame, after the wait for its turn, to
  the last sink), events_ms (the EventSink's write() per frame, p50 and max), the recorder thread's CPU (s, and
  % of one core over the video), the ring's bytes, frames dropped, events.
- "process": classify.py --display none --json --realtime on the same video for the three settings: peak RSS
  (the process's VmHWM, polled) and CPU, from fresh processes (--runs, medians).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.benchmark import OverlaySink, TimedSink, TimedSource, TimingSink, machine, percentiles
from benchmarks.paths import LABELS, MODEL, TEST_CLIPS
from utils.config import Config
from utils.errors import ClassifierError
from utils.paths import PROJECT_DIR

log = logging.getLogger(__name__)

PROG = "python -m benchmarks.events"
SIZE = (640, 480)
FPS = 30
WATCHED = "arm wrestling"
SETTINGS = {"off": [], "events": ["--event", WATCHED], "record": ["--event", WATCHED, "--record"]}


def clip_frames(path: Path, limit: int = 10**6) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    while len(frames) < limit:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(image, SIZE, interpolation=cv2.INTER_LINEAR))
    capture.release()
    if not frames:
        raise ClassifierError(f"cannot read {path}")
    return frames


def aba_video(folder: Path, seconds: float) -> Path:
    """A for a third of `seconds`, the watched B for a third, A again; 640x480 at 30 fps (mp4v)."""
    a = clip_frames(TEST_CLIPS / "cleaning_pool_mmaction2.mp4")
    b = clip_frames(TEST_CLIPS / "arm_wrestling.mp4")
    path = folder / "aba_640x480.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, SIZE)
    third = round(seconds * FPS / 3)
    for frames in (a, b, a):
        for i in range(third):
            writer.write(frames[i % len(frames)])
    writer.release()
    return path


def ms_per_frame(work, frames: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for image in frames:
        work(image)
    return (time.perf_counter() - start) * 1000.0 / len(frames)


def ring_forms(pre_roll: float) -> dict:
    """The pre-roll buffer in each form, filled with pre_roll x 30 real 640x480 frames."""
    count = round(pre_roll * FPS)
    frames = clip_frames(TEST_CLIPS / "arm_wrestling.mp4", count)
    frames = [frames[i % len(frames)] for i in range(count)]
    from utils.events.ring import JPEG_QUALITY

    jpegs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1] for f in frames]
    forms: dict[str, Any] = {
        "frames": count,
        "raw": {"bytes": sum(f.nbytes for f in frames), "copy_ms": round(ms_per_frame(np.copy, frames), 3)},
        "jpeg": {"quality": JPEG_QUALITY, "bytes": int(sum(j.nbytes for j in jpegs)),
                 "encode_ms": round(ms_per_frame(
                     lambda f: cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]), frames), 3),
                 "decode_ms": round(ms_per_frame(lambda j: cv2.imdecode(j, cv2.IMREAD_COLOR), jpegs), 3)},
    }
    try:
        forms["h264"] = h264_ring(frames)
    except ImportError:
        forms["h264"] = None
    return forms


def h264_ring(frames: list[np.ndarray]) -> dict:
    """What an encoder's circular buffer would hold and cost: libx264 ultrafast (the clips' encoder), in memory."""
    import av

    from utils.events.clip import X264_OPTIONS

    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
    codec.time_base = Fraction(1, FPS)
    codec.options = dict(X264_OPTIONS)
    packets: list = []

    def encode(image: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = len(packets)
        packets.extend(codec.encode(frame))

    ms = ms_per_frame(encode, frames)
    packets.extend(codec.encode(None))
    return {"options": X264_OPTIONS, "bytes": sum(p.size for p in packets), "encode_ms": round(ms, 3)}


# ---------------------------------------------------------------- the main loop, in this process

class PacedSource:
    """Hands over a file's frames at `fps` a second, as a camera does; the wait happens outside the timing."""

    def __init__(self, source, fps: float) -> None:
        self.source = source
        self.description = source.description
        self.nominal_fps = source.nominal_fps
        self.period = 1.0 / fps
        self._start: float | None = None
        self._count = 0

    def read(self):
        now = time.perf_counter()
        if self._start is None:
            self._start = now
        delay = self._start + self._count * self.period - now
        if delay > 0:
            time.sleep(delay)
        self._count += 1
        return self.source.read()

    def close(self) -> None:
        self.source.close()


def measure_loop(video: Path, setting: str, folder: Path) -> dict:
    from utils.pipeline import Pipeline, load_classifier, window_frames
    from utils.sinks import JsonSink
    from utils.sinks.events import make_event_sink
    from utils.sources import OpenCVSource

    options = {"model": MODEL, "labels": LABELS, "video": str(video), "display": "none", "json": True}
    if setting != "off":
        options.update(event=(WATCHED,), events_dir=folder / setting, record=setting == "record")
    config = Config.from_options(**options)
    classifier, prediction_filter = load_classifier(config)
    with closing(OpenCVSource(str(video))) as source, open(os.devnull, "w") as devnull:
        classifier.set_window(window_frames(config, source))
        timed = TimedSource(source)
        paced = PacedSource(timed, FPS)
        sinks: dict[str, TimedSink] = {}
        event_sink = None
        if setting != "off":
            event_sink = make_event_sink(config.events, source.description, source.nominal_fps, live=True)
            sinks["events"] = TimedSink(event_sink)
        sinks["json"] = TimedSink(JsonSink(devnull))
        sinks["overlay"] = TimedSink(OverlaySink())
        timing = TimingSink(timed, sinks)
        events_ms: list[float] = []

        class EveryFrame:
            needs_status = False
            wants_every_frame = False

            def write(self, update):
                if "events" in sinks:
                    events_ms.append(sinks["events"].ms)
                return None

            def close(self):
                pass

        pipeline = Pipeline(classifier, prediction_filter, paced, [*sinks.values(), timing, EveryFrame()],
                            config.source.fps)
        try:
            pipeline.run()
        finally:
            closing_start = time.perf_counter()
            for sink in sinks.values():
                sink.close()
            close_s = time.perf_counter() - closing_start
    report: dict = {"e2e_ms": percentiles(timing.e2e_ms[1:]), "classified": len(timing.e2e_ms),
                    "frames": timed.frames}
    if event_sink is not None:
        report.update(events_ms={"p50": round(statistics.median(events_ms), 4), "max": round(max(events_ms), 3)},
                      events=len(event_sink.events), close_s=round(close_s, 3))
        recorder = event_sink.recorder
        if recorder is not None:
            seconds = timed.frames / FPS
            report.update(recorder_cpu_s=round(recorder.thread_cpu_s, 3),
                          recorder_cpu_percent=round(recorder.thread_cpu_s / seconds * 100.0, 1),
                          ring_bytes=recorder.ring.nbytes, dropped=recorder.dropped,
                          clips=recorder.clips_written, clip_format=recorder.format.name)
    return report


def median_reports(reports: list[dict]) -> dict:
    """Medians of every number (nested one level), the rest from the first report."""
    merged: dict = {}
    for key, value in reports[0].items():
        if isinstance(value, dict):
            merged[key] = {k: round(statistics.median(r[key][k] for r in reports), 4)
                           if isinstance(v, (int, float)) else v for k, v in value.items()}
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            merged[key] = round(statistics.median(r[key] for r in reports), 4)
        else:
            merged[key] = value
    return merged


def peak_rss(command: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, CPU % of one core) of a command. VmHWM is read from /proc while it runs: the rusage of
    a child counts the parent's pages it had before exec, and this parent holds hundreds of MB of frames."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=PROJECT_DIR)
    start, hwm_kb, cpu_s = time.perf_counter(), 0, 0.0
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    hwm_kb = max(hwm_kb, int(line.split()[1]))
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode != 0:
        raise ClassifierError(f"classify.py failed ({process.returncode}): {errors.strip().splitlines()[-1:]}")
    return hwm_kb / 1024.0, cpu_s / wall * 100.0


def measure_processes(video: Path, setting: str, folder: Path, runs: int) -> dict:
    events_dir = ["--events-dir", str(folder / f"process-{setting}")] if SETTINGS[setting] else []  # with --event
    command = [sys.executable, str(PROJECT_DIR / "classify.py"), "--video", str(video), "--model", str(MODEL),
               "--labels", str(LABELS), "--display", "none", "--json", "--realtime", *SETTINGS[setting], *events_dir]
    results = [peak_rss(command) for _ in range(runs)]
    return {"peak_rss_mb": round(statistics.median(r[0] for r in results), 1),
            "cpu_percent": round(statistics.median(r[1] for r in results), 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=15.0, help="length of the A-B-A video (a third each)")
    p.add_argument("--runs", type=int, default=3, help="runs per setting (medians)")
    p.add_argument("--pre-roll", type=float, default=3.0, help="seconds of pre-roll in the ring comparison")
    args = p.parse_args(argv)
    if args.seconds < 3 or args.runs < 1 or args.pre_roll <= 0:
        p.error("--seconds must be 3 or more, --runs 1 or more, --pre-roll above 0")
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s", stream=sys.stderr)
    try:
        with tempfile.TemporaryDirectory(prefix="events-benchmark-") as temp:
            folder = Path(temp)
            video = aba_video(folder, args.seconds)
            report: dict = {"machine": machine(), "video": {"size": list(SIZE), "fps": FPS, "seconds": args.seconds},
                            "ring": ring_forms(args.pre_roll)}
            loops: dict[str, list[dict]] = {name: [] for name in SETTINGS}
            for i in range(args.runs):
                for name in SETTINGS:  # interleaved, so load from elsewhere hits every setting alike
                    print(f"{PROG}: loop {name}, run {i + 1} of {args.runs}", file=sys.stderr)
                    loops[name].append(measure_loop(video, name, folder / f"run{i}"))
            report["loop"] = {name: median_reports(runs) for name, runs in loops.items()}
            off = report["loop"]["off"]["e2e_ms"]["p50"]
            for name in ("events", "record"):
                report["loop"][name]["e2e_vs_off"] = round(report["loop"][name]["e2e_ms"]["p50"] / off, 3)
            report["process"] = {}
            for name in SETTINGS:
                print(f"{PROG}: classify.py, {name}", file=sys.stderr)
                report["process"][name] = measure_processes(video, name, folder, args.runs)
    except ClassifierError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
