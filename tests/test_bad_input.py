"""What a hostile new user tries, through the CLI: every bad input ends in one clear line (or runs right), never a
traceback, a hang or silence."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, LABELS, MODEL, REPO, Run, run_cli, skip_or_fail
from test_cli import one_error_line

from utils.config import BOUNDS, flag


def run_shell(redirect: str, *args: str) -> Run:
    """classify.py with the test model and a shell redirection of its own (`>&-`, `2>&-`, `>/dev/full`)."""
    command = " ".join(f"'{a}'" for a in (sys.executable, str(REPO / "classify.py"), *args))
    done = subprocess.run(["bash", "-c", f"exec {command} {redirect}"], capture_output=True, text=True, cwd=REPO,
                          timeout=300, env={k: v for k, v in os.environ.items() if k != "DISPLAY"})
    return Run(done.returncode, done.stdout, done.stderr)


def run_unprivileged(*args: str) -> Run:
    """classify.py as a user file permissions and the privileged ports apply to: as root, without the
    capabilities that ignore them."""
    command = [sys.executable, str(REPO / "classify.py"), *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            skip_or_fail("running as root and setpriv (util-linux) is missing, so permissions cannot apply")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-net_bind_service", *command]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=300)
    return Run(done.returncode, done.stdout, done.stderr)


def unreadable_copy(source: Path, target: Path) -> Path:
    shutil.copy(source, target)
    target.chmod(0)
    return target


# --- 4: every number has a range, said in --help and checked --------------------------------------------


@pytest.mark.parametrize("args", [
    ["--fps", "1e6"], ["--fps", "inf"], ["--fps", "nan"], ["--window", "1e9"], ["--window", "inf"],
    ["--window", "86400"], ["--num-threads", "100000"], ["--max-results", "100000"], ["--width", "1000000"],
    ["--web-port", "70000"], ["--smoothing", "1"], ["--camera-id", "1e3"],
])
def test_numbers_beyond_their_range_are_one_line_at_parse_time(args):
    line = one_error_line(run_cli(*args, model=False))
    assert f"argument {args[0]}" in line and "is not a" in line and " to " in line


def help_entries() -> dict[str, str]:
    """Each option's --help entry, under each of its spellings, with argparse's line wrapping undone."""
    entries: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in run_cli("--help", model=False).stdout.splitlines():
        if line.startswith("  -"):  # a new option: "  --fps FPS  frames classified ..."
            lines = [line]
            entries.update((word.rstrip(","), lines) for word in line.split() if word.startswith("-"))
        elif line.startswith("   "):
            lines.append(line)
        else:  # a group's title: what follows is not an option's text
            lines = []
    return {name: " ".join(" ".join(text).split()) for name, text in entries.items()}


def test_help_says_every_numbers_range_and_each_default_once():
    entries = help_entries()
    for name, bound in BOUNDS.items():
        assert bound.describe() in entries[flag(name)], f"{flag(name)} does not say its range"
    threads = entries["--num-threads"]
    assert "(default: all cores, here" in threads and threads.count("(default:") == 1


# --- 5: no traceback ---------------------------------------------------------------------------------------


def test_an_unreadable_model_labels_or_video(tmp_path):
    model = unreadable_copy(MODEL, tmp_path / "model.tflite")
    line = one_error_line(run_unprivileged("--model", str(model), "--labels", str(LABELS)))
    assert f"cannot read model file {model}: Permission denied" in line
    labels = unreadable_copy(LABELS, tmp_path / "labels.txt")
    line = one_error_line(run_unprivileged("--model", str(MODEL), "--labels", str(labels)))
    assert f"cannot read label file {labels}: Permission denied" in line
    video = unreadable_copy(CARVING_ICE, tmp_path / "clip.mp4")
    line = one_error_line(run_unprivileged("--model", str(MODEL), "--labels", str(LABELS), "--video", str(video)))
    assert f"cannot read video {video}: Permission denied" in line


def last_error_line(run: Run) -> str:
    """An error found once the run has started: exit 2, no traceback, the error as the last line."""
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr
    return run.stderr.strip().splitlines()[-1]


def test_closed_stdout_with_json_is_one_line():
    run = run_shell(">&-", "--model", str(MODEL), "--labels", str(LABELS), "--video", str(CARVING_ICE),
                    "--display", "none", "--json")
    assert last_error_line(run).startswith("classify.py: error: --json writes to stdout, but stdout is closed")


def test_a_full_stdout_is_one_line():
    run = run_shell(">/dev/full", "--model", str(MODEL), "--labels", str(LABELS), "--video", str(CARVING_ICE),
                    "--display", "none", "--json")
    assert last_error_line(run) == "classify.py: error: cannot write the JSON lines to stdout: No space left on device"
    for only_prints in (("--version",), ("--list-cameras",), ("--help",), ("--actions", "--actions-dir", "none")):
        line = one_error_line(run_shell(">/dev/full", *only_prints))
        assert line == "classify.py: error: cannot write to stdout: No space left on device"


def test_closed_stderr_still_runs_and_exits_with_the_right_code(tmp_path):
    good = run_shell("2>&-", "--model", str(MODEL), "--labels", str(LABELS), "--video", str(CARVING_ICE),
                     "--display", "none", "--json")
    assert good.returncode == 0 and len(good.stdout.splitlines()) == 22
    bad = run_shell("2>&-", "--model", str(tmp_path / "missing.tflite"), "--labels", str(LABELS))
    assert bad.returncode == 2 and bad.stdout == ""  # the error went where the user sent stderr: nowhere


def test_labels_too_large_for_a_label_file(tmp_path):
    big = tmp_path / "labels.txt"
    big.write_bytes(LABELS.read_bytes() * 120)  # 1.1 MB: a video or a dump given by mistake
    line = one_error_line(run_cli("--model", str(MODEL), "--labels", str(big), model=False))
    assert "too large for a label file" in line


@pytest.fixture(scope="module")
def corrupt_model(tmp_path_factory) -> Path:
    """The real model with one byte of a state's name broken (not UTF-8), as a damaged copy can have."""
    data = bytearray(MODEL.read_bytes())
    data[data.find(b"serving_default_state_block3") + 8] = 0xC3
    path = tmp_path_factory.mktemp("corrupt") / "damaged.tflite"
    # Padded, so it is not known by its size as a copy of the catalogue's model (its sha256 would stop it first).
    path.write_bytes(bytes(data) + bytes(8))
    return path


def test_a_model_whose_signature_is_damaged_is_one_line(runtime, corrupt_model):
    line = one_error_line(run_cli("--model", str(corrupt_model), "--labels", str(LABELS), "--runtime", runtime,
                                  model=False))
    assert f"{corrupt_model} is corrupt: its signature cannot be read (UnicodeDecodeError" in line


CRASHING_RUNTIME = """
import ctypes, sys
sys.path.insert(0, sys.argv.pop(1))
import utils.model.runtime as runtime
found = runtime.load_runtime("auto")

class Interpreter(found.interpreter_class):
    def __init__(self, *args, **kwargs):
        ctypes.string_at(0)  # a segfault in native code, as a broken runtime build or model can give

runtime._import = lambda name: runtime.Runtime(found.name, found.version, Interpreter)
import classify
sys.exit(classify.main(sys.argv[1:]))
"""


def test_a_native_crash_while_loading_the_model_says_what_crashed_and_what_to_try():
    done = subprocess.run([sys.executable, "-c", CRASHING_RUNTIME, str(REPO), "--model", str(MODEL),
                           "--labels", str(LABELS), "--video", str(CARVING_ICE), "--display", "none"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == -signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in done.stderr and "in _load" in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("classify.py: error: the TFLite runtime (") and \
        f"crashed while loading {MODEL}; try another runtime (--runtime" in last, done.stderr


# --- 7: wrong or silent behaviour ------------------------------------------------------------------------


def test_a_label_file_with_a_byte_order_mark_works(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_bytes(b"\xef\xbb\xbf" + LABELS.read_bytes())  # as Windows Notepad saves it
    run = run_cli("--labels", str(labels), "--model", str(MODEL), "--video", str(CARVING_ICE), "--display", "none",
                  "--json", "--allow", "abseiling,carving ice", model=False)
    assert run.returncode == 0, run.stderr  # the first label is "abseiling", not "\ufeffabseiling"
    assert run.records[-1]["results"][0]["label"] == "carving ice"


@pytest.mark.parametrize("change, needle", [
    (lambda lines: [lines[1], *lines[1:]], "names 'acting in play' twice"),
    (lambda lines: [lines[0] + "\0", *lines[1:]], "contains NUL bytes"),
])
def test_a_label_file_with_repeated_or_nul_labels_is_refused(tmp_path, change, needle):
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(change(LABELS.read_text().splitlines())) + "\n")
    assert needle in one_error_line(run_cli("--labels", str(labels), "--model", str(MODEL), model=False))


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "/dev/urandom"])
def test_a_label_file_that_is_a_fifo_or_a_device_is_refused_at_once(tmp_path, kind):
    """Nothing is read from them: a FIFO would wait for a writer, a device never ends."""
    labels = tmp_path / "labels.fifo" if kind == "fifo" else Path(kind)
    if kind == "fifo":
        os.mkfifo(labels)
    line = one_error_line(run_cli("--labels", str(labels), "--model", str(MODEL), "--video", str(CARVING_ICE),
                                  "--display", "none", model=False, timeout=120))
    assert line == (f"classify.py: error: label file {labels} is a pipe or a device, not a file; give the .txt "
                    "file (one class name a line)")


def test_videos_that_are_not_files_say_what_they_are(tmp_path):
    fifo = tmp_path / "video.fifo"
    os.mkfifo(fifo)
    assert f"video {fifo} is a pipe or a device, not a file" in one_error_line(run_cli("--video", str(fifo)))
    assert f"video {tmp_path} is a folder" in one_error_line(run_cli("--video", str(tmp_path)))
    done = subprocess.run([sys.executable, str(REPO / "classify.py"), "--model", str(MODEL), "--labels", str(LABELS),
                           "--video", "/dev/stdin"], input="", capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "video /dev/stdin is a pipe or a device" in one_error_line(Run(done.returncode, done.stdout, done.stderr))


def test_a_text_file_is_not_a_video(tmp_path):
    text = tmp_path / "notes.txt"  # FFmpeg's "tty" demuxer would show it as rendered characters
    text.write_text("Shopping list\n" * 200)
    assert f"{text} is a text file, not a video" in one_error_line(run_cli("--video", str(text)))


def test_a_video_without_frames_is_an_error(tmp_path):
    empty = tmp_path / "empty.avi"
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48)).release()
    assert "has no frames" in last_error_line(run_cli("--video", str(empty), "--display", "none"))


def test_a_video_damaged_mid_file_says_so_and_ffmpeg_stays_quiet(tmp_path):
    data = bytearray(ARM_WRESTLING.read_bytes())
    third = len(data) // 3
    data[third: third + len(data) // 5] = bytes(len(data) // 5)  # a hole of zeros in the middle
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    run = run_cli("--video", str(damaged), "--display", "none", "--json")
    assert run.returncode == 0 and run.records, run.stderr  # what could be read was classified
    assert f"video {damaged} ended after " in run.stderr and "of its 280 frames: the file is damaged" in run.stderr
    assert not [line for line in run.stderr.splitlines() if line.startswith("[")], "FFmpeg's own lines leaked"


def test_a_wide_video_is_shown_without_enlarging_it_beyond_reason():
    from utils.sinks.overlay import MAX_ENLARGED_WIDTH, legible

    assert legible(np.zeros((8, 16384, 3), np.uint8)).shape == (8, 16384, 3)
    assert legible(np.zeros((8, 640, 3), np.uint8)).shape == (48, MAX_ENLARGED_WIDTH, 3)
    assert legible(np.zeros((172, 172, 3), np.uint8)).shape == (480, 480, 3)


# Bytes that are not UTF-8 (a file named in Latin-1, a script saved in another encoding) reach Python as lone
# surrogates, which OpenCV, MQTT, host names and the web view's password cannot encode.
NOT_UTF8 = os.fsdecode(b"caf\xe9")


@pytest.mark.parametrize(("args", "needle"), [
    (["--name", NOT_UTF8], "--name is not UTF-8 text: caf\\xe9; give it in UTF-8"),
    (["--mqtt", f"mqtt://{NOT_UTF8}"], "--mqtt is not UTF-8 text: mqtt://caf\\xe9"),
    (["--mqtt", f"mqtt://{NOT_UTF8}@127.0.0.1"], "--mqtt is not UTF-8 text"),
    (["--web", "--web-host", NOT_UTF8], "--web-host is not UTF-8 text"),
    (["--allow", NOT_UTF8], "--allow is not UTF-8 text"),
])
def test_text_that_is_not_utf8_is_one_line(args, needle):
    assert needle in one_error_line(run_cli("--video", str(CARVING_ICE), "--display", "none", *args))


def test_a_video_whose_file_name_is_not_utf8_is_one_line_not_a_crash(tmp_path):
    video = tmp_path / f"{NOT_UTF8}.mp4"
    shutil.copy(CARVING_ICE, video)
    line = one_error_line(run_cli("--video", str(video), "--display", "none"))
    assert line.endswith("caf\\xe9.mp4; rename the file") and "--video is not UTF-8 text" in line


def test_passwords_that_are_not_utf8_are_one_line_and_never_shown():
    secret = os.fsdecode(b"s3cr\xe9t")
    line = one_error_line(run_cli("--video", str(CARVING_ICE), "--display", "none", "--web",
                                  env={"WEB_PASSWORD": secret}))
    assert line == "classify.py: error: the web password is not UTF-8 text; set it in UTF-8"
    run = run_cli("--video", str(CARVING_ICE), "--display", "none", "--mqtt", "mqtt://127.0.0.1:9",
                  env={"MQTT_PASSWORD": secret})
    assert last_error_line(run) == "classify.py: error: MQTT_PASSWORD is not UTF-8 text"
    assert "s3cr" not in run.stderr


@pytest.mark.parametrize("video", ["", " "])
def test_an_empty_video_is_one_line(video):
    assert "--video must not be empty" in one_error_line(run_cli("--video", video, "--display", "none"))


@pytest.mark.parametrize("flag", ["--model", "--labels", "--config", "--events-dir"])
def test_a_url_where_a_local_path_belongs_is_one_line_at_parse_time(flag):
    line = one_error_line(run_cli(flag, "https://example.com/movinet_a0_stream_int8.tflite", model=False))
    assert f"argument {flag}" in line and "takes a local path, not a URL" in line


def test_a_privileged_web_port_without_root_says_so():
    if Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text().strip() != "1024":
        pytest.skip("this kernel lets every user bind ports below 1024")
    run = run_unprivileged("--model", str(MODEL), "--labels", str(LABELS), "--video", str(CARVING_ICE),
                           "--display", "none", "--web", "--web-port", "80")
    assert last_error_line(run) == ("classify.py: error: cannot start the web view on port 80: ports below 1024 need "
                                    "root; choose another with --web-port, e.g. 8080")


@pytest.mark.parametrize("args", [["--crop", "-0.1,0,1,1"], ["--name", "-cam"], ["--frameHeight", "-1e3"]])
def test_a_value_that_starts_with_a_dash_says_to_join_it_with_equals(args):
    line = one_error_line(run_cli(*args, model=False))
    assert "expected one argument; a value that starts with '-' goes after '='" in line


@pytest.mark.parametrize("args", [["--name"], ["--name", "--json"]])
def test_a_missing_value_is_not_mistaken_for_one_that_starts_with_a_dash(args):
    assert one_error_line(run_cli(*args, model=False)).endswith(": expected one argument (see --help)")


def test_a_still_image_is_not_a_video(tmp_path):
    photo = tmp_path / "photo.jpg"  # FFmpeg would read it as a video of one frame
    cv2.imwrite(str(photo), np.full((48, 64, 3), 128, np.uint8))
    assert f"{photo} is a still image, not a video" in one_error_line(run_cli("--video", str(photo)))


def test_a_video_cut_before_its_index_is_called_damaged_not_an_unknown_format(tmp_path):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(CARVING_ICE.read_bytes()[:len(CARVING_ICE.read_bytes()) // 2])  # its index is at the end
    line = one_error_line(run_cli("--video", str(cut)))
    assert f"cannot open video {cut}: it starts like a video file but is damaged or cut short" in line


def test_a_file_url_to_a_missing_file_says_not_found(tmp_path):
    missing = tmp_path / "none.mp4"
    assert f"video file not found: {missing}" in one_error_line(run_cli("--video", missing.as_uri()))


def test_another_python_than_the_venvs_is_one_line_that_names_the_venv():
    """`python3 classify.py` in a new SSH session, without `source .venv/bin/activate`: no numpy, no OpenCV."""
    if not (REPO / ".venv" / "bin" / "python").exists():
        skip_or_fail("no .venv; run ./setup.sh")
    for args in (("--video", str(CARVING_ICE), "--display", "none"), ("--version",)):
        done = subprocess.run([sys._base_executable, "-S", str(REPO / "classify.py"), *args], capture_output=True,
                              text=True, cwd=REPO, timeout=60)  # -S: none of the packages of that Python either
        line = one_error_line(Run(done.returncode, done.stdout, done.stderr))
        assert line.startswith("classify.py: error: No module named ") and line.endswith(
            "is not the project's Python; run .venv/bin/python classify.py, or 'source .venv/bin/activate' first")


def test_a_camera_number_given_to_video_names_camera_id():
    line = one_error_line(run_cli("--video", "0"))
    assert line == "classify.py: error: video file not found: 0; for camera 0, give --camera-id 0"



def test_a_relative_video_that_is_not_there_says_where_it_was_looked_for(tmp_path):
    """Run from another folder, a path from the project folder: where it was looked for, and where it is."""
    line = one_error_line(run_cli("--video", "tests/data/carving_ice.mp4", cwd=tmp_path))
    assert line == (f"classify.py: error: video file not found: tests/data/carving_ice.mp4 (looked for in {tmp_path}); "
                    f"it is in the project folder: give {CARVING_ICE}")
    line = one_error_line(run_cli("--video", "nosuch.mp4", cwd=tmp_path))
    assert line == f"classify.py: error: video file not found: nosuch.mp4 (looked for in {tmp_path})"
