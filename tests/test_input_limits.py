"""Input that is too big, never ends, blocks or lies, through the CLI: one line on stderr, exit 2, nothing read
beyond a bound and nothing already saved lost."""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import CARVING_ICE, LABELS, MODEL, REPO, Run, run_cli
from test_bad_input import last_error_line, run_shell
from test_cli import one_error_line
from test_teach_cli import fingerprint, teach

from utils.model.taught import ActionStore, read_action
from utils.model.taught.store import MAX_ACTION_BYTES, Examples


def error_line(run) -> str:
    """Exit 2 and one line on stderr, no traceback; stdout may hold what was good (--actions lists the rest)."""
    assert run.returncode == 2, (run.returncode, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("classify.py: error: "), lines
    return lines[0]


# --- the config file ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "/dev/urandom", "folder"])
def test_a_config_file_that_is_not_a_file_is_refused_without_reading_it(tmp_path, kind):
    config = {"fifo": tmp_path / "options.toml", "folder": tmp_path}.get(kind, Path(kind))
    if kind == "fifo":
        os.mkfifo(config)
    line = one_error_line(run_cli("--config", str(config), model=False, timeout=60))
    what = "a folder" if kind == "folder" else "a pipe or a device, not a file"
    assert line == f"classify.py: error: config file {config} is {what}; give a TOML file"


def test_a_config_file_larger_than_a_megabyte_is_refused(tmp_path):
    config = tmp_path / "options.toml"
    config.write_text("# a comment\n" * 100_000)  # 1.2 MB of valid TOML
    line = one_error_line(run_cli("--config", str(config), model=False))
    assert line == f"classify.py: error: config file {config} is larger than 1024 kB, too large for a config file"


# --- the taught actions' folder -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_action(tmp_path_factory) -> Path:
    """A folder with 'carving mine', taught from carving_ice's first 2.2 s."""
    folder = tmp_path_factory.mktemp("actions")
    done = teach(folder, "carving mine", CARVING_ICE, "--teach-to", "2.2")
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture
def folder(one_action, tmp_path) -> Path:
    return Path(shutil.copytree(one_action, tmp_path / "actions"))


def npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def write_bomb(path: Path, megabytes: int) -> None:
    """An action file whose feature means inflate to `megabytes` of zeros from a few hundred kB, written in
    chunks so the test itself never holds them."""
    rows = megabytes * (1 << 20) // (480 * 4)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("window_means.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False,
                                                          "shape": (rows, 480)})
            for _ in range(megabytes):
                member.write(bytes(1 << 20))
        archive.writestr("sessions.npy", npy_bytes(np.zeros(1, np.int32)))
        archive.writestr("meta.npy", npy_bytes(np.frombuffer(b"{}", np.uint8)))


def test_a_compressed_bomb_in_the_actions_folder_is_refused_from_its_headers(folder):
    megabytes = (MAX_ACTION_BYTES >> 20) + 16
    write_bomb(folder / "bomb.npz", megabytes)
    assert (folder / "bomb.npz").stat().st_size < 1 << 20
    before = fingerprint(folder)
    expected = (f"bomb.npz holds {megabytes} MB of arrays, more than a taught action can "
                f"({MAX_ACTION_BYTES >> 20} MB)")
    for args in (["--actions"], ["--video", str(CARVING_ICE), "--display", "none"]):
        line = error_line(run_cli(*args, "--actions-dir", str(folder)))
        assert expected in line, line
    assert fingerprint(folder) == before


def test_an_array_header_that_claims_more_than_the_archive_holds_is_refused(folder):
    with zipfile.ZipFile(folder / "liar.npz", "w") as archive:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                      "shape": (10**9, 480)})
        archive.writestr("window_means.npy", header.getvalue())
        archive.writestr("sessions.npy", npy_bytes(np.zeros(1, np.int32)))
        archive.writestr("meta.npy", npy_bytes(np.frombuffer(b"{}", np.uint8)))
    line = error_line(run_cli("--actions", "--actions-dir", str(folder)))
    assert "liar.npz is not a readable taught action (ValueError" in line


@pytest.mark.parametrize("tau", [float("nan"), float("inf"), 7.0])
def test_a_taught_action_whose_threshold_is_not_a_cosine_is_refused(folder, tau):
    """NaN compares false with every score: such an action would silently never be reported."""
    path = folder / "carving mine.npz"
    ActionStore(folder).write(dataclasses.replace(read_action(path), tau=tau))
    for args in (["--actions"], ["--video", str(CARVING_ICE), "--display", "none"]):
        line = error_line(run_cli(*args, "--actions-dir", str(folder)))
        assert "carving mine.npz is a damaged taught action (ValueError" in line


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_fifo_or_a_folder_named_like_an_action_is_refused_at_once(folder, kind):
    path = folder / "other.npz"
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    what = "a pipe or a device, not a file" if kind == "fifo" else "a folder"
    for args in (["--actions"], ["--video", str(CARVING_ICE), "--display", "none"]):
        line = error_line(run_cli(*args, "--actions-dir", str(folder), timeout=120))
        assert line.endswith(f"other.npz is {what}: move it out of the actions folder"), line


def test_a_taught_action_of_another_feature_size_is_refused_at_run_and_at_teach_time(folder):
    """Same model sha256, fewer features: a damaged or hand-made file, which no cosine can compare."""
    path = folder / "carving mine.npz"
    action = read_action(path)
    fewer = Examples(**{name: array if name == "probabilities" else array[:, :100].copy()
                        for name, array in action.examples.arrays().items()})
    ActionStore(folder).write(dataclasses.replace(action, examples=fewer))
    before = fingerprint(folder)
    expected = ("carving mine.npz holds examples of 100 features, but movinet_a0_stream_int8.tflite gives 480: "
                "the file is damaged")
    for args in (["--video", str(CARVING_ICE), "--display", "none"],
                 ["--teach", "carving mine", "--video", str(CARVING_ICE)]):
        assert expected in one_error_line(run_cli(*args, "--actions-dir", str(folder)))
    assert fingerprint(folder) == before


def test_an_actions_dir_that_is_a_file_is_one_line(tmp_path):
    not_a_folder = tmp_path / "actions"
    not_a_folder.write_text("my notes\n")
    for args in (["--actions"], ["--forget", "x"], ["--video", str(CARVING_ICE), "--display", "none"],
                 ["--teach", "x", "--video", str(CARVING_ICE)]):
        line = one_error_line(run_cli(*args, "--actions-dir", str(not_a_folder)))
        assert line == (f"classify.py: error: --actions-dir {not_a_folder} is a file, not a folder; give a folder "
                        "(it is made when missing)")
    assert not_a_folder.read_text() == "my notes\n"


# --- numbers in the config file -------------------------------------------------------------------------------


def test_whole_number_floats_in_the_config_file_are_whole_numbers(tmp_path):
    config = tmp_path / "options.toml"
    config.write_text("max-results = 2.0\nnum-threads = 1.0\n")
    run = run_cli("--config", str(config), "--video", str(CARVING_ICE), "--display", "none", "--json")
    assert run.returncode == 0, run.stderr
    assert len(run.records[-1]["results"]) == 2 and run.records[-1]["results"][0]["label"] == "carving ice"


@pytest.mark.parametrize("value", ["2.5", "inf", "-inf", "nan"])
def test_a_fraction_or_a_non_number_for_a_whole_number_option_is_one_line(tmp_path, value):
    config = tmp_path / "options.toml"
    config.write_text(f"max-results = {value}\n")
    line = one_error_line(run_cli("--config", str(config), model=False))
    assert line == (f"classify.py: error: config file {config}: max-results must be a whole number from 1 to 600, "
                    f"got {value}")


# --- MQTT options ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["missing", "folder", "not a certificate", "fifo"])
def test_a_bad_mqtt_ca_file_is_one_line(tmp_path, kind):
    ca = tmp_path if kind == "folder" else tmp_path / "ca.pem"
    if kind == "not a certificate":
        ca.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    elif kind == "fifo":
        os.mkfifo(ca)
    expected = {"missing": f"--mqtt-ca: file not found: {ca}",
                "folder": f"--mqtt-ca {ca} is a folder; give the CA certificate's .pem/.crt file",
                "not a certificate": f"--mqtt-ca {ca} is not a PEM certificate (",
                "fifo": f"--mqtt-ca {ca} is a pipe or a device, not a file"}[kind]
    # Nothing listens on port 1, and nothing is sent: the CA file is read before connecting.
    run = run_cli("--video", str(CARVING_ICE), "--display", "none", "--mqtt", "mqtts://127.0.0.1:1",
                  "--mqtt-ca", str(ca), timeout=120)
    assert expected in last_error_line(run)


# --- a stop signal at start-up ----------------------------------------------------------------------------------

SIGNAL_AT = """
import os, signal, sys, threading
sys.path.insert(0, sys.argv.pop(1))
moment = sys.argv.pop(1)

class SignalOnImport:
    # SIGTERM to this process when the module `moment` is first looked for: a stop in the middle of an import.
    def find_spec(self, name, path=None, target=None):
        if name == moment:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGTERM)
        return None

def signal_on_thread(frame, event, arg):
    # SIGTERM once, when the thread named `moment` starts: a stop while it works.
    if threading.current_thread().name == moment:
        threading.settrace(None)
        sys.settrace(None)  # (else this is called for every function the thread calls)
        os.kill(os.getpid(), signal.SIGTERM)
    return None

sys.meta_path.insert(0, SignalOnImport())
threading.settrace(signal_on_thread)
import classify
sys.exit(classify.main(sys.argv[1:]))
"""


def run_signalled_at(moment: str, *args: str) -> Run:
    """classify.py that sends itself SIGTERM at `moment`: a module's import or a thread's start."""
    done = subprocess.run([sys.executable, "-c", SIGNAL_AT, str(REPO), moment, "--model", str(MODEL), "--labels",
                           str(LABELS), *args], capture_output=True, text=True, cwd=REPO, timeout=120)
    return Run(done.returncode, done.stdout, done.stderr)


# numpy._core: what the compiled modules built for numpy 2 (OpenCV, the runtimes) import first; a stop raised
# there came out as "ImportError: numpy._core.multiarray failed to import" and exit 1.
@pytest.mark.parametrize("module", ["numpy._core", "numpy", "cv2", "utils.pipeline"])
def test_a_stop_while_the_modules_are_imported_ends_quietly(module):
    run = run_signalled_at(module, "--video", str(CARVING_ICE), "--display", "none", "--json")
    assert run.returncode == 0 and run.stdout == "" and run.stderr == "", run.stderr


def test_a_stop_while_the_video_opens_ends_quietly():
    """The stop waits for OpenCV's open: a thread that comes back from it while Python exits aborted the
    process ("terminate called without an active exception", SIGABRT)."""
    for _ in range(2):  # (before, most tries aborted)
        run = run_signalled_at("open-capture", "--video", str(CARVING_ICE), "--display", "none", "--json")
        assert run.returncode == 0 and run.stdout == "", run.stderr
        assert "Traceback" not in run.stderr and "terminate" not in run.stderr


# --- a stream that never answers ------------------------------------------------------------------------------


def test_a_stream_that_accepts_and_never_answers_is_tried_once_with_the_timeouts():
    """One connection: a second try without the timeouts kept a silent server waiting for 40 s, not 10."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        accepted: list[socket.socket] = []

        def accept() -> None:
            while True:
                try:
                    accepted.append(server.accept()[0])
                except OSError:  # the server closed
                    return

        threading.Thread(target=accept, daemon=True).start()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/live.mjpg"
        line = one_error_line(run_cli("--video", url, "--display", "none", timeout=120))
    for connection in accepted:
        connection.close()
    assert line == f"classify.py: error: cannot open stream {url}: check the URL and that the server is reachable"
    assert len(accepted) == 1


# --- MQTT strings and topics ------------------------------------------------------------------------------------


def test_an_mqtt_user_name_or_password_longer_than_mqtt_allows_is_one_line():
    """MQTT strings carry a two-byte length: paho's thread died in struct.pack beyond 65535 bytes."""
    user = "u" * 70_000
    line = one_error_line(run_cli("--mqtt", f"mqtt://{user}@127.0.0.1:1", model=False))
    assert line == "classify.py: error: --mqtt user name is 70000 bytes long; MQTT allows at most 65535"
    run = run_cli("--mqtt", "mqtt://me@127.0.0.1:1", "--video", str(CARVING_ICE), "--display", "none",
                  env={"MQTT_PASSWORD": "p" * 70_000})
    assert last_error_line(run) == "classify.py: error: MQTT_PASSWORD is 70000 bytes long; MQTT allows at most 65535"


@pytest.mark.parametrize("prefix", ["$SYS", "$share", "home/+", "#"])
def test_a_topic_prefix_the_broker_would_drop_is_one_line(prefix):
    line = one_error_line(run_cli("--mqtt", "mqtt://127.0.0.1:1", "--mqtt-prefix", prefix, model=False))
    assert line.startswith("classify.py: error: --mqtt-prefix must not ")


# --- empty values that meant something else ---------------------------------------------------------------------


@pytest.mark.parametrize("args, expected", [
    (["--events-dir", "", "--event", "any"], "argument --events-dir: must not be empty ('.' is the current folder)"),
    (["--actions-dir", ""], "argument --actions-dir: must not be empty"),
    (["--event", ""], "argument --event: must name at least one label (comma-separated exact names), got ''"),
    (["--allow", ""], "argument --allow: must name at least one label"),
    (["--allow", ",,,"], "argument --allow: must name at least one label (comma-separated exact names), got ',,,'"),
    (["--deny", " , "], "argument --deny: must name at least one label"),
    (["--mqtt-ca", "ca.pem"], "--mqtt-ca needs --mqtt: the mqtts:// broker it is the CA certificate of"),
])
def test_an_empty_value_or_an_option_without_its_partner_is_one_line(args, expected):
    line = one_error_line(run_cli(*args, model=False))
    assert expected in line, line


@pytest.mark.parametrize("text, expected", [
    ('events-dir = ""', "events-dir must not be empty ('.' is the current folder), got ''"),
    ('allow = ",,,"', "allow must name at least one label (comma-separated exact names), got ',,,'"),
    ('event = [""]', "event must name at least one label"),
])
def test_an_empty_value_in_the_config_file_is_one_line(tmp_path, text, expected):
    config = tmp_path / "options.toml"
    config.write_text(text + "\n")
    assert expected in one_error_line(run_cli("--config", str(config), model=False))


# --- stderr that cannot be written ------------------------------------------------------------------------------


def test_stderr_to_a_full_device_keeps_the_exit_code():
    """The status line and the interpreter's last flush failed: exit 120 after a good run, and after a bad one."""
    good = run_shell("2>/dev/full", "--model", str(MODEL), "--labels", str(LABELS), "--video", str(CARVING_ICE),
                     "--display", "none", "--json")
    assert good.returncode == 0 and len(good.records) == 22
    quiet = run_shell("2>/dev/full", "--model", str(MODEL), "--labels", str(LABELS), "--video", str(CARVING_ICE),
                      "--display", "none")
    assert quiet.returncode == 0
    bad = run_shell("2>/dev/full", "--model", "missing.tflite")
    assert bad.returncode == 2 and bad.stdout == ""


# --- a damaged model ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["movinet_a0_stream_int8.tflite", "my_model.tflite"])
def test_a_model_with_weights_changed_in_place_is_refused_under_any_name(tmp_path, name):
    """4 kB flipped in the middle: the structure is whole and every runtime loads it, with other scores."""
    data = bytearray(MODEL.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = bytes(b ^ 0xFF for b in data[middle:middle + 4096])
    model = tmp_path / name
    model.write_bytes(bytes(data))
    line = one_error_line(run_cli("--model", str(model), "--labels", str(LABELS), "--video", str(CARVING_ICE),
                                  "--display", "none", model=False))
    copy = "" if name == MODEL.name else f" (a copy of {MODEL.name}, by its size)"
    assert line == (f"classify.py: error: {model}{copy} is not the expected file (sha256 differs from the known "
                    "6125b36e2485...; truncated or corrupt?); run ./download_models.sh --force")


def test_an_action_is_never_saved_bigger_than_it_can_be_read_back(folder, monkeypatch):
    """Teaching more under one name stops before the write: the file as taught so far stays readable."""
    from utils.errors import ClassifierError
    from utils.model.taught import store

    path = folder / "carving mine.npz"
    before = fingerprint(folder)
    action = read_action(path)
    monkeypatch.setattr(store, "MAX_ACTION_BYTES", 1 << 10)  # as if 256 MB were already taught
    with pytest.raises(ClassifierError, match="more than a taught action can"):
        ActionStore(folder).write(action)
    assert fingerprint(folder) == before


def test_names_a_run_cannot_report_are_one_line_before_the_taught_actions_are_listed(one_action, tmp_path):
    def error(*flags: str) -> str:  # exactly one line: a bad name is found before the taught actions are listed
        events = ("--events-dir", str(tmp_path)) if "--event" in flags else ()
        return one_error_line(run_cli("--video", str(CARVING_ICE), "--display", "none", "--actions-dir",
                                      str(one_action), *events, *flags))

    assert "not in the label file: 'nosuch'" in error("--event", "nosuch")
    assert "'carving mine': taught, but --taught off leaves taught actions out" in error(
        "--event", "carving mine", "--taught", "off")
    for flag in ("--event", "--allow"):
        assert "--taught only reports taught actions only, so 'carving ice' would never be reported" in error(
            flag, "carving ice", "--taught", "only")
    # A source that cannot be opened: the same (the taught actions are listed once it is open).
    assert "video file not found: nosuch.mp4" in one_error_line(run_cli(
        "--video", "nosuch.mp4", "--display", "none", "--actions-dir", str(one_action)))
    done = run_cli("--video", str(CARVING_ICE), "--display", "none", "--actions-dir", str(one_action),
                   "--events-dir", str(tmp_path), "--event", "carving mine", "--taught", "only")
    assert done.returncode == 0, done.stderr
