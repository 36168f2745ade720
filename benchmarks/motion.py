"""What the motion gate saves and costs: the app's CPU on still and moving video, results with and without it.

    nice -n 10 python -m benchmarks.motion                 # everything (about 20 minutes on 2 cores)
    python -m benchmarks.motion --parts gate,cpu --runtime auto --num-threads 4     # on a Pi

The CPU runs play a 60 s clip at its own speed twice: a frozen frame, and the same clip moving, and take the
app's CPU time (user + sys) per second of video from its first result on (and from its first "still" one).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.long_stream import clip_frames, share, write_video  # noqa: E402
from benchmarks.paths import CLIPS, LABELS, MEDIA, MODEL  # noqa: E402
from utils.sources import sampled_frames  # noqa: E402

STILL_FPS = 30  # a camera's rate: the app samples 5 of these a second


def first_frame(clip: Path, at_seconds: float = 0.0) -> np.ndarray:
    """One frame of a clip (BGR), `at_seconds` into it."""
    capture = cv2.VideoCapture(str(clip))
    capture.set(cv2.CAP_PROP_POS_MSEC, at_seconds * 1000)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise RuntimeError(f"cannot read a frame of {clip}")
    return frame


def write_still_clip(path: Path, frame: np.ndarray, seconds: float, fps: float = STILL_FPS, noise: float = 0.0,
                     ramp: float = 0.0, flicker: float = 0.0, seed: int = 0) -> Path:
    """`frame` held for `seconds`, as a camera in a still room sends it: sensor noise (Gaussian, `noise` grey
    levels per pixel, new every frame), a slow brightness ramp (the picture `ramp` times brighter at the end
    than at the start, e.g. 0.3 = +30 %, as daylight changes) and auto-exposure flicker (the brightness steps by
    up to +-`flicker` every second, as an exposure loop hunts). Written as MJPG, so JPEG's block artefacts come
    on top, changing with the noise."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (frame.shape[1], frame.shape[0]))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 75)
    rng = np.random.default_rng(seed)
    base = frame.astype(np.float32)
    count = round(seconds * fps)
    exposure = 1.0
    for i in range(count):
        if flicker and i % round(fps) == 0:
            exposure = 1.0 + rng.uniform(-flicker, flicker)
        gain = (1.0 + ramp * i / max(1, count - 1)) * exposure
        image = base * gain
        if noise:
            image += rng.normal(0.0, noise, image.shape).astype(np.float32)
        writer.write(np.clip(image, 0, 255).astype(np.uint8))
    writer.release()
    return path


# The CPU runs: the app as a Pi owner runs it, one thread of tflite-runtime (its invoke here costs about what
# ai-edge-litert's costs on a Pi), files played at their own speed.
CPU_FLAGS = ["--realtime", "--fps", "5"]
RUNTIME, THREADS = "tflite-runtime", 1  # --runtime and --num-threads of the CPU runs and the gate's cost
CPU_SECONDS = 60
CPU_CLIP = MEDIA / "arm_wrestling.mp4"
NOISE = {"noise": 6.0, "ramp": 0.3, "flicker": 0.05}  # the test's clip: sensor noise, +30 % in 30 s, AE steps


def classify(video: Path, flags: Sequence[str]) -> list[dict]:
    """classify.py --json on a video: one object per sampled frame."""
    done = subprocess.run(
        [sys.executable, str(REPO / "classify.py"), "--video", str(video), "--display", "none", "--json",
         "--model", str(MODEL), "--labels", str(LABELS), *flags], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"classify.py {' '.join(flags)} on {video.name} failed: {done.stderr.strip()}")
    return [json.loads(line) for line in done.stdout.splitlines()]


def cpu_run(video: Path, flags: Sequence[str]) -> dict:
    """The app's CPU time (user + sys) per second of video, from its first result to its end, and from its first
    'still' result on (the still phase), with the invokes counted."""
    import psutil

    process = subprocess.Popen(
        [sys.executable, str(REPO / "classify.py"), "--video", str(video), "--display", "none", "--json",
         "--model", str(MODEL), "--labels", str(LABELS), *flags], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    watched = psutil.Process(process.pid)
    marks: dict[str, tuple[float, float]] = {}  # "first"/"still" -> (cpu seconds, stream seconds)
    last, invokes = 0.0, 0
    assert process.stdout is not None
    for line in process.stdout:
        record = json.loads(line)
        last = record["timestamp"]
        invokes += not record.get("still", False)
        times = None
        for mark in ("first", "still"):
            if mark not in marks and (mark == "first" or record.get("still")):
                times = times or watched.cpu_times()
                marks[mark] = (times.user + times.system, last)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    total = usage.ru_utime + usage.ru_stime
    report: dict[str, float] = {"invokes": invokes}
    for mark, (cpu, start) in marks.items():
        report[f"cpu_per_s_from_{mark}"] = round((total - cpu) / max(1e-9, last - start), 4)
    return report


def measure_cpu(folder: Path, runs: int, runtime: str = RUNTIME, threads: int = THREADS) -> dict:
    """A frozen frame for 60 s against the same clip moving for 60 s (looped), same size and rate."""
    capture = cv2.VideoCapture(str(CPU_CLIP))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while (item := capture.read())[0]:
        frames.append(item[1])
    capture.release()
    moving, still = folder / "moving.avi", folder / "still.avi"
    writer = cv2.VideoWriter(str(moving), cv2.VideoWriter.fourcc(*"MJPG"), fps, frames[0].shape[1::-1])
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 75)
    for i in range(round(CPU_SECONDS * fps)):
        writer.write(frames[i % len(frames)])
    writer.release()
    write_still_clip(still, frames[len(frames) // 2], CPU_SECONDS, fps)
    cases = {"moving, --motion off": (moving, ["--motion", "off"]), "moving, --motion on": (moving, ["--motion", "on"]),
             "still, --motion off": (still, ["--motion", "off"]), "still, --motion on": (still, ["--motion", "on"])}
    common = [*CPU_FLAGS, "--runtime", runtime, "--num-threads", str(threads)]
    report: dict = {"clip": CPU_CLIP.name, "seconds": CPU_SECONDS, "flags": common, "runs": runs}
    for name, (video, flags) in cases.items():
        results = [cpu_run(video, [*common, *flags]) for _ in range(runs)]
        report[name] = {key: statistics.median(r[key] for r in results if key in r)
                        for key in results[0]} | {"all": results}
    busy = report["moving, --motion off"]["cpu_per_s_from_first"]
    report["still_vs_moving"] = {
        "whole_run": round(report["still, --motion on"]["cpu_per_s_from_first"] / busy, 4),
        "still_phase": round(report["still, --motion on"]["cpu_per_s_from_still"] / busy, 4)}
    return report


def measure_gate_cost(runtime: str = RUNTIME, threads: int = THREADS, repeats: int = 300) -> dict:
    """The gate's time per sampled frame (a 640x480 camera frame; the Pi's lores I420 at the model's size) against
    the bare invoke (tflite-runtime, one thread)."""
    from utils.config import Config
    from utils.pipeline import load_model
    from utils.sources.frame import Frame
    from utils.sources.motion import MotionGate

    classifier, _ = load_model(Config.from_options(model=MODEL, labels=LABELS, num_threads=threads,
                                                   runtime=runtime))
    frames = [cv2.resize(frame.image, (640, 480)) for frame in sampled_frames(CPU_CLIP, 5)]
    rgb = frames[0][:, :, ::-1].copy()
    model_input = cv2.resize(rgb, classifier.input_size)

    def per_call(work, items) -> float:
        start = time.process_time()
        for i in range(repeats):
            work(items[i % len(items)], i)
        return (time.process_time() - start) / repeats * 1000

    invoke_ms = per_call(lambda _, i: classifier.classify(model_input), [None])
    gate = MotionGate()
    camera_ms = per_call(lambda image, i: gate.check(Frame(image, i / 5, i)), frames)
    lores = [cv2.cvtColor(cv2.resize(image, classifier.input_size), cv2.COLOR_BGR2YUV_I420) for image in frames]
    gate = MotionGate()
    lores_ms = per_call(lambda yuv, i: gate.check(Frame(frames[0], i / 5, i, lores=yuv,
                                                         lores_width=classifier.input_size[0])), lores)
    return {"invoke_ms": round(invoke_ms, 3), "gate_ms_640x480_bgr": round(camera_ms, 4),
            "gate_ms_lores_i420": round(lores_ms, 4),
            "share_of_invoke_640x480": round(camera_ms / invoke_ms, 4),
            "share_of_invoke_lores": round(lores_ms / invoke_ms, 4),
            "note": "per sampled frame (5 a second); per camera frame at 30 fps it is a sixth of this"}


def val_clips() -> dict[str, Path]:
    rows = (MEDIA / "val" / "SOURCES.tsv").read_text().splitlines()[1:]
    return {row.split("\t")[1]: MEDIA / "val" / row.split("\t")[0] for row in rows if row.strip()}


def clip_results(clips: dict[str, Path], jobs: int) -> dict:
    """Whole-clip top-1 (the last result) and the share of results right, with the gate on and off."""
    def one(item):
        label, path = item
        report = {}
        for mode in ("off", "on"):
            records = classify(path, ["--motion", mode])
            tops = [r["results"][0]["label"] if r["results"] else "" for r in records]
            report[mode] = {"final_right": tops[-1] == label, "share": round(share(tops, label), 4),
                            "still": sum(bool(r.get("still")) for r in records)}
        return path.name, report

    with ThreadPoolExecutor(jobs) as pool:
        per_clip = dict(pool.map(one, clips.items()))
    summary = {mode: {"final_right": sum(c[mode]["final_right"] for c in per_clip.values()),
                      "share_mean": round(statistics.mean(c[mode]["share"] for c in per_clip.values()), 4),
                      "still_frames": sum(c[mode]["still"] for c in per_clip.values())} for mode in ("off", "on")}
    worse = [name for name, c in per_clip.items()
             if c["on"]["share"] < c["off"]["share"] or c["off"]["final_right"] > c["on"]["final_right"]]
    return {"clips": len(per_clip), "summary": summary, "worse_with_gate": worse, "per_clip": per_clip}


def event_starts(records: list[dict]) -> list[tuple[str, float]]:
    """The events the app's defaults would start (--event any), from the results."""
    from utils.events.tracker import EventTracker
    from utils.results import Prediction

    tracker, now, starts = EventTracker({"any"}), datetime.now(timezone.utc), []
    for r in records:
        predictions = [Prediction(p["label"], p["score"]) for p in r["results"]]
        for change in tracker.update(r["frame"], r["timestamp"], predictions, now):
            if change.kind == "start":
                starts.append((change.event.label, round(change.event.start, 2)))
    return starts


def triples(folder: Path, jobs: int) -> dict:
    """Three clips one after the other (each played once at 5 fps): when each action is first top-1, and when
    events start, with the gate on and off."""
    labels = list(CLIPS)
    frames = {label: clip_frames(path) for label, path in CLIPS.items()}
    chosen = [tuple(labels[(i + k) % len(labels)] for k in range(3)) for i in range(len(labels))]

    def one(triple):
        video = folder / ("triple-" + "-".join(t.split()[0] for t in triple) + ".avi")
        write_video(video, [(frames[label], len(frames[label]) / 5) for label in triple])
        starts = np.cumsum([0] + [len(frames[label]) for label in triple])
        report = {}
        for mode in ("off", "on"):
            records = classify(video, ["--motion", mode])
            tops = [r["results"][0]["label"] if r["results"] else "" for r in records]
            first = [next((i - int(starts[k]) for i in range(int(starts[k]), int(starts[k + 1]))
                           if tops[i] == label), None) for k, label in enumerate(triple)]
            report[mode] = {"first_top1_delay": first, "event_starts": event_starts(records)}
        later = [a is not None and (b is None or b > a) for a, b in
                 zip(report["off"]["first_top1_delay"], report["on"]["first_top1_delay"])]
        report["later_with_gate"] = sum(later) + (report["on"]["event_starts"] != report["off"]["event_starts"])
        return " -> ".join(triple), report

    with ThreadPoolExecutor(jobs) as pool:
        per_triple = dict(pool.map(one, chosen))
    return {"triples": len(per_triple), "later_with_gate": sum(t["later_with_gate"] for t in per_triple.values()),
            "per_triple": per_triple}


def gate_states(video: Path) -> list[tuple[float, bool, float]]:
    """(timestamp, moving, share changed) for each sampled frame, as the app's gate sees them."""
    from utils.sources.motion import MotionGate

    gate = MotionGate()
    return [(f.timestamp, (s := gate.check(f)).moving, s.changed) for f in sampled_frames(video, 5)]


def least_motion(folder: Path) -> dict:
    """The threshold's margins: the least share changed on each moving clip (after its first two frames), and the
    most on still clips with noise, flicker and a ramp (after the hold)."""
    from utils.sources.motion import HOLD_SECONDS

    moving = {path.name: round(min(c for _, _, c in gate_states(path)[2:]), 4) for path in CLIPS.values()}
    noisy = {}
    for path in CLIPS.values():
        for ramp in (NOISE["ramp"], -NOISE["ramp"]):
            video = write_still_clip(folder / "noisy.avi", first_frame(path, 1.0), 30, noise=NOISE["noise"],
                                     ramp=ramp, flicker=NOISE["flicker"])
            states = [s for s in gate_states(video) if s[0] > HOLD_SECONDS]
            noisy[f"{path.name} ramp {ramp:+g}"] = {"most_changed": round(max(c for _, _, c in states), 4),
                                                    "moving_frames": sum(m for _, m, _ in states)}
    return {"moving_clips_least_changed": moving, "noise_clips": noisy, "noise": NOISE}


def changes_segments() -> dict:
    """The share of sampled frames the gate calls still in each segment of ../shared/media/changes/."""
    rows = [row.split("\t") for row in (MEDIA / "changes" / "SEGMENTS.tsv").read_text().splitlines()[1:] if row]
    states = {name: gate_states(MEDIA / "changes" / name) for name in {row[0] for row in rows}}
    report = []
    for name, start, end, label in rows:
        inside = [m for t, m, _ in states[name] if float(start) <= t < float(end)]
        report.append({"file": name, "segment": f"{start}-{end}", "label": label, "sampled": len(inside),
                       "still": sum(not m for m in inside)})
    return {"segments": report}


PARTS = ("gate", "margins", "changes", "cpu", "shared", "val", "triples")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--runs", type=int, default=3, help="repeats of each CPU run (the median is reported)")
    parser.add_argument("--jobs", type=int, default=2, help="clips classified at once")
    parser.add_argument("--runtime", default=RUNTIME, help="of the CPU runs and the gate's cost (on a Pi: auto)")
    parser.add_argument("--num-threads", type=int, default=THREADS, help="of the CPU runs and the gate's cost")
    args = parser.parse_args(argv)
    parts = [part.strip() for part in args.parts.split(",")]
    report: dict = {"cpu_model": _cpu_name(), "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for part in parts:
            if part == "gate":
                report["gate_cost"] = measure_gate_cost(args.runtime, args.num_threads)
            elif part == "margins":
                report["margins"] = least_motion(work)
            elif part == "changes":
                report["changes"] = changes_segments()
            elif part == "cpu":
                report["cpu"] = measure_cpu(work, args.runs, args.runtime, args.num_threads)
            elif part == "shared":
                report["shared_clips"] = clip_results({label: path for label, path in CLIPS.items()}, args.jobs)
            elif part == "val":
                report["val_clips"] = clip_results(val_clips(), args.jobs)
            elif part == "triples":
                report["triples"] = triples(work, args.jobs)
            else:
                parser.error(f"unknown part {part!r}")
            print(json.dumps({"done": part}), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=1))
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


if __name__ == "__main__":
    sys.exit(main())
