"""Teaching your own actions through classify.py, with the real model and clips: teach, list, re-teach, forget,
find a taught action, refuse another model's files and every bad input with one line and nothing lost."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import struct
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, CLEANING_POOL, LABELS, MODEL, REPO, WALKING_THE_DOG, run_cli
from test_bad_input import run_unprivileged
from test_events import tmpfs

from utils.model.taught import ActionStore, ModelIdentity, read_action
from utils.sources import sampled_frames


def teach(folder: Path, name: str, clip: Path, *part: str):
    return run_cli("--teach", name, "--video", str(clip), *part, "--actions-dir", str(folder))


def listed(folder: Path) -> list[dict]:
    done = run_cli("--actions", "--json", "--actions-dir", str(folder))
    assert done.returncode == 0, done.stderr
    return done.records


def classified(folder: Path, clip: Path, *flags: str) -> list[dict]:
    done = run_cli("--video", str(clip), "--display", "none", "--json", "--actions-dir", str(folder), *flags)
    assert done.returncode == 0, done.stderr
    return done.records


def one_error_line(done, *words: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("classify.py: error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in errors[0], errors[0]


@pytest.fixture(scope="module")
def taught(tmp_path_factory) -> Path:
    """'arm wrestling, mine' from the first half of arm_wrestling.mp4 (10 s), and 'carving, mine' from carving_ice's
    first 2.2 s (the one-shot case)."""
    folder = tmp_path_factory.mktemp("actions")
    for name, clip, end in (("arm wrestling, mine", ARM_WRESTLING, "5"), ("carving, mine", CARVING_ICE, "2.2")):
        done = teach(folder, name, clip, "--teach-to", end)
        assert done.returncode == 0, done.stderr
        assert "some flags cannot name it: --allow, --deny and --event split their lists at" in done.stderr
    return folder


@pytest.fixture
def folder(taught, tmp_path) -> Path:
    """A copy of the taught folder that a test may spoil."""
    return Path(shutil.copytree(taught, tmp_path / "actions"))


def fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_teach_list_teach_again_and_forget(tmp_path):
    folder = tmp_path / "actions"
    done = teach(folder, "ice", CARVING_ICE, "--teach-to", "2.2")
    assert done.returncode == 0, done.stderr
    # 11 frames at 5 fps from 0 to 2.0 s; the windows of the first four hold under a second.
    assert "taught 'ice': 7 examples from 0.0-2.2 s" in done.stdout
    assert [(r["name"], r["examples"], r["seconds"], r["sessions"], r["this_model"]) for r in listed(folder)] == [
        ("ice", 7, 2.2, 1, True)]
    again = teach(folder, "ice", CARVING_ICE, "--teach-from", "2", "--teach-seconds", "2")
    assert again.returncode == 0, again.stderr
    assert "6 examples from 2.0-4.0 s" in again.stdout and "13 examples, 2 sessions, 4.2 s in all" in again.stdout
    table = run_cli("--actions", "--actions-dir", str(folder)).stdout.splitlines()
    assert table[0].split() == ["name", "examples", "seconds", "sessions", "background", "last", "taught", "(UTC)",
                                "model"]
    cells = table[1].split()
    assert cells[:5] == ["ice", "13", "4.2", "2", "none"] and cells[-1] == MODEL.name
    assert [(s["source"], s["seconds"]) for s in listed(folder)[0]["history"]] == [
        ("carving_ice.mp4 0.0-2.2 s", 2.2), ("carving_ice.mp4 2.0-4.0 s", 2.0)]
    # A mistake undone: the last session only, then (its only one) the action.
    undone = run_cli("--forget", "ice", "--last", "--actions-dir", str(folder))
    assert undone.returncode == 0 and "undid the last session of 'ice': 7 examples, 1 session" in undone.stdout
    assert [(r["examples"], r["sessions"]) for r in listed(folder)] == [(7, 1)]
    undone = run_cli("--forget", "ice", "--last", "--actions-dir", str(folder))
    assert undone.returncode == 0 and "its only session was undone" in undone.stdout and not list(folder.iterdir())
    teach(folder, "ice", CARVING_ICE, "--teach-to", "2.2")
    gone = run_cli("--forget", "ice", "--actions-dir", str(folder))
    assert gone.returncode == 0 and "forgot 'ice'" in gone.stdout and not list(folder.iterdir())
    assert "no taught actions" in run_cli("--actions", "--actions-dir", str(folder)).stdout
    one_error_line(run_cli("--forget", "ice", "--actions-dir", str(folder)), "no taught action 'ice'")


def test_the_saved_file_holds_the_model_and_plain_arrays(taught):
    path = taught / "carving, mine.npz"
    with np.load(path, allow_pickle=False) as arrays:
        assert arrays["window_means"].shape == arrays["recent_means"].shape == arrays["changes"].shape == (7, 480)
        assert arrays["probabilities"].shape == (7, 600) and arrays["changes"].dtype == np.float32
    action = read_action(path)
    assert action.model == ModelIdentity.of(MODEL)
    assert action.sessions[0].window_frames == 60 and action.sessions[0].fps == 5.0
    assert action.sessions[0].source == "carving_ice.mp4 0.0-2.2 s"


def test_a_taught_action_is_found_on_the_second_half_of_its_clip(taught):
    records = classified(taught, ARM_WRESTLING, "--taught", "only")
    second_half = [r for r in records if r["timestamp"] >= 5.0 + 2.0]  # 2 s into the half it was not taught from
    assert len(second_half) >= 14
    # Found on most frames, never called anything else: its last seconds move unlike the half it was taught from
    # (the recent features drift to a cosine of 0.3), and the head then says none rather than guess.
    tops = [r["results"][0]["label"] if r["results"] else None for r in second_half]
    assert tops.count("arm wrestling, mine") >= 0.7 * len(tops) and set(tops) <= {"arm wrestling, mine", None}, tops
    # Beside the model's labels (the default), as one more result.
    beside = [r["results"] for r in classified(taught, ARM_WRESTLING) if r["timestamp"] >= 7.0]
    both = [results for results in beside if {"arm wrestling", "arm wrestling, mine"} <= {r["label"] for r in results}]
    assert len(both) >= 0.7 * len(beside)
    assert all(0.0 < r["score"] <= 1.0 for results in beside for r in results)


def test_taught_only_reports_nothing_on_untaught_actions(taught):
    for clip in (CLEANING_POOL, WALKING_THE_DOG):
        records = classified(taught, clip, "--taught", "only")
        assert records and all(r["results"] == [] for r in records), [r for r in records if r["results"]]


def test_a_taught_action_can_be_an_event(tmp_path):
    folder = tmp_path / "actions"
    taught = teach(folder, "my carving", CARVING_ICE, "--teach-to", "2.2")
    assert taught.returncode == 0 and "Warning" not in taught.stderr, taught.stderr
    done = run_cli("--video", str(CARVING_ICE), "--display", "none", "--taught", "only", "--actions-dir", str(folder),
                   "--event", "my carving", "--events-dir", str(tmp_path / "events"))
    assert done.returncode == 0, done.stderr
    journal = [json.loads(line) for line in (tmp_path / "events" / "events.jsonl").read_text().splitlines()]
    assert [(e["type"], e["label"]) for e in journal] == [("start", "my carving"), ("end", "my carving")]


def test_a_name_with_a_comma_is_taught_with_a_warning(taught):
    # The fixture's names have commas: fine as names, but --allow, --deny and --event split their lists there.
    assert {r["name"] for r in listed(taught)} == {"arm wrestling, mine", "carving, mine"}


def test_taught_off_ignores_them(taught):
    assert "carving, mine" not in json.dumps(classified(taught, CARVING_ICE, "--taught", "off"))


def test_another_models_action_is_refused(folder):
    a2 = ModelIdentity("b" * 64, "movinet_a2_stream_int8.tflite")
    ActionStore(folder).write(dataclasses.replace(read_action(folder / "carving, mine.npz"), name="wave", model=a2))
    before = fingerprint(folder)
    one_error_line(teach(folder, "wave", CARVING_ICE), "taught with another model, movinet_a2_stream_int8.tflite")
    assert fingerprint(folder) == before
    # Classifying leaves it out with a warning; the actions of this model still count.
    done = run_cli("--video", str(CARVING_ICE), "--display", "none", "--json", "--actions-dir", str(folder))
    assert done.returncode == 0 and "taught actions of another model are left out: 'wave'" in done.stderr
    assert any(r["label"] == "carving, mine" for record in done.records for r in record["results"])
    only_other = folder.parent / "only_other"
    only_other.mkdir()
    shutil.copy(folder / "wave.npz", only_other)
    one_error_line(run_cli("--video", str(CARVING_ICE), "--display", "none", "--taught", "only", "--actions-dir",
                           str(only_other)), "no taught actions for movinet_a0_stream_int8.tflite")


def test_a_still_picture_of_a_taught_action_is_not_reported(taught, tmp_path):
    """Nobody moving: a frame from the middle of the taught half, frozen for 10 s."""
    middle = next(frame.image for frame in sampled_frames(ARM_WRESTLING, 0) if frame.timestamp >= 2.5)
    path = tmp_path / "still.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, middle.shape[1::-1])
    for _ in range(250):
        writer.write(middle)
    writer.release()
    records = classified(taught, path, "--taught", "only")
    assert len(records) >= 45
    still = [r for r in records if r["timestamp"] >= 3.0]  # once the stream's buffers hold only the still frame
    assert all(r["results"] == [] for r in still), [r for r in still if r["results"]]


def short_clip(path: Path) -> Path:
    """0.6 s of carving ice: less than the second a taught window needs."""
    frames = [frame.image for frame in sampled_frames(CARVING_ICE, 0)][:18]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30, frames[0].shape[1::-1])
    for image in frames:
        writer.write(image)
    writer.release()
    return path


def spoil_with_junk(folder: Path) -> None:
    (folder / "junk.npz").write_bytes(b"not a zip file")


def spoil_with_foreign_arrays(folder: Path) -> None:
    np.savez(folder / "weights.npz", w=np.zeros(3))


def spoil_with_pickle(folder: Path) -> None:
    np.savez(folder / "evil.npz", window_means=np.array([{"x": 1}], dtype=object), probabilities=np.zeros(1),
             recent_means=np.zeros(1), changes=np.zeros(1), sessions=np.zeros(1), meta=np.zeros(1))


def spoil_by_truncating(folder: Path) -> None:
    path = folder / "carving, mine.npz"
    path.write_bytes(path.read_bytes()[:300])


@pytest.mark.parametrize(("args", "words"), [
    (("--teach", "x", "--video", "missing.mp4"), ("video file not found: missing.mp4",)),
    (("--teach", "x", "--video", str(CARVING_ICE), "--teach-from", "30"), ("--teach-from 30 s is beyond the end",)),
    (("--teach", "x", "--video", str(CARVING_ICE), "--teach-to", "30"), ("--teach-to 30 s is beyond the end",)),
    (("--teach", "x", "--video", str(CARVING_ICE), "--teach-from", "2", "--teach-seconds", "5"),
     ("--teach-from 2 s + --teach-seconds 5 s is beyond the end", "last frame is at 4.")),
    (("--teach", "x", "--video", "SHORT"), ("only 0.6 s of video", "at least 1 s")),
    (("--teach", "x", "--video", str(CARVING_ICE), "--teach-from", "4"), ("only 0.4 s of video",)),
    (("--teach", "", "--video", str(CARVING_ICE)), ("an action name cannot be empty",)),
    (("--teach", "  ", "--video", str(CARVING_ICE)), ("an action name cannot be empty",)),
    (("--teach", "dogs/cats", "--video", str(CARVING_ICE)), ("cannot contain '/'",)),
    (("--teach", "dog\non sofa", "--video", str(CARVING_ICE)), ("cannot contain a tab or a line break",)),
    (("--teach", "carving ice", "--video", str(CARVING_ICE)), ("already one of the model's labels",)),
    (("--teach", "any", "--video", str(CARVING_ICE)), ("'any' is kept for --event any",)),
    (("--teach-from", "2"), ("--teach-from needs --teach NAME",)),
    (("--teach-countdown", "5"), ("--teach-countdown needs --teach NAME",)),
    (("--teach", "x", "--video", str(CARVING_ICE), "--teach-countdown", "5"), ("--teach-countdown is for a camera",)),
    (("--teach", "x", "--camera-id", "0", "--teach-from", "2"), ("choose a part of a --video file",)),
    (("--teach", "x", "--teach-from", "3", "--teach-to", "2"), ("must come after --teach-from",)),
    (("--teach", "x", "--teach-seconds", "0.5"), ("--teach-seconds", "from 1 to 600")),
    (("--teach", "x", "--taught", "sometimes"), ("--taught",)),
    (("--last",), ("--last goes with --forget NAME",)),
    (("--forget", "Carving, Mine"), ("no taught action 'Carving, Mine'", "did you mean 'carving, mine'")),
    (("--config", "TEACH_CONFIG"), ("teach: teaching is done once, from the command line",)),
    # The one-shot commands run no live pipeline: a run's option with them would do nothing.
    (("--teach", "x", "--video", str(CARVING_ICE), "--event", "x", "--web"),
     ("--web, --event do nothing with --teach from a file: it records and exits; run them without --teach",)),
    (("--teach-background", "carving, mine", "--video", str(CARVING_ICE), "--record", "--event", "any"),
     ("--event, --record do nothing with --teach-background from a file", "without --teach-background")),
    (("--actions", "--mqtt", "mqtt://localhost", "--json"),
     ("--mqtt does nothing with --actions: it lists the taught actions and exits; run it without --actions",)),
    (("--forget", "carving, mine", "--allow", "carving ice", "--display", "none", "--smoothing", "0.5"),
     ("--allow, --display, --smoothing do nothing with --forget: it removes the action and exits",)),
])
def test_bad_input_is_one_line_and_loses_nothing(folder, tmp_path, args, words):
    before = fingerprint(folder)
    args = tuple(str(short_clip(tmp_path / "short.avi")) if a == "SHORT" else a for a in args)
    if "TEACH_CONFIG" in args:  # a service's config file must not teach at every start
        (tmp_path / "service.toml").write_text('teach = "wave"\nvideo = "clip.mp4"\n')
        args = tuple(str(tmp_path / "service.toml") if a == "TEACH_CONFIG" else a for a in args)
    done = run_cli(*args, "--actions-dir", str(folder))
    if "--taught" in args or "--teach-seconds" in args:  # refused by the flag parser: its own one line
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and all(w in done.stderr for w in words)
    else:
        one_error_line(done, *words)
    assert fingerprint(folder) == before


def test_a_config_files_run_options_do_not_stop_the_one_shot_commands(folder, tmp_path):
    """A service's config file holds a run's options: --actions, --forget and teaching from a file still work
    with it (only the command line's own options are refused)."""
    config = tmp_path / "service.toml"
    config.write_text('event = ["carving ice"]\nrecord = true\ndisplay = "none"\nsmoothing = 0.5\n'
                      f'actions-dir = "{folder}"\n')
    assert [r["name"] for r in run_cli("--config", str(config), "--actions", "--json").records] == [
        "arm wrestling, mine", "carving, mine"]
    assert run_cli("--config", str(config), "--teach", "ice", "--video", str(CARVING_ICE), "--teach-to", "2"
                   ).returncode == 0
    assert run_cli("--config", str(config), "--forget", "ice").returncode == 0
    one_error_line(run_cli("--config", str(config), "--actions", "--web"), "--web does nothing with --actions")


@pytest.mark.parametrize(("spoil", "words"), [
    (spoil_with_junk, ("junk.npz is not a readable taught action",)),
    (spoil_with_foreign_arrays, ("weights.npz is not a taught action",)),
    (spoil_with_pickle, ("evil.npz is not a readable taught action",)),
    (spoil_by_truncating, ("carving, mine.npz is not a readable taught action",)),
])
def test_a_corrupt_or_foreign_file_in_the_folder_is_one_line(folder, spoil, words):
    spoil(folder)
    before = fingerprint(folder)
    one_error_line(run_cli("--video", str(CARVING_ICE), "--display", "none", "--actions-dir", str(folder)), *words)
    listing = run_cli("--actions", "--actions-dir", str(folder))
    one_error_line(listing, *words)
    assert "arm wrestling, mine" in listing.stdout  # the good ones are still listed
    assert fingerprint(folder) == before
    # Teaching another action is not held up by it, and --taught off ignores the folder.
    assert teach(folder, "pool", CLEANING_POOL, "--teach-to", "2").returncode == 0
    assert run_cli("--video", str(CARVING_ICE), "--display", "none", "--taught", "off", "--actions-dir",
                   str(folder)).returncode == 0


def spoil_compressed(folder: Path) -> None:
    """An action saved compressed (np.savez_compressed), then damaged at the start of an array's deflate stream."""
    path = folder / "carving, mine.npz"
    with np.load(path) as arrays:
        np.savez_compressed(path, **arrays)
    with zipfile.ZipFile(path) as archive:
        offset = archive.infolist()[0].header_offset
    data = bytearray(path.read_bytes())
    name_size, extra_size = struct.unpack("<HH", data[offset + 26:offset + 30])  # the local header's
    data[offset + 30 + name_size + extra_size] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_damaged_compressed_action_is_one_line(folder):
    spoil_compressed(folder)
    one_error_line(run_cli("--actions", "--actions-dir", str(folder)), "carving, mine.npz is not a readable")


def unprivileged(*args: str):
    return run_unprivileged("--model", str(MODEL), "--labels", str(LABELS), *args)


def test_an_actions_folder_this_user_cannot_read_is_one_line_not_an_empty_one(folder):
    before = fingerprint(folder)
    folder.chmod(0)
    try:
        for args in (("--actions",), ("--forget", "carving, mine"), ("--video", str(CARVING_ICE), "--display", "none"),
                     ("--teach", "x", "--video", str(CARVING_ICE))):
            one_error_line(unprivileged(*args, "--actions-dir", str(folder)),
                                  f"cannot read --actions-dir {folder}: Permission denied")
    finally:
        folder.chmod(0o755)
    assert fingerprint(folder) == before


def test_an_action_file_this_user_cannot_read_or_remove_is_not_called_damaged(folder):
    before = fingerprint(folder)
    path = folder / "carving, mine.npz"
    path.chmod(0)
    try:
        for args in (("--actions",), ("--video", str(CARVING_ICE), "--display", "none")):
            done = unprivileged(*args, "--actions-dir", str(folder))
            one_error_line(done, f"cannot read {path}: Permission denied")
            assert "damaged" not in done.stderr and "--forget" not in done.stderr
    finally:
        path.chmod(0o644)
    folder.chmod(0o555)  # read-only: --forget cannot remove, --forget --last cannot save
    try:
        one_error_line(unprivileged("--forget", "carving, mine", "--actions-dir", str(folder)),
                       f"cannot remove {path}: Permission denied")
        one_error_line(unprivileged("--forget", "arm wrestling, mine", "--last", "--actions-dir", str(folder)),
                       "Permission denied")
    finally:
        folder.chmod(0o755)
    assert fingerprint(folder) == before


def test_forget_removes_a_dangling_link(folder):
    (folder / "gone.npz").symlink_to(folder / "nowhere.npz")
    done = run_cli("--forget", "gone", "--actions-dir", str(folder))
    assert done.returncode == 0 and "forgot 'gone'" in done.stdout, done.stderr
    assert not (folder / "gone.npz").is_symlink()


def test_a_name_that_starts_with_a_dot_is_listed_and_reported(tmp_path):
    """A hidden file is an unfinished write: the action's file must not be one, or it is taught and never seen."""
    done = teach(tmp_path, ".ice", CARVING_ICE, "--teach-to", "2.2")
    assert done.returncode == 0, done.stderr
    assert [r["name"] for r in listed(tmp_path)] == [".ice"]
    assert [p.name for p in tmp_path.iterdir()] == ["%2Eice.npz"]
    records = classified(tmp_path, CARVING_ICE, "--taught", "only")
    assert any(r["results"] and r["results"][0]["label"] == ".ice" for r in records)


def test_a_full_disk_is_one_line_and_keeps_the_action(tmp_path):
    """Room for one session of arm wrestling (about 170 kB), not for the file with two beside it."""
    with tmpfs(tmp_path / "disk", "400k") as folder:
        assert teach(folder, "arms", ARM_WRESTLING, "--teach-to", "5").returncode == 0
        before = fingerprint(folder)
        done = teach(folder, "arms", ARM_WRESTLING, "--teach-to", "5")
        one_error_line(done, "cannot save the taught action", "No space left on device")
        assert len(done.stderr.splitlines()) == 1, done.stderr  # nothing after it (np.savez's open archive was)
        assert fingerprint(folder) == before  # the action as it was, and no temporary file left
        assert [r["sessions"] for r in listed(folder)] == [1]


def test_a_folder_that_cannot_be_written_is_refused_before_the_video_is_read(tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    (tmp_path / "clip.mp4").write_bytes(b"not a video")  # would be its own error if it were read first
    one_error_line(teach(tmp_path / "file" / "actions", "x", tmp_path / "clip.mp4"),
                   "cannot save the taught action in", "file/actions: Not a directory")



def test_the_default_folder_is_named_so_that_it_can_be_found_from_another_folder(tmp_path):
    # Run from elsewhere, the project's actions/ is not ./actions: the folder is named in full.
    done = run_cli("--actions", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(f"in {REPO / 'actions'})") or \
        done.stdout.startswith(f"no taught actions in {REPO / 'actions'};"), done.stdout
    inside = run_cli("--actions")  # from the project folder, as the README runs it: short
    assert " in actions" in inside.stdout and str(REPO) not in inside.stdout, inside.stdout


def test_teach_and_forget_with_json_print_one_json_object(tmp_path):
    def command(*flags: str) -> dict:
        done = run_cli(*flags, "--actions-dir", str(tmp_path), "--json")
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.splitlines()) == 1, done.stdout
        return json.loads(done.stdout)

    taught = command("--teach", "my carving", "--video", str(CARVING_ICE), "--teach-from", "0.5", "--teach-to", "2.5")
    assert taught["action"] == "my carving" and not taught["background"] and taught["examples"] > 0
    assert (taught["from"], taught["to"]) == (0.5, 2.5) and taught["message"].startswith("taught 'my carving'")
    assert any("--teach-background" in hint for hint in taught["hints"])
    command("--teach", "my carving", "--video", str(CARVING_ICE), "--teach-to", "2.2")
    undone = command("--forget", "my carving", "--last")
    assert (undone["forgot"], undone["removed"]) == ("last session", False)
    gone = command("--forget", "my carving")
    assert (gone["forgot"], gone["removed"]) == ("action", True) and not (tmp_path / "my carving.npz").exists()


def test_teaching_from_a_file_sees_the_crop_a_run_sees(tmp_path):
    """--crop is the part of the picture the model is shown: a file teaches from that part, as the camera does
    and as the run that reports the action will."""
    left, whole = tmp_path / "left", tmp_path / "whole"
    for folder, crop in ((left, ("--crop", "0,0,0.5,1")), (whole, ())):
        done = teach(folder, "my wrestling", ARM_WRESTLING, "--teach-to", "5", *crop)
        assert done.returncode == 0, done.stderr
    with np.load(left / "my wrestling.npz") as cropped, np.load(whole / "my wrestling.npz") as plain:
        assert cropped["window_means"].shape == plain["window_means"].shape
        assert not np.allclose(cropped["window_means"], plain["window_means"], atol=0.05)
    later = [r for r in classified(left, ARM_WRESTLING, "--taught", "only", "--crop", "0,0,0.5,1")
             if r["timestamp"] >= 2.0]
    tops = [r["results"][0]["label"] if r["results"] else None for r in later]
    assert tops.count("my wrestling") >= 0.7 * len(tops), tops
