"""Measures what the pipeline costs next to the model alone, and next to the TF Lite example's loop.

    python -m benchmarks.benchmark                                  # default clip, the app's default settings
    python -m benchmarks.benchmark --video clip.mp4 --threads 1,2 --runtimes all

Stdout gets one JSON object (logs go to stderr): "machine", "video", "settings" and "runs", a
list with one entry per configuration (runtime x threads), also when there is only one. Each
configuration is measured in fresh processes, --runs times, and the medians are reported:

- `python -m benchmarks.benchmark --single ...` (this module, one configuration in-process) gives
  invoke_ms, the bare `invoke()` of a second interpreter of the same model on the clip's own
  frames (states fed back between the timed calls), and e2e_ms, the main-thread time of the
  real Pipeline per classified frame, from asking the source for the frame to the last sink
  returning: decode (unless already prefetched), resize, invoke, state feedback, softmax/top-k,
  the overlay the window and web view draw (left out with --headless) and the JSON sink.
  stages_ms says where it went (read: waiting for the frame; step: Pipeline.step, i.e. the
  sampler, classify and top-k; overlay; json). The first classified frame is left out: its
  invoke also prepares the weights. loop_ms_per_classified is the whole loop's time per
  classified frame, so it also holds the frames in between (decoded, and drawn on unless --headless).
  feedback_ms: copying the states back after an invoke, the changing ones (what the app does) and
  all of them (what a dict of states costs at least), with their count and size.
- `classify.py --video ... --display none --json` (the app) gives wall_s, first_result_s (from
  process start), peak_rss_mb and cpu_percent; `python -m benchmarks.baseline` (the TF Lite example's
  loop) runs on the same video, runtime, threads and 5 fps sampling for wall_ratio_vs_baseline.

--repeat N loops the clip N times into a temporary video (re-encoded once with OpenCV's mp4v
writer, which every OpenCV build has), so the wall times measure the loop, not the start-up.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import itertools
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import cv2
import numpy as np
import psutil

from benchmarks.paths import DEFAULT_CLIP, LABELS, MODEL
from utils.config import BOUNDS, RUNTIMES, Config
from utils.errors import ClassifierError
from utils.paths import PROJECT_DIR
from utils.sources.frame import Frame
from utils.system_info import cpu_temperature, pi_throttled

log = logging.getLogger(__name__)

PROG = "python -m benchmarks.benchmark"
MIN_INVOKES = 50  # bare invokes timed per process, at least
MAX_IMAGES = 200  # frames kept for them (then reused in turn)


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50 and p95, in the samples' unit, rounded for the report."""
    p50, p95 = np.percentile(samples, [50, 95])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3)}


# ---------------------------------------------------------------- one configuration, in this process

class TimedSource:
    """Wraps the app's source and notes when each read() began and how long it took."""

    def __init__(self, source) -> None:
        self.source = source
        self.description = source.description
        self.nominal_fps = source.nominal_fps
        self.started = self.ms = 0.0
        self.frames = 0

    def read(self):
        self.started = time.perf_counter()
        frame = self.source.read()
        self.ms = (time.perf_counter() - self.started) * 1000.0
        if isinstance(frame, Frame):  # not the end (None), nor a stalled source's health
            self.frames = frame.index + 1  # frames read, also those a headless source skipped undecoded
        return frame

    def close(self) -> None:
        self.source.close()


class OverlaySink:
    """Draws the overlay as the window and web view do, and shows it nowhere."""

    needs_status = True
    wants_every_frame = True

    def __init__(self) -> None:
        from utils.sinks.overlay import Annotator

        self.annotator = Annotator()

    def write(self, update):
        self.annotator.draw(update)
        return None

    def close(self) -> None:
        pass


class TimedSink:
    """Wraps a sink and notes how long its last write() took."""

    def __init__(self, sink) -> None:
        self.sink = sink
        self.needs_status = sink.needs_status
        self.ms = 0.0

    @property
    def wants_every_frame(self) -> bool:
        return self.sink.wants_every_frame

    def write(self, update):
        start = time.perf_counter()
        command = self.sink.write(update)
        self.ms = (time.perf_counter() - start) * 1000.0
        return command

    def close(self) -> None:
        self.sink.close()


class TimingSink:
    """The last sink: per classified frame, its time since read() began and where that time went."""

    needs_status = False
    wants_every_frame = False

    def __init__(self, source: TimedSource, sinks: dict[str, TimedSink]) -> None:
        self.source = source
        self.sinks = sinks
        self.e2e_ms: list[float] = []
        self.stages_ms: dict[str, list[float]] = {name: [] for name in ("read", "step", *sinks)}
        self.top1 = ""

    def write(self, update):
        if update.is_new:
            e2e = (time.perf_counter() - self.source.started) * 1000.0
            self.e2e_ms.append(e2e)
            self.stages_ms["read"].append(self.source.ms)
            for name, sink in self.sinks.items():
                self.stages_ms[name].append(sink.ms)
            # Pipeline.step: sampler, classify (resize, invoke, states, softmax), top-k, status.
            self.stages_ms["step"].append(e2e - self.source.ms - sum(s.ms for s in self.sinks.values()))
            self.top1 = update.result.predictions[0].label if update.result.predictions else ""
        return None

    def close(self) -> None:
        pass


def sampled_rgb(video: Path, fps: float, size: tuple[int, int], limit: int) -> list[np.ndarray]:
    """Up to `limit` frames the sampler picks, as model-sized RGB: real input for the bare invokes."""
    from utils.sources import sampled_frames

    return [frame.model_rgb(size) for frame in itertools.islice(sampled_frames(video, fps), limit)]


def bare_invoke_ms(runtime, model: Path, threads: int, images: list[np.ndarray],
                   count: int, clock: Callable[[], float] = time.perf_counter) -> tuple[list[float], dict]:
    """`invoke()` alone on a second interpreter of the model: the floor the pipeline is held to.

    invoke() is timed on real input: the clip's frames, with the states fed back in between (zeros
    run faster on some runtimes: tflite-runtime 2.14 takes ~18 ms on zeros, ~22 on video). The
    feedback after each invoke is timed too, alternately as the app does it (the changing states
    only) and for every state (what a dict of states copies at least), so both costs are on record.
    `clock` may be time.thread_time: with one thread the invoke runs on the caller's, so its CPU time counts.
    """
    from utils.model.stream_classifier import changing_states
    from utils.native_stderr import native_stderr_to_log

    with native_stderr_to_log():
        interpreter = runtime.interpreter_class(model_path=str(model), num_threads=threads)
        interpreter.allocate_tensors()
    runner = interpreter.get_signature_runner()
    inputs, outputs = runner.get_input_details(), runner.get_output_details()
    del runner  # it would block the raw tensor access below
    image = inputs["image"]
    scale, zero_point = image["quantization"]
    all_states = [(inputs[n]["index"], outputs[n]["index"]) for n in inputs if n.startswith("state_")]
    changing = [(inputs[n]["index"], outputs[n]["index"]) for n in changing_states(inputs, outputs)]
    tensor = interpreter.tensor

    def feed(rgb: np.ndarray) -> None:
        real = rgb.astype(np.float32) / 255.0
        tensor(image["index"])()[0, 0] = real if image["dtype"] == np.float32 else np.round(real / scale + zero_point)

    samples: list[float] = []
    feedback: dict[str, list[float]] = {"changing": [], "all": []}
    for i in range(count + 1):
        feed(images[i % len(images)] if images else np.zeros(tensor(image["index"])().shape[2:], np.uint8))
        start = clock()
        interpreter.invoke()
        samples.append((clock() - start) * 1000.0)
        kind = "changing" if i % 2 else "all"
        start = time.perf_counter()
        for state_in, state_out in changing if kind == "changing" else all_states:
            np.copyto(tensor(state_in)(), tensor(state_out)())
        feedback[kind].append((time.perf_counter() - start) * 1000.0)
    nbytes = sum(tensor(i)().nbytes for i, _ in changing)
    return samples[1:], {  # the first call also prepares the weights
        "states": len(all_states), "changing_states": len(changing), "changing_mb": round(nbytes / 2**20, 2),
        "changing_p50": percentiles(feedback["changing"])["p50"], "all_p50": percentiles(feedback["all"][1:])["p50"]}


def measure_in_process(config: Config, overlay: bool = True) -> dict:
    """Runs the app's Pipeline on config.video with timing sinks; bare invokes before and after."""
    from utils.pipeline import Pipeline, change_test, load_classifier, window_frames
    from utils.sampler import FrameSampler
    from utils.sinks import JsonSink
    from utils.sources import open_source
    from utils.sources.demand import Demand

    classifier, prediction_filter = load_classifier(config)
    # As the app does: frames are sampled where they are read, and only an overlay wants every frame.
    demand = Demand(FrameSampler(config.source.fps), lambda: overlay)
    with closing(open_source(config.source, classifier.input_size, demand)) as source, \
            open(os.devnull, "w") as devnull:
        classifier.set_window(window_frames(config, source), change_test(config, source))
        timed = TimedSource(source)
        sinks = {"json": TimedSink(JsonSink(devnull))}
        if overlay:
            sinks["overlay"] = TimedSink(OverlaySink())
        timing = TimingSink(timed, sinks)
        start = time.perf_counter()
        Pipeline(classifier, prediction_filter, timed, [*sinks.values(), timing], config.source.fps,
                 sampler=demand.sampler).run()
        loop_s = time.perf_counter() - start
    if len(timing.e2e_ms) < 2:
        raise ClassifierError(f"{config.source.video} gave {len(timing.e2e_ms)} classified frames; the benchmark needs "
                              "at least 2 (a longer clip, or a higher --fps)")
    count = max(MIN_INVOKES, len(timing.e2e_ms))
    images = sampled_rgb(Path(str(config.source.video)), config.source.fps, classifier.input_size,
                         min(count, MAX_IMAGES))
    invokes, feedback = bare_invoke_ms(classifier.runtime, config.classifier.model, config.classifier.num_threads,
                                       images, count)
    return {
        "runtime": classifier.runtime.name,
        "runtime_version": classifier.runtime.version,
        "frames": timed.frames,
        "classified": len(timing.e2e_ms),
        "window_frames": classifier.window.frames if classifier.window else 0,
        "invoke_ms": percentiles(invokes),
        "e2e_ms": percentiles(timing.e2e_ms[1:]),
        "stages_ms": {name: percentiles(ms[1:])["p50"] for name, ms in timing.stages_ms.items()},
        "feedback_ms": feedback,
        "loop_ms_per_classified": round(loop_s * 1000.0 / max(1, len(timing.e2e_ms)), 3),
        "top1": timing.top1,
    }


# ---------------------------------------------------------------- processes

def run_process(command: list[str]) -> dict:
    """Runs a command that prints JSON lines; wall time, first line, last line, peak RSS and CPU."""
    with tempfile.TemporaryFile() as errors:
        psutil.cpu_percent(None)  # the system reading below covers exactly this run
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, cwd=PROJECT_DIR, text=True)
        assert process.stdout is not None  # stdout=PIPE
        first, last = None, ""
        for line in process.stdout:
            if first is None:
                first = time.perf_counter() - start
            last = line
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        system_cpu = psutil.cpu_percent(None)
        process.returncode = os.waitstatus_to_exitcode(status)
        process.stdout.close()
        if process.returncode != 0:
            errors.seek(0)
            lines = errors.read().decode(errors="replace").strip().splitlines()
            raise ClassifierError(f"{' '.join(command[1:3])} failed with exit code {process.returncode}: "
                                  f"{lines[-1] if lines else 'no message'}")
    return {
        "wall_s": wall,
        "first_result_s": first,
        "last": json.loads(last) if last.strip() else None,
        "peak_rss_mb": usage.ru_maxrss / 1024.0,  # kilobytes on Linux
        "cpu_process": (usage.ru_utime + usage.ru_stime) / wall * 100.0,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "cpu_system": system_cpu,
    }


def top1(line: dict | None) -> str:
    results = (line or {}).get("results") or []
    return results[0]["label"] if results else ""


def median(runs: list[dict], key: str, digits: int = 3) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), digits) if values else None


def ratios_to_baseline(runs: list[dict], baselines: list[dict]) -> tuple[float, float]:
    """Wall (medians) and CPU of an app's runs over the baseline's. CPU pair by pair: each app run beside the
    baseline run right after it, so load from others hits both."""
    wall, baseline_wall = (statistics.median(r["wall_s"] for r in rs) for rs in (runs, baselines))  # every run has one
    return wall / baseline_wall, statistics.median(r["cpu_s"] / b["cpu_s"] for r, b in zip(runs, baselines))


def compared(others: list[dict], baselines: list[dict], folder: Path) -> dict:
    """The other checkout's app: its wall and CPU, and their ratios to the baseline's runs beside them."""
    wall_ratio, cpu_ratio = ratios_to_baseline(others, baselines)
    return {"app": str(folder / "classify.py"), "wall_s": median(others, "wall_s"), "cpu_s": median(others, "cpu_s"),
            "wall_ratio_vs_baseline": round(wall_ratio, 3), "cpu_ratio_vs_baseline": round(cpu_ratio, 3),
            "peak_rss_mb": median(others, "peak_rss_mb", 1), "top1": top1(others[-1]["last"])}


def measure(video: Path, settings: argparse.Namespace, runtime: str, threads: int) -> dict:
    """One configuration: --runs fresh processes each of the in-process worker, the app and the baseline."""
    model, labels = str(settings.model.resolve()), str(settings.labels.resolve())
    common = ["--video", str(video), "--model", model, "--labels", labels, "--runtime", runtime,
              "--num-threads", str(threads), "--fps", f"{settings.fps:g}"]
    worker = [sys.executable, "-m", "benchmarks.benchmark", "--single", *common, "--window", f"{settings.window:g}",
              *(["--headless"] if settings.headless else [])]
    app = [sys.executable, str(PROJECT_DIR / "classify.py"), *common, "--window", f"{settings.window:g}",
           "--display", "none", "--json"]
    baseline = [sys.executable, "-m", "benchmarks.baseline", *common]
    # Another checkout's app (an older commit), run the same way: a before/after on one machine at one time.
    other = [sys.executable, str(settings.compare_app / "classify.py"), *app[2:]] if settings.compare_app else None
    singles, apps, baselines, others = [], [], [], []
    for i in range(settings.runs):
        log.info("%s, %d threads: run %d of %d", runtime, threads, i + 1, settings.runs)
        singles.append(json.loads(subprocess.run(worker, cwd=PROJECT_DIR, check=True, capture_output=True,
                                                 text=True).stdout))
        apps.append(run_process(app))  # app and baseline alternate, so load from others hits both alike
        baselines.append(run_process(baseline))
        if other:
            others.append(run_process(other))
    first = singles[0]
    invoke = {k: statistics.median(s["invoke_ms"][k] for s in singles) for k in ("p50", "p95")}
    e2e = {k: statistics.median(s["e2e_ms"][k] for s in singles) for k in ("p50", "p95")}
    stages = {k: statistics.median(s["stages_ms"][k] for s in singles) for k in first["stages_ms"]}
    wall = statistics.median(a["wall_s"] for a in apps)
    baseline_wall = statistics.median(b["wall_s"] for b in baselines)
    wall_ratio, cpu_ratio = ratios_to_baseline(apps, baselines)
    realtime = run_process([*app, "--realtime"]) if settings.realtime_cpu else None
    return {
        "runtime": first["runtime"],
        "runtime_version": first["runtime_version"],
        "model": Path(model).name,
        "threads": threads,
        "fps": settings.fps,
        "window_seconds": settings.window,
        "window_frames": first["window_frames"],
        "frames": first["frames"],
        "classified": first["classified"],
        "invoke_ms": invoke,
        "e2e_ms": e2e,
        "e2e_vs_invoke": round(e2e["p50"] / invoke["p50"], 3),
        "stages_ms": stages,
        "feedback_ms": {k: statistics.median(s["feedback_ms"][k] for s in singles) for k in first["feedback_ms"]},
        "loop_ms_per_classified": median(singles, "loop_ms_per_classified"),
        "first_result_s": median(apps, "first_result_s"),
        "peak_rss_mb": median(apps, "peak_rss_mb", 1),
        "cpu_percent": {"process": median(apps, "cpu_process", 1), "system": median(apps, "cpu_system", 1)},
        "wall_s": wall,
        "baseline": {"wall_s": baseline_wall, "cpu_s": median(baselines, "cpu_s"),
                     "first_result_s": median(baselines, "first_result_s"),
                     "peak_rss_mb": median(baselines, "peak_rss_mb", 1), "top1": top1(baselines[-1]["last"])},
        "wall_ratio_vs_baseline": round(wall_ratio, 3),
        "cpu_s": median(apps, "cpu_s"),
        "cpu_ratio_vs_baseline": round(cpu_ratio, 3),
        "realtime_cpu_percent_of_one_core": round(realtime["cpu_process"], 1) if realtime else None,
        "compare_app": compared(others, baselines, settings.compare_app) if others else None,
        "top1": top1(apps[-1]["last"]),
        "soc_temp_c": cpu_temperature(),
        "throttled": pi_throttled(),
    }


# ---------------------------------------------------------------- the video and the machine

def video_info(path: Path) -> tuple[int, float, tuple[int, int]]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ClassifierError(f"cannot open video {path}: not a video format OpenCV can read")
    try:
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        capture.release()
    return frames, fps, size


ENCODINGS = {"mp4v": ("mp4v", ".mp4"), "mjpg": ("MJPG", ".avi")}


def looped_video(path: Path, repeat: int, folder: Path, encoding: str = "mp4v", fps: float = 0.0) -> Path:
    """The clip `repeat` times over, as one file in `folder` (the clip itself when repeat is 1 and the
    encoding is mp4v). MJPG is what most USB cameras send: every frame a JPEG, cheap to skip undecoded.
    `fps` rewrites the frame rate (every frame kept): at 5, every frame of it is classified."""
    if repeat == 1 and encoding == "mp4v" and not fps:
        return path
    from utils.sources import sampled_frames

    frames = [frame.image for frame in sampled_frames(path, 0)]  # fps 0: every frame
    fps = fps or video_info(path)[1]
    if not frames:
        raise ClassifierError(f"cannot read any frame from {path}")
    fourcc, suffix = ENCODINGS[encoding]
    out = folder / f"{path.stem}_x{repeat}{suffix}"
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise ClassifierError(f"OpenCV cannot write {encoding} video here; use --repeat 1")
    for _ in range(repeat):
        for image in frames:
            writer.write(image)
    writer.release()
    return out


def cpu_name() -> str:
    for path, key in (("/proc/device-tree/model", None), ("/proc/cpuinfo", "model name")):
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        if key is None:
            return text.strip("\x00\n ")
        for line in text.splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict:
    return {"cpu": cpu_name(), "arch": platform.machine(), "cores": os.cpu_count(),
            "system": platform.platform(terse=True), "python": platform.python_version(),
            "numpy": np.__version__, "opencv": cv2.__version__}


def runtimes_to_measure(spec: str) -> list[str]:
    from utils.model.runtime import installed_runtimes, load_runtime

    if spec == "auto":
        return [load_runtime("auto").name]
    if spec == "all":
        found = installed_runtimes()
        if not found:
            raise ClassifierError("no TFLite runtime could be imported; run ./setup.sh")
        return found
    return [name for name in spec.split(",") if name]


# ---------------------------------------------------------------- command line

def thread_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of thread counts") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: thread counts must be 1 or more")
    return values


def runtime_list(text: str) -> str:
    names = [name for name in text.split(",") if name]
    choices = [r for r in RUNTIMES if r != "auto"]
    if text in ("auto", "all") or (names and all(n in choices for n in names)):
        return text
    raise argparse.ArgumentTypeError(f"{text!r}: use auto, all, or a comma-separated list of {', '.join(choices)}")


def positive_int(text: str) -> int:
    value = thread_list(text)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value[0]


def build_parser() -> argparse.ArgumentParser:
    defaults = Config.from_options()
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--video", type=Path, default=DEFAULT_CLIP if DEFAULT_CLIP.is_file() else None,
                   help="video file to measure on")
    p.add_argument("--model", type=Path, default=MODEL, help="MoViNet stream model")
    p.add_argument("--labels", type=Path, default=LABELS, help="label file")
    p.add_argument("--runtimes", "--runtime", type=runtime_list, default="auto",
                   help="auto (what the app picks), all (every installed runtime) or a comma-separated list")
    threads = p.add_mutually_exclusive_group()
    threads.add_argument("--threads", "--num-threads", type=thread_list, default=[defaults.classifier.num_threads],
                         help="comma-separated thread counts, e.g. 1,2")
    threads.add_argument("--sweep-threads", action="store_true", help="every thread count from 1 to the cores")
    p.add_argument("--repeat", type=positive_int, default=10, help="loop the clip this many times")
    p.add_argument("--encoding", choices=sorted(ENCODINGS), default="mp4v",
                   help="how the looped clip is encoded (mjpg: as a USB camera sends it)")
    p.add_argument("--video-fps", type=BOUNDS["fps"].parse, default=0.0,
                   help="write the looped clip at this frame rate (0: the clip's); 5 = every frame classified")
    p.add_argument("--realtime-cpu", action="store_true",
                   help="also run the app at the video's own speed (--realtime) and report its CPU in %% of one "
                        "core: what a camera at that frame rate costs")
    p.add_argument("--runs", type=positive_int, default=3, help="fresh processes per measurement (medians)")
    p.add_argument("--fps", type=BOUNDS["fps"].parse, default=defaults.source.fps,
                   help="frames classified per second, as the app's --fps")
    p.add_argument("--window", type=BOUNDS["window_seconds"].parse, default=defaults.classifier.window_seconds,
                   help="the app's --window, in seconds")
    p.add_argument("--headless", action="store_true",
                   help="leave the overlay out of e2e_ms, as with --display none (by default it is drawn on every "
                        "frame, as the window and web view do)")
    p.add_argument("--single", action="store_true",
                   help="measure one runtime and thread count in this process (no app, no baseline) and print it")
    p.add_argument("--compare-app", type=Path, metavar="CHECKOUT",
                   help="also run CHECKOUT/classify.py (e.g. a git worktree of an older commit) beside the app and "
                        "the baseline, in the same alternation: before/after on one machine at one time")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=f"{PROG}: %(message)s", stream=sys.stderr)
    try:
        if args.video is None:
            raise ClassifierError(f"no default clip at {DEFAULT_CLIP}; give one with --video")
        video = args.video.resolve()
        if not video.is_file():
            raise ClassifierError(f"video file not found: {args.video}")
        thread_counts = list(range(1, (os.cpu_count() or 1) + 1)) if args.sweep_threads else args.threads
        if args.single:
            if args.runtimes == "all" or "," in args.runtimes or len(thread_counts) != 1:
                raise ClassifierError("--single measures one runtime and one thread count")
            config = Config.from_options(model=args.model, labels=args.labels, runtime=args.runtimes,
                                         video=str(video), num_threads=thread_counts[0], fps=args.fps,
                                         window_seconds=args.window, display="none", json=True)
            sys.stdout.write(json.dumps(measure_in_process(config, overlay=not args.headless)) + "\n")
            return 0
        report = benchmark(args, video, thread_counts)
    except ClassifierError as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        return 2
    except subprocess.CalledProcessError as e:
        lines = (e.stderr or "").strip().splitlines()
        sys.stderr.write(f"{PROG}: error: a measuring process failed: {lines[-1] if lines else e}\n")
        return 2
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


def precompile(*checkouts: Path) -> None:
    """Byte-compiles the code the measured processes run, as setup.sh does: otherwise, where Python may not write
    __pycache__ (PYTHONDONTWRITEBYTECODE, a read-only folder), every start compiles the app's 60-odd modules
    (53 ms here), a cost the baseline's two modules do not share and a set-up Pi does not pay."""
    with contextlib.redirect_stdout(sys.stderr):  # stdout holds the one JSON object; compileall's errors go aside
        for checkout in checkouts:
            for path in (checkout / "classify.py", checkout / "utils", checkout / "benchmarks"):
                if path.is_file():
                    compileall.compile_file(path, quiet=1)
                elif path.is_dir():
                    compileall.compile_dir(path, quiet=1)


def benchmark(args: argparse.Namespace, video: Path, thread_counts: list[int]) -> dict:
    runtimes = runtimes_to_measure(args.runtimes)
    precompile(PROJECT_DIR, *([args.compare_app] if args.compare_app else []))
    clip_frames, clip_fps, size = video_info(video)
    with tempfile.TemporaryDirectory(prefix="benchmark-") as folder:
        measured = looped_video(video, args.repeat, Path(folder), args.encoding, args.video_fps)
        log.info("measuring on %s (%d x %d frames)", video.name, args.repeat, clip_frames)
        runs = [measure(measured, args, runtime, threads) for runtime in runtimes for threads in thread_counts]
    return {
        "machine": machine(),
        "video": {"path": str(video), "size": list(size), "fps": round(clip_fps, 3), "clip_frames": clip_frames,
                  "repeat": args.repeat, "written_fps": args.video_fps or round(clip_fps, 3),
                  "encoding": "original" if measured == video else f"{args.encoding} (looped)"},
        "settings": {"fps": args.fps, "window_seconds": args.window, "runs": args.runs, "overlay": not args.headless,
                     "app": "classify.py --display none --json"},
        "runs": runs,
    }


if __name__ == "__main__":
    sys.exit(main())
