"""--config FILE: TOML values applied under the flags' names, flags winning, bad keys and values one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CARVING_ICE, run_cli
from test_cli import one_error_line

from utils.config import Config
from utils.config_file import read_config_file
from utils.errors import ClassifierError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "classify.toml"
    path.write_text(text)
    return path


def test_every_kind_of_value_is_read_as_the_flag_would_be(tmp_path):
    path = write(tmp_path, '''
max-results = 2
score_threshold = 0.1          # underscores work too
window = 3                     # the flag's name, not the field's (window_seconds)
fixed-window = true
display = "none"
json = true
allow = "carving ice,chiseling stone"
event = ["carving ice", "chiseling stone"]
gpio = ["carving ice=17"]
events-dir = "events-here"     # relative to the config file's folder
model = "/abs/model.tflite"
webhook = "http://127.0.0.1:9/hook"
verbose = true
''')
    options = read_config_file(path, ["verbose"])
    assert options == {
        "max_results": 2, "score_threshold": 0.1, "window_seconds": 3, "fixed_window": True, "display": "none",
        "json": True,
        "allow": ("carving ice", "chiseling stone"), "event": ("carving ice", "chiseling stone"),
        "gpio": (("carving ice", 17),), "events_dir": tmp_path / "events-here", "model": Path("/abs/model.tflite"),
        "webhook": "http://127.0.0.1:9/hook", "verbose": True}
    options.pop("verbose")
    config = Config.from_options(**options)
    assert config.events.gpio == (("carving ice", 17),) and config.classifier.window_seconds == 3
    assert config.classifier.fixed_window


@pytest.mark.parametrize("text, message", [
    ("evnt = ['x']", "unknown key 'evnt', did you mean 'event'?"),
    ("config = 'other.toml'", "unknown key 'config'"),
    ("max-results = 0", "max-results must be a whole number from 1 to 600, got 0"),
    ("max-results = 2.5", "max-results must be a whole number from 1 to 600, got 2.5"),
    ("event-threshold = '0.5'", "event-threshold must be a number from 0 to 1, got '0.5'"),
    ("json = 'yes'", "json must be true or false, got 'yes'"),
    ("display = 'hologram'", "display must be one of auto, window, drm, web, none, got 'hologram'"),
    ("gpio = ['waving hand']", "gpio 'waving hand' is not LABEL=PIN"),
    ("event = [1, 2]", "event must be a string or a list of strings"),
    ("model = 3", "model must be a string, got 3"),
    ("mqtt-live-image = 0.5", "mqtt-live-image must be a number from 1 to 3600, got 0.5"),
    ("web-embed-from = 'http://ha/x'", "web-embed-from 'http://ha/x' is not an origin"),
    ("[events]\nrecord = true", "unknown key 'events'"),
    ("max-results = ", "is not valid TOML"),
])
def test_bad_keys_and_values_name_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ClassifierError, match="config file .*classify.toml") as error:
        read_config_file(path)
    assert message in str(error.value)


def test_a_video_file_is_relative_to_the_config_file_a_url_is_kept(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "my clip.mp4").write_bytes(CARVING_ICE.read_bytes())
    path = write(tmp_path, 'video = "clips/my clip.mp4"\ndisplay = "none"\njson = true\n')
    done = run_cli("--config", str(path), cwd=CARVING_ICE.parent)  # run from another folder, as the service is
    assert done.returncode == 0, done.stderr
    assert done.records[-1]["results"][0]["label"] == "carving ice"
    assert read_config_file(write(tmp_path, 'video = "~/x.mp4"'))["video"] == str(Path.home() / "x.mp4")
    url = "rtsp://camera.local/stream"
    assert read_config_file(write(tmp_path, f'video = "{url}"'))["video"] == url


def test_a_file_saved_on_windows_with_a_byte_order_mark_and_crlf_line_ends_is_read(tmp_path):
    """Notepad and other Windows editors may start a UTF-8 file with a byte order mark and end lines with CRLF."""
    path = tmp_path / "classify.toml"
    path.write_bytes(b"\xef\xbb\xbf# edited on a PC\r\n" + f'video = "{CARVING_ICE.as_posix()}"\r\n'.encode()
                     + b'display = "none"\r\njson = true\r\n')
    done = run_cli("--config", str(path))
    assert done.returncode == 0, done.stderr
    assert done.records[-1]["results"][0]["label"] == "carving ice"


def test_the_mqtt_password_can_live_in_the_config_file_but_not_on_the_command_line(tmp_path):
    """`ps` shows flags; a service's config file is where the password goes (or MQTT_PASSWORD)."""
    options = read_config_file(write(tmp_path, 'mqtt = "mqtt://pi@broker"\nmqtt-password = "secret"\n'))
    assert Config.from_options(**options).mqtt.mqtt_password == "secret"
    assert "--mqtt-password" not in run_cli("--help", model=False).stdout


def test_values_apply_and_command_line_flags_win(tmp_path):
    path = write(tmp_path, f'video = "{CARVING_ICE}"\ndisplay = "none"\njson = true\nmax-results = 2\n'
                           'deny = ["carving ice"]\n')
    from_file = run_cli("--config", str(path))
    assert from_file.returncode == 0, from_file.stderr
    assert all(len(r["results"]) == 2 for r in from_file.records)
    assert all(r["label"] != "carving ice" for rec in from_file.records for r in rec["results"])
    overridden = run_cli("--config", str(path), "--max-results", "1", "--deny", "chiseling stone")
    assert overridden.returncode == 0, overridden.stderr
    records = overridden.records
    assert all(len(r["results"]) == 1 for r in records)
    assert records[-1]["results"][0]["label"] == "carving ice"  # --deny replaced the file's list, not added to it


@pytest.mark.parametrize("text, message", [
    ("max-results = 0", "max-results must be a whole number from 1 to 600"),
    ("no-such-option = 1", "unknown key 'no-such-option'"),
    ("record = true", "--record needs --event"),
])
def test_a_bad_config_file_is_one_line_through_the_cli(tmp_path, text, message):
    line = one_error_line(run_cli("--config", str(write(tmp_path, text)), "--video", str(CARVING_ICE)))
    assert message in line


def test_a_missing_config_file_is_one_line(tmp_path):
    line = one_error_line(run_cli("--config", str(tmp_path / "nope.toml")))
    assert "config file not found" in line


def test_a_value_refused_by_the_later_checks_names_the_file_it_came_from(tmp_path):
    config = write(tmp_path, 'motion-mask = ["a"]\nname = "kitchen"\n')
    line = one_error_line(run_cli("--config", str(config), "--video", str(CARVING_ICE)))
    assert line.startswith("classify.py: error: --motion-mask takes x,y,w,h") and \
        line.endswith(f"(set by motion-mask in {config})"), line
    typed = one_error_line(run_cli("--config", str(config), "--video", str(CARVING_ICE), "--name", ""))
    assert "--name must not be empty" in typed and "set by" not in typed  # typed on the command line, not the file
