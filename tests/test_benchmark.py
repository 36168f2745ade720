"""The benchmark command and its baseline loop (no timed asserts: the numbers are for people to read)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import cv2
import pytest
from conftest import CARVING_ICE, INSTALLED_RUNTIMES, LABELS, MODEL, REPO

from benchmarks.baseline import ExampleClassifier, run
from benchmarks.benchmark import looped_video
from utils.system_info import parse_throttled, pi_throttled

RUN_FIELDS = {
    "runtime": str, "runtime_version": str, "model": str, "threads": int, "fps": float, "window_seconds": float,
    "window_frames": int, "frames": int, "classified": int, "invoke_ms": dict, "e2e_ms": dict,
    "e2e_vs_invoke": float, "stages_ms": dict, "feedback_ms": dict, "loop_ms_per_classified": float,
    "first_result_s": float, "peak_rss_mb": float, "cpu_percent": dict, "wall_s": float, "baseline": dict,
    "wall_ratio_vs_baseline": float, "top1": str, "cpu_s": float, "cpu_ratio_vs_baseline": float,
}


def benchmark(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.benchmark", "--video", str(CARVING_ICE),
                           "--model", str(MODEL), "--labels", str(LABELS), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def report() -> dict:
    """One small sweep: every installed runtime, one thread, the clip once, one run each."""
    done = benchmark("--runtimes", "all", "--threads", "1", "--repeat", "1", "--runs", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, "stdout must hold exactly one JSON object"
    return json.loads(lines[0])


def test_report_describes_the_machine_video_and_settings(report):
    assert report["machine"]["cores"] >= 1 and report["machine"]["arch"]
    assert report["video"]["clip_frames"] == 131 and report["video"]["repeat"] == 1
    assert report["settings"] == {"fps": 5.0, "window_seconds": 12.0, "runs": 1, "overlay": True,
                                  "app": "classify.py --display none --json"}


def test_one_run_per_installed_runtime_with_every_field(report):
    runs = report["runs"]
    assert [r["runtime"] for r in runs] == INSTALLED_RUNTIMES
    for r in runs:
        for field, kind in RUN_FIELDS.items():
            assert isinstance(r[field], kind) or (kind is float and isinstance(r[field], int)), (field, r[field])
        assert r["threads"] == 1 and r["model"] == MODEL.name
        assert r["frames"] == 131 and r["classified"] == 22  # 4.4 s at 5 fps
        assert r["window_frames"] == 60  # the app's default --window 12 s at 5 fps
        for timing in (r["invoke_ms"], r["e2e_ms"]):
            assert set(timing) == {"p50", "p95"} and positive(timing["p50"]) and timing["p95"] >= timing["p50"]
        assert set(r["stages_ms"]) == {"read", "step", "json", "overlay"}
        feedback = r["feedback_ms"]
        assert feedback["states"] == 43 and feedback["changing_states"] == 13  # A0: 30 states are passed through
        assert 0 < feedback["changing_mb"] < 43 and positive(feedback["changing_p50"]) and positive(feedback["all_p50"])
        assert r["e2e_vs_invoke"] == pytest.approx(r["e2e_ms"]["p50"] / r["invoke_ms"]["p50"], rel=0.01)
        assert positive(r["first_result_s"]) and r["first_result_s"] < r["wall_s"]
        assert 10 < r["peak_rss_mb"] < 4096
        assert set(r["cpu_percent"]) == {"process", "system"}
        assert all(0 <= v <= 100 * report["machine"]["cores"] for v in r["cpu_percent"].values())
        assert positive(r["baseline"]["wall_s"]) and positive(r["baseline"]["peak_rss_mb"])
        assert r["wall_ratio_vs_baseline"] == pytest.approx(r["wall_s"] / r["baseline"]["wall_s"], rel=0.01)
        assert positive(r["cpu_s"]) and positive(r["baseline"]["cpu_s"])
        assert r["cpu_ratio_vs_baseline"] == pytest.approx(r["cpu_s"] / r["baseline"]["cpu_s"], rel=0.01)
        assert r["realtime_cpu_percent_of_one_core"] is None  # only with --realtime-cpu
        assert r["top1"] == r["baseline"]["top1"] == "carving ice"
        assert r["soc_temp_c"] is None or -40 < r["soc_temp_c"] < 130
        assert r["throttled"] is None or isinstance(r["throttled"]["throttled"], bool)


def test_mjpg_loop_and_realtime_cpu():
    """The case of a USB camera: MJPG at the clip's rate, headless, and the CPU the app takes in real time."""
    done = benchmark("--threads", "1", "--repeat", "2", "--runs", "1", "--encoding", "mjpg", "--headless",
                     "--realtime-cpu", "--video-fps", "10")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["video"]["encoding"] == "mjpg (looped)" and report["video"]["repeat"] == 2
    assert report["video"]["written_fps"] == 10
    run = report["runs"][0]
    # Frames read: the last classified one's index + 1 (headless, the few after it are not looked at).
    assert 260 <= run["frames"] <= 262 and run["top1"] == run["baseline"]["top1"] == "carving ice"
    assert run["classified"] == 131  # 26.2 s at 10 fps, one in two classified
    assert 0 < run["realtime_cpu_percent_of_one_core"] <= 100 * report["machine"]["cores"]


def test_single_measures_one_configuration_in_process():
    done = benchmark("--single", "--threads", "1", "--window", "0", "--headless")
    assert done.returncode == 0, done.stderr
    single = json.loads(done.stdout)
    assert single["window_frames"] == 0 and single["classified"] == 22
    assert set(single["stages_ms"]) == {"read", "step", "json"}  # no overlay drawn
    assert single["top1"] == "carving ice"


def test_compare_app_runs_another_checkout_beside_the_app(tmp_path):
    """--compare-app CHECKOUT: another checkout's classify.py in the same alternation (here a copy that says so)."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "classify.py").write_text(
        "import runpy, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "open(sys.argv[0] + '.ran', 'a').write('x')\n"
        f"runpy.run_path({str(REPO / 'classify.py')!r}, run_name='__main__')\n")
    done = benchmark("--threads", "1", "--repeat", "1", "--runs", "2", "--runtimes", "auto",
                     "--compare-app", str(other))
    assert done.returncode == 0, done.stderr
    compared = json.loads(done.stdout)["runs"][0]["compare_app"]
    assert (other / "classify.py.ran").read_text() == "xx"  # once per run
    assert compared["top1"] == "carving ice" and positive(compared["wall_s"]) and positive(compared["cpu_s"])
    assert positive(compared["wall_ratio_vs_baseline"]) and positive(compared["cpu_ratio_vs_baseline"])


@pytest.mark.parametrize("args, message", [
    (["--threads", "0"], "thread counts must be 1 or more"),
    (["--runtimes", "onnx"], "use auto, all, or"),
    (["--video", "missing.mp4"], "video file not found"),
    (["--fps", "-1"], "is not a number from 0 to 120"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    done = benchmark(*args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_baseline_loop_agrees_with_the_project(runtime):
    """Same frames classified (the 5 fps timestamp sampler) and the same top-1 as classify.py."""
    classifier = ExampleClassifier(MODEL, LABELS, num_threads=1, runtime=runtime)
    baseline = list(run(str(CARVING_ICE), classifier, fps=5.0))
    app = subprocess.run([sys.executable, "classify.py", "--video", str(CARVING_ICE), "--model", str(MODEL),
                          "--labels", str(LABELS), "--runtime", runtime, "--num-threads", "1", "--display", "none",
                          "--json"], cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    project = [json.loads(line) for line in app.stdout.splitlines()]
    assert [index for index, _, _ in baseline] == [r["frame"] for r in project]
    assert [round(t, 6) for _, t, _ in baseline] == [r["timestamp"] for r in project]
    assert baseline[-1][2][0].label == project[-1]["results"][0]["label"] == "carving ice"
    assert len(baseline[-1][2]) == 3


def test_looped_video_holds_the_clip_repeat_times(tmp_path):
    assert looped_video(CARVING_ICE, 1, tmp_path) == CARVING_ICE
    looped = looped_video(CARVING_ICE, 2, tmp_path)
    capture = cv2.VideoCapture(str(looped))
    frames = 0
    while capture.grab():
        frames += 1
    capture.release()
    assert frames == 262


def test_throttled_flags_from_vcgencmd_and_sysfs():
    flags = parse_throttled("throttled=0x50005\n")
    assert flags["raw"] == "0x50005"
    assert flags["under_voltage"] and flags["throttled"] and not flags["frequency_capped"]
    assert flags["under_voltage_occurred"] and flags["throttled_occurred"] and not flags["soft_temperature_limit"]
    assert not any(v for k, v in parse_throttled("0\n").items() if k != "raw")
    assert pi_throttled() is None or isinstance(pi_throttled()["raw"], str)


def test_overlay_benchmark_times_this_or_another_overlay_module(tmp_path):
    copy = tmp_path / "overlay_copy.py"
    copy.write_text((REPO / "utils" / "sinks" / "overlay.py").read_text())
    for extra in ([], ["--module", str(copy)]):
        done = subprocess.run([sys.executable, "benchmarks/overlay.py", "--calls", "3", *extra], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["module"] == (str(copy) if extra else "utils/sinks/overlay.py") and report["calls"] == 3
        for size in ("640x480", "1920x1080"):
            assert set(report[size]) == {"new_result", "same_result"} and all(map(positive, report[size].values()))
        assert positive(report["rgba_640x480"])
    done = subprocess.run([sys.executable, "benchmarks/overlay.py", "--module", str(tmp_path / "missing.py")],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no such file" in done.stderr and "Traceback" not in done.stderr
