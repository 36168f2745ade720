"""Nothing recorded is lost: the user's own files in the events folder, a kill mid-event, a full disk.

Each case runs classify.py with the real model as a user would, and checks the files on disk afterwards.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from conftest import CARVING_ICE, LABELS, MODEL, REPO, run_cli
from test_events import ARM_WRESTLING, CLEANING_POOL, WATCHED, journal, make_video, tmpfs
from test_recorder import read_clip

from utils.events.files import ENDED, EventFolder
from utils.events.recovery import INTERRUPTED


def test_the_budget_never_touches_the_users_own_files(tmp_path):
    folder = tmp_path / "events"
    folder.mkdir()
    holiday, grandma = folder / "holiday.mp4", folder / "grandma.jpg"
    holiday.write_bytes(b"a holiday video" * 20000)  # 300 kB: far beyond the budget alone
    grandma.write_bytes(b"a photo of grandma" * 1000)
    video = make_video(tmp_path / "abab.mp4", [(CLEANING_POOL, 6), (ARM_WRESTLING, 6)] * 2)
    run = run_cli("--video", str(video), "--display", "none", "--event", WATCHED, "--record", "--events-dir",
                  str(folder), "--events-max-mb", "0.01", "--pre-roll", "1", "--post-roll", "1")
    assert run.returncode == 0, run.stderr
    assert holiday.read_bytes() == b"a holiday video" * 20000
    assert grandma.read_bytes() == b"a photo of grandma" * 1000
    warnings = [line for line in run.stderr.splitlines() if "files the app did not write" in line]
    assert len(warnings) == 1 and "grandma.jpg, holiday.mp4" in warnings[0], run.stderr
    ends = [r for r in journal(folder) if r["type"] == "end"]
    assert len(ends) == 2
    assert "to stay within --events-max-mb" in run.stderr  # the budget did delete: the first event's files
    assert sorted(p.name for p in folder.iterdir()) == sorted(["events.jsonl", "grandma.jpg", "holiday.mp4",
                                                               *ends[-1]["files"]])


def _wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"classify.py ended before {what}: {process.stderr.read()}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.05)


def _seconds_playable(clip: Path) -> float:
    """Of a clip still being written: 0 until its first fragment is on disk."""
    return read_clip(clip)[1] if clip.is_file() and cv2.VideoCapture(str(clip)).isOpened() else 0.0


def test_sigkill_mid_event_keeps_the_snapshot_and_the_clip_and_closes_the_event(tmp_path, mosquitto):
    from test_mqtt import NAME, TOPICS, Subscriber

    video = make_video(tmp_path / "long.mp4", [(CLEANING_POOL, 5), (ARM_WRESTLING, 30)])
    folder = tmp_path / "events"
    process = subprocess.Popen(
        [sys.executable, str(REPO / "classify.py"), "--model", str(MODEL), "--labels", str(LABELS), "--video",
         str(video), "--realtime", "--display", "none", "--event", WATCHED, "--record", "--events-dir",
         str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        _wait_for(lambda: (folder / "events.jsonl").is_file() and (folder / "events.jsonl").read_text(), process,
                  "event start")
        start = journal(folder)[0]
        snapshot = folder / f"{start['id']}.jpg"
        _wait_for(snapshot.is_file, process, "the snapshot, written as the event starts")
        # The clip being written plays already: pull the plug once it holds 6 s (the event goes on for 30 s).
        partial = folder / f".{start['id']}.partial.mp4"
        _wait_for(lambda: _seconds_playable(partial) >= 6.0, process, "6 s in the clip")
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        frames_before_kill, seconds_before_kill, _ = read_clip(partial)  # what was on disk at the kill
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert [r["type"] for r in journal(folder)] == ["start"]
    assert cv2.imread(str(snapshot)) is not None

    subscriber = Subscriber(mosquitto.port)
    try:  # the next start: a short run that sees no event of its own
        run = run_cli("--video", str(CARVING_ICE), "--display", "none", "--event", WATCHED, "--events-dir",
                      str(folder), "--mqtt", mosquitto.url, "--name", NAME)
        assert run.returncode == 0, run.stderr
        subscriber.wait_for(lambda: subscriber.on(TOPICS.event))
        published = [json.loads(p) for p in subscriber.on(TOPICS.event)]
    finally:
        subscriber.close()
    assert "closed as interrupted" in run.stderr and "removed" not in run.stderr
    start, end = journal(folder)
    assert end["type"] == "end" and end["id"] == start["id"] and end["reason"] == INTERRUPTED
    clip = f"{start['id']}.mp4"
    assert end["files"] == [clip, snapshot.name] and "lost" not in end
    assert end["duration"] > 0
    assert published == [end]  # MQTT saw the ordinary end record
    count, seconds, _ = read_clip(folder / clip)
    assert count >= frames_before_kill and seconds >= seconds_before_kill >= 6.0  # nothing written is lost
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    listed, = EventFolder(folder).events()  # the web view's events pages: ended, with both files
    assert listed["state"] == ENDED and listed["reason"] == INTERRUPTED and listed["clip"] == f"events/{clip}"
    assert listed["snapshot"] == f"events/{snapshot.name}"


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs: room for a few clips, not all."""
    with tmpfs(tmp_path / "disk", "1m") as mount:
        yield mount


def test_a_full_disk_lists_only_the_files_written_and_names_the_lost(tiny_disk, tmp_path):
    video = make_video(tmp_path / "abab.mp4", [(CLEANING_POOL, 6), (ARM_WRESTLING, 8)] * 5)
    run = run_cli("--video", str(video), "--display", "none", "--event", WATCHED, "--record", "--events-dir",
                  str(tiny_disk))
    assert run.returncode == 0, run.stderr
    ends = [r for r in journal(tiny_disk) if r["type"] == "end"]
    assert len(ends) == 5
    for end in ends:
        for name in end["files"]:
            assert (tiny_disk / name).is_file(), f"{name} is listed but was never written"
        for name in end.get("lost", []):
            assert not (tiny_disk / name).exists()
        assert sorted(end["files"] + end.get("lost", [])) == sorted([f"{end['id']}.jpg", f"{end['id']}.mp4"])
    assert any(end.get("lost") for end in ends), "the disk never filled: the test proves nothing"
    assert any(f"{end['id']}.mp4" in end["files"] for end in ends)
    assert "No space left on device" in run.stderr
    assert not [p for p in tiny_disk.iterdir() if ".partial" in p.name]
