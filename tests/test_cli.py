"""classify.py end to end, in a subprocess, with the real model and clips: the README's main job."""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, LABELS, MODEL, NON_STREAM_MODEL, REPO, run_cli, skip_or_fail


def assert_json_contract(records: list[dict], max_results: int = 3) -> None:
    assert records, "no JSON lines"
    previous = -1
    for record in records:
        assert set(record) == {"frame", "timestamp", "inference_ms", "results"}
        assert isinstance(record["frame"], int) and record["frame"] > previous
        previous = record["frame"]
        assert isinstance(record["timestamp"], float) and record["timestamp"] >= 0
        assert isinstance(record["inference_ms"], float) and record["inference_ms"] > 0
        scores = [r["score"] for r in record["results"]]
        assert len(scores) <= max_results
        assert scores == sorted(scores, reverse=True)
        for r in record["results"]:
            assert set(r) == {"label", "score"} and isinstance(r["label"], str) and 0.0 <= r["score"] <= 1.0


@pytest.mark.parametrize("clip, label", [(CARVING_ICE, "carving ice"), (ARM_WRESTLING, "arm wrestling")])
def test_clip_top1_through_cli(runtime, clip, label):
    run = run_cli("--video", str(clip), "--display", "none", "--json", "--runtime", runtime)
    assert run.returncode == 0, run.stderr
    records = run.records
    assert_json_contract(records)
    top = records[-1]["results"][0]
    assert top["label"] == label and top["score"] >= 0.9, top
    assert f"on {runtime}" in run.stderr  # the startup banner names the runtime, on stderr


def test_timestamp_sampling_gives_five_per_second_of_video():
    # carving_ice.mp4: 131 frames at 30 fps = 4.37 s of video -> frames 0, 6, 12, ... at 0.2 s steps.
    records = run_cli("--video", str(CARVING_ICE), "--display", "none", "--json").records
    assert len(records) == 22
    assert [r["frame"] for r in records] == list(range(0, 131, 6))
    steps = [b["timestamp"] - a["timestamp"] for a, b in zip(records, records[1:])]
    assert all(abs(s - 0.2) < 0.01 for s in steps), steps


def test_sampling_follows_the_container_clock_at_28_fps():
    records = run_cli("--video", str(ARM_WRESTLING), "--display", "none", "--json").records
    duration = 280 / 28
    assert abs(len(records) - duration * 5) <= 1
    # On a fixed 0.2 s grid, each pick is the first frame at or after its slot: gaps vary by one frame.
    steps = [b["timestamp"] - a["timestamp"] for a, b in zip(records, records[1:])]
    assert all(0.2 - 1 / 28 - 1e-6 <= s <= 0.2 + 1 / 28 + 1e-6 for s in steps), steps
    assert abs(sum(steps) / len(steps) - 0.2) < 0.005


def test_fps_zero_classifies_every_frame():
    records = run_cli("--video", str(CARVING_ICE), "--display", "none", "--json", "--fps", "0").records
    assert [r["frame"] for r in records] == list(range(131))


def test_fps_two_halves_the_rate():
    records = run_cli("--video", str(ARM_WRESTLING), "--display", "none", "--json", "--fps", "2").records
    assert abs(len(records) - 20) <= 1


def test_max_results_threshold_allow_deny():
    common = ["--video", str(CARVING_ICE), "--display", "none", "--json"]
    one = run_cli(*common, "--max-results", "1").records
    assert all(len(r["results"]) == 1 for r in one)
    five = run_cli(*common, "--maxResults", "5").records
    assert_json_contract(five, max_results=5)
    assert all(len(r["results"]) == 5 for r in five)

    high = run_cli(*common, "--score-threshold", "0.5").records
    assert all(all(x["score"] >= 0.5 for x in r["results"]) for r in high)
    assert [x["label"] for x in high[-1]["results"]] == ["carving ice"]

    allowed = run_cli(*common, "--allow", "juggling balls,clapping", "--allow", "dancing ballet").records
    assert {x["label"] for r in allowed for x in r["results"]} <= {"juggling balls", "clapping", "dancing ballet"}
    assert len(allowed[-1]["results"]) == 3

    denied = run_cli(*common, "--deny", "carving ice").records
    assert all(x["label"] != "carving ice" for r in denied for x in r["results"])
    assert denied[-1]["results"][0]["label"] == "chiseling stone"


def test_status_line_when_headless_without_json():
    run = run_cli("--video", str(CARVING_ICE), "--display", "none")
    assert run.returncode == 0
    assert run.stdout == ""  # stdout is for JSON only
    assert "carving ice" in run.stderr.splitlines()[-1]


def test_camel_case_aliases_of_the_tf_lite_example():
    run = run_cli("--video", str(CARVING_ICE), "--display", "none", "--json", "--numThreads", "1",
                  "--maxResults", "2", "--frameWidth", "320", "--frameHeight", "240",
                  "--label", str(LABELS), "--model", str(MODEL), model=False)
    assert run.returncode == 0, run.stderr
    assert all(len(r["results"]) == 2 for r in run.records)
    assert "1 threads" in run.stderr


def test_help_explains_every_flag_with_its_default():
    run = run_cli("--help", model=False)
    assert run.returncode == 0
    for flag in ("--model", "--labels", "--num-threads", "--max-results", "--score-threshold", "--allow", "--deny",
                 "--camera-id", "--video", "--width", "--height", "--fps", "--display", "--json", "--window",
                 "--realtime", "--runtime", "--numThreads", "--cameraId", "--frameWidth"):
        assert flag in run.stdout, flag
    assert "(default: 5.0)" in run.stdout and "(default: 3)" in run.stdout
    # Defaults only where they mean something: no "None", "[]" or "False" for flags that are unset or off.
    for meaningless in ("(default: None)", "(default: [])", "(default: False)"):
        assert meaningless not in run.stdout, meaningless
    # It ends with examples, and each one parses.
    examples = run.stdout.split("examples:\n", 1)[1].splitlines()
    commands = [shlex.split(line.split("#")[0]) for line in examples if line.strip().startswith("python classify.py")]
    assert len(commands) >= 4
    from classify import build_parser

    for command in commands:
        build_parser().parse_args(command[2:])  # a bad example would exit 2 here


def test_a_misspelt_flag_names_the_closest_one():
    line = one_error_line(run_cli("--vidoe", str(CARVING_ICE), model=False))
    assert "unrecognized arguments: --vidoe (did you mean --video?)" in line
    line = one_error_line(run_cli("--evnt-threshold=0.5", model=False))
    assert "--evnt-threshold=0.5 (did you mean --event-threshold?)" in line
    line = one_error_line(run_cli("--xyzzy", model=False))  # nothing close: no guess
    assert "did you mean" not in line


def test_a_path_with_a_space_given_unquoted_says_to_quote_it(tmp_path):
    (tmp_path / "my clips").mkdir()
    shutil.copy(CARVING_ICE, tmp_path / "my clips" / "x.mp4")
    line = one_error_line(run_cli("--video", "my", "clips/x.mp4", "--display", "none", cwd=tmp_path))
    assert line.endswith("unrecognized arguments: clips/x.mp4; did you mean --video 'my clips/x.mp4'? quote a path "
                         "that holds spaces (see --help)"), line
    line = one_error_line(run_cli("--actions-dir=my", "clips", "--actions", cwd=tmp_path))
    assert "did you mean --actions-dir 'my clips'?" in line
    line = one_error_line(run_cli("--video", "my", "other.mp4", cwd=tmp_path))  # no such file: no guess
    assert "did you mean" not in line


def test_version_names_the_runtime():
    run = run_cli("--version", model=False)
    assert run.returncode == 0 and "runtime ai-edge-litert" in run.stdout


def one_error_line(run) -> str:
    """Bad input: exit 2, exactly one line on stderr, no traceback, nothing on stdout."""
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("classify.py: error: ")
    return lines[0]


def test_default_model_and_labels_work_from_any_folder(tmp_path):
    """As a systemd unit or `cd ~ && pi-action/.venv/bin/python pi-action/classify.py` runs it."""
    if not (REPO / "models" / MODEL.name).is_file():
        skip_or_fail("models/ has no model yet; run ./setup.sh (or ./download_models.sh)")
    done = run_cli("--video", str(CARVING_ICE), "--display", "none", "--json", model=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.records[-1]["results"][0]["label"] == "carving ice"


def test_missing_model(tmp_path):
    line = one_error_line(run_cli("--model", str(tmp_path / "nope.tflite"), "--labels", str(LABELS), model=False))
    assert "not found" in line and "download_models.sh" in line


def test_html_page_saved_as_model(tmp_path):
    html = tmp_path / "movinet.tflite"
    html.write_text("<!DOCTYPE html><html><head><title>TensorFlow Hub</title></head><body>moved</body></html>\n")
    line = one_error_line(run_cli("--model", str(html), "--labels", str(LABELS), "--video", str(CARVING_ICE),
                                  model=False))
    assert "HTML" in line


def test_file_that_is_not_a_tflite_model(tmp_path):
    junk = tmp_path / "model.tflite"
    junk.write_bytes(b"\x00" * 4096)
    line = one_error_line(run_cli("--model", str(junk), "--labels", str(LABELS), model=False))
    assert "not a TFLite model" in line


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.95])
def test_truncated_model(runtime, tmp_path, keep):
    data = MODEL.read_bytes()
    cut = tmp_path / "cut.tflite"  # another name, so the known-hash check cannot be what catches it
    cut.write_bytes(data[: int(len(data) * keep)])
    line = one_error_line(run_cli("--model", str(cut), "--labels", str(LABELS), "--runtime", runtime, model=False))
    assert "truncated" in line or "corrupt" in line


def test_model_that_is_not_a_stream_model():
    line = one_error_line(run_cli("--model", str(NON_STREAM_MODEL), "--labels", str(LABELS), model=False))
    assert "not a MoViNet stream model" in line and "state" in line


def test_label_file_with_wrong_count(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(LABELS.read_text().splitlines()[:400]) + "\n")
    line = one_error_line(run_cli("--model", str(MODEL), "--labels", str(labels), model=False))
    assert "400 labels" in line and "600 classes" in line


def test_missing_label_file(tmp_path):
    line = one_error_line(run_cli("--model", str(MODEL), "--labels", str(tmp_path / "x.txt"), model=False))
    assert "label file not found" in line


@pytest.mark.parametrize("flag", ["--allow", "--deny"])
def test_label_names_not_in_the_label_file(flag):
    line = one_error_line(run_cli("--video", str(CARVING_ICE), flag, "carving ice,juggling ball"))
    assert f"{flag}: not in the label file: 'juggling ball', did you mean 'juggling balls'" in line


def test_video_that_cannot_be_opened(tmp_path):
    line = one_error_line(run_cli("--video", str(tmp_path / "missing.mp4")))
    assert "not found" in line
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    line = one_error_line(run_cli("--video", str(text)))
    assert "cannot open video" in line


def test_camera_that_cannot_be_opened():
    line = one_error_line(run_cli("--camera-id", "63"))
    assert "camera 63" in line


@pytest.mark.parametrize("args", [
    ["--num-threads", "0"], ["--numThreads", "-2"], ["--fps", "abc"], ["--fps", "-1"], ["--max-results", "0"],
    ["--max-results", "2.5"], ["--score-threshold", "1.5"], ["--score-threshold", "nan"], ["--width", "-640"],
    ["--camera-id", "-1"], ["--window", "-3"], ["--display", "hologram"], ["--no-such-flag"],
])
def test_bad_flags(args):
    line = one_error_line(run_cli(*args, model=False))
    assert args[0].lstrip("-").split("-")[0].lower() in line.lower() or "unrecognized" in line


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_close_cleanly_and_exit_zero(signum):
    process = subprocess.Popen(
        [sys.executable, str(REPO / "classify.py"), "--model", str(MODEL), "--labels", str(LABELS),
         "--video", str(ARM_WRESTLING), "--realtime", "--display", "none", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    first = process.stdout.readline()  # running: a first result arrived
    assert first.startswith("{")
    time.sleep(0.5)
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert len(out.splitlines()) < 40  # stopped early, not at the end of the 10 s clip


def test_closed_stdout_stops_quietly():
    # `classify.py --json | head -1`: the reader goes away; we stop without a traceback.
    shell = subprocess.run(
        f"'{sys.executable}' classify.py --model '{MODEL}' --labels '{LABELS}' --video '{ARM_WRESTLING}' "
        f"--display none --json --fps 0 | head -n 1", shell=True, capture_output=True, text=True, cwd=REPO,
        timeout=120)
    assert shell.stdout.startswith("{") and len(shell.stdout.splitlines()) == 1
    assert "Traceback" not in shell.stderr
