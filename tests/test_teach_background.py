"""A taught action's background (--teach-background NAME), with the real model and the Charades clip of the
changes/ set: recorded from a file part as --teach records one, stored in the action's file and listed, undone
with --forget NAME --last, and what it changes: the seconds after sipping, reported as sipping without it, are
less so with it, while the sipping itself is still found. Bad input: one line, exit 2, nothing lost."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, media, run_cli
from test_teach_cli import fingerprint, listed, one_error_line, teach
from test_teach_live import ListSink, live_run, notices

from utils.model.taught import ActionStore, Observation, TaughtHead, read_action
from utils.model.taught.store import BACKGROUND_ARRAYS
from utils.sinks import Command
from utils.sources import OpenCVSource

SIPPING = ("2.75", "7.75")  # changes/SEGMENTS.tsv: sipping cup
AFTER = ("7.75", "9.5")  # other: sitting down in front of the camera, right after it


def clip() -> Path:
    return media() / "changes" / "walk_sip_sit_charades_univtg.mp4"


def background(folder: Path, name: str, video: Path, start: str, end: str):
    return run_cli("--teach-background", name, "--video", str(video), "--teach-from", start, "--teach-to", end,
                   "--actions-dir", str(folder))


def sipping_reported(folder: Path) -> tuple[int, int, int, int]:
    """Frames in the seconds after sipping, and of them reported as sipping; frames of sipping, and found."""
    done = run_cli("--video", str(clip()), "--display", "none", "--json", "--taught", "only", "--actions-dir",
                   str(folder))
    assert done.returncode == 0, done.stderr
    after = own = after_found = own_found = 0
    for record in done.records:
        found = any(r["label"] == "sipping" for r in record["results"])
        if float(AFTER[0]) <= record["timestamp"] < float(AFTER[1]):
            after, after_found = after + 1, after_found + found
        elif float(SIPPING[0]) <= record["timestamp"] < float(SIPPING[1]):
            own, own_found = own + 1, own_found + found
    return after, after_found, own, own_found


@pytest.fixture(scope="module")
def sipping(tmp_path_factory) -> Path:
    """'sipping' taught from its part of the Charades clip, no background yet."""
    folder = tmp_path_factory.mktemp("actions")
    done = teach(folder, "sipping", clip(), "--teach-from", SIPPING[0], "--teach-to", SIPPING[1])
    assert done.returncode == 0, done.stderr
    # The app suggests one after teaching, from the same file: the seconds right after the part.
    assert f"--teach-background 'sipping' --video {shlex.quote(str(clip()))} --teach-from 7.75 --teach-to 9.75" \
        in done.stdout
    return folder


@pytest.fixture
def folder(sipping, tmp_path) -> Path:
    return Path(shutil.copytree(sipping, tmp_path / "actions"))


def test_a_background_is_recorded_stored_listed_and_undone(folder):
    before = read_action(folder / "sipping.npz")
    done = background(folder, "sipping", clip(), *AFTER)
    assert done.returncode == 0, done.stderr
    # 7.8 to 9.4 s are classified; the part said is the one asked for, not its last frame's end (9.6 s).
    assert "recorded the background of 'sipping': 5 examples from 7.8-9.5 s" in done.stdout
    with np.load(folder / "sipping.npz") as arrays:
        assert BACKGROUND_ARRAYS <= set(arrays.files)
    action = read_action(folder / "sipping.npz")
    assert action.background is not None and len(action.background.sessions) == 1
    assert len(action.background.examples) > 0 and action.background.examples.dim == action.examples.dim
    assert np.array_equal(action.examples.window_means, before.examples.window_means)  # the action untouched
    [row] = listed(folder)
    assert row["background_seconds"] > 1.0 and len(row["background_history"]) == 1
    assert "walk_sip_sit_charades_univtg.mp4 7.8" in row["background_history"][0]["source"]
    table = run_cli("--actions", "--actions-dir", str(folder))
    assert table.returncode == 0 and "background" in table.stdout.splitlines()[0]
    assert f"{row['background_seconds']:.1f} s" in table.stdout.splitlines()[1]

    undone = run_cli("--forget", "sipping", "--last", "--actions-dir", str(folder))
    assert undone.returncode == 0, undone.stderr
    assert "undid the last background session of 'sipping': no background left" in undone.stdout
    after = read_action(folder / "sipping.npz")
    assert after.background is None and len(after.sessions) == 1  # the action's own session stays
    with np.load(folder / "sipping.npz") as arrays:
        assert not BACKGROUND_ARRAYS & set(arrays.files)  # the file is as an action without a background
    [row] = listed(folder)
    assert row["background_seconds"] == 0.0 and row["background_history"] == []


def test_with_a_background_the_seconds_after_sipping_are_less_often_sipping(folder):
    after, found_without, own, own_without = sipping_reported(folder)
    assert after >= 8 and found_without == after  # without a background: every frame of them is "sipping"
    assert background(folder, "sipping", clip(), *AFTER).returncode == 0
    after_again, found_with, own_again, own_with = sipping_reported(folder)
    assert (after_again, own_again) == (after, own)
    assert found_with <= after - 4  # measured: 9 of 9 frames without, 4 of 9 with
    assert own_with == own_without == own  # the sipping itself is still found on every frame


def test_actions_without_a_background_score_the_same(folder, tmp_path):
    """The head's scores of an action without a background do not change when another action gets one."""
    assert teach(folder, "arm", ARM_WRESTLING, "--teach-to", "5").returncode == 0
    plain = ActionStore(folder).read_all()
    assert background(folder, "sipping", clip(), *AFTER).returncode == 0
    with_background = ActionStore(folder).read_all()
    assert [a.background is not None for a in with_background] == [False, True]  # arm, sipping
    store = ActionStore(folder)
    sipping = store.read("sipping")
    windows = [sipping.examples, sipping.background.examples, store.read("arm").examples]
    heads = TaughtHead(plain), TaughtHead(with_background)
    rejected = 0
    for examples in windows:
        for i in range(len(examples)):
            # A window of 10 frames all like the example: the head sees its recent mean and no change, so the
            # change is given by two rows apart by the example's change.
            recent = np.stack([examples.recent_means[i], examples.recent_means[i] + examples.changes[i]])
            observation = Observation(examples.window_means[i], 10, examples.probabilities[i], recent)
            without, with_ = (head.scores(observation).copy() for head in heads)
            assert without[0] == with_[0]  # arm: bit for bit
            rejected += bool(without[1] > 0 and with_[1] == 0)
    assert rejected > 0  # and the background does reject some of sipping's windows


def test_from_a_camera_a_background_is_recorded_as_a_session_is(tmp_path):
    """The clip stands in for the camera: the same countdown and length as --teach, saved as the background of
    the action already taught; the web view's undo then takes that background session back."""
    assert teach(tmp_path, "ice", CARVING_ICE, "--teach-to", "2.2").returncode == 0
    sink = ListSink(Command.UNDO_TEACH, at=4.0)  # after the background session
    live_run(tmp_path, CARVING_ICE, sink, OpenCVSource, teach_background="ice", teach_seconds=2, teach_countdown=1)
    said = notices(sink)
    assert said[0] == (0.0, "teaching the background of 'ice': get ready, recording in 1")
    assert said[1] == (1.0, "teaching the background of 'ice': recording, 2 s left")
    assert said[3] == (3.0, "recorded the background of 'ice': 6 examples (2.0 s in all)")
    assert "undid the last background session of 'ice': no background left" in [text for _, text in said]
    assert {u.status.teach_what for u in sink.updates} == {"the background of 'ice'"}  # the button and t say so
    action = read_action(tmp_path / "ice.npz")
    assert action.background is None and len(action.sessions) == 1  # the action itself stays


def old_file(folder: Path) -> None:
    """An action file of an earlier version (one examples array, no motion)."""
    meta = json.dumps({"format": "pi-action-classifier/taught-action/1", "name": "old"}).encode()
    np.savez(folder / "old.npz", examples=np.zeros((3, 4), np.float32), sessions=np.zeros(3, np.int32),
             meta=np.frombuffer(meta, np.uint8))


@pytest.mark.parametrize(("args", "words"), [
    (("--teach-background", "waving", "--video", str(CARVING_ICE)), ("no taught action 'waving'", "--teach NAME")),
    (("--teach-background", "waving"), ("no taught action 'waving'",)),  # from a camera: before it opens
    (("--teach-background", "old", "--video", str(CARVING_ICE)), ("old.npz was taught by an earlier version",)),
    (("--teach-background", "sipping", "--video", str(CARVING_ICE), "--teach-from", "4"), ("only 0.4 s of video",)),
    (("--teach-background", "", "--video", str(CARVING_ICE)), ("an action name cannot be empty",)),
    (("--teach-background", "sipping", "--teach", "sipping"), ("not allowed with argument",)),
])
def test_bad_input_is_one_line_and_loses_nothing(folder, args, words):
    if "old" in args:
        old_file(folder)
    before = fingerprint(folder)
    done = run_cli(*args, "--actions-dir", str(folder))
    if "--teach" in args:  # refused by the flag parser: its own one line
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and all(w in done.stderr for w in words)
    else:
        one_error_line(done, *words)
    assert fingerprint(folder) == before


def test_a_file_with_part_of_a_background_is_refused(folder):
    """A background is all its arrays or none: a file with some of them is not one the app wrote."""
    path = folder / "sipping.npz"
    with np.load(path) as arrays:
        kept = {name: arrays[name] for name in arrays.files}
    kept["background_changes"] = kept["changes"]
    np.savez(path, **kept)
    one_error_line(run_cli("--actions", "--actions-dir", str(folder)), "sipping.npz is not a taught action")


def suggested(done) -> list[str]:
    """The flags of the --teach-background command the app suggests after teaching."""
    hint = next(line for line in done.stdout.splitlines() if "--teach-background" in line)
    return shlex.split(hint.split("with classify.py ", 1)[1])


def test_the_suggested_background_is_a_part_the_video_holds(tmp_path):
    # After carving_ice's first 2.2 s the clip (4.4 s) holds the two seconds after: the command works as printed.
    done = teach(tmp_path, "my carving", CARVING_ICE, "--teach-to", "2.2")
    assert done.returncode == 0, done.stderr
    flags = suggested(done)
    assert flags[-4:] == ["--teach-from", "2.2", "--teach-to", "4.2"], flags
    recorded = run_cli(*flags, "--actions-dir", str(tmp_path))
    assert recorded.returncode == 0, recorded.stderr
    # After 2-4 s it does not: no part past the video's end (which the app would refuse), the placeholders instead.
    done = teach(tmp_path / "other", "my carving", CARVING_ICE, "--teach-from", "2", "--teach-to", "4")
    assert done.returncode == 0, done.stderr
    assert suggested(done)[-4:] == ["--teach-from", "START", "--teach-to", "END"], done.stdout
