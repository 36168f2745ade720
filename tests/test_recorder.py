"""The recorder on generated frames: clip boundaries, file formats, atomic files, the disk bound, frame drops."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from utils.events.clip import ClipFormat, OpenCvClip, choose_clip_format
from utils.events.disk import enforce_budget, partial_name
from utils.events.recorder import Recorder, Saved
from utils.events.recovery import keep_partial_clips
from utils.events.ring import FrameRing
from utils.sources import SyntheticSource

FPS = 30.0


def frames(seconds: float, width: int = 320, height: int = 240):
    return SyntheticSource(width, height, FPS, int(seconds * FPS))


def read_clip(path: Path) -> tuple[int, float, tuple[int, int]]:
    """(frames decoded, seconds from the first to the last frame's timestamp, (width, height))."""
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), path
    count, first, last, size = 0, None, 0.0, (0, 0)
    while True:
        ok, image = capture.read()
        if not ok:
            break
        count += 1
        last = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        first = last if first is None else first
        size = (image.shape[1], image.shape[0])
    capture.release()
    return count, last - (first or 0.0), size


def record(tmp_path: Path, clip_format: ClipFormat | None = None, stop_at: float = 12.0,
           live: bool = False) -> Recorder:
    """An event from 4 s to 8 s, with 2 s of pre-roll and post-roll, and the frames from 0 to `stop_at` s."""
    recorder = Recorder(tmp_path, pre_roll=2.0, post_roll=2.0, min_seconds=1.0, max_mb=100, fps=FPS, live=live,
                        clip_format=clip_format)
    name = ""
    with frames(stop_at) as source:
        while (frame := source.read()) is not None:
            recorder.add_frame(frame.timestamp, frame.image)
            if frame.index == 150:  # confirmed at 5 s: the event started at 4 s
                name = recorder.start_clip("event-1", 4.0)
            if frame.index == 270:  # ended at 8 s, noticed at 9 s
                recorder.end_event("event-1", name, 8.0, frame.image)
    recorder.close()
    return recorder


def test_clip_covers_pre_roll_event_and_post_roll(tmp_path):
    recorder = record(tmp_path)
    assert recorder.format.browser_plays and recorder.format.suffix == ".mp4"
    count, seconds, size = read_clip(tmp_path / "event-1.mp4")
    assert count == 8 * 30 + 1  # 2.0 s .. 10.0 s at 30 fps, both ends included
    assert seconds == pytest.approx(8.0, abs=0.05)
    assert size == (320, 240)
    snapshot = cv2.imread(str(tmp_path / "event-1.jpg"))
    assert snapshot.shape == (240, 320, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["event-1.jpg", "event-1.mp4"]  # no partial files
    assert recorder.take_saved() == [Saved("event-1", ("event-1.mp4", "event-1.jpg"), ())]


def test_closing_mid_clip_finishes_it_with_the_frames_so_far(tmp_path):
    recorder = Recorder(tmp_path, pre_roll=1.0, post_roll=2.0, min_seconds=0.0, max_mb=100, fps=FPS, live=False)
    with frames(3.0) as source:
        while (frame := source.read()) is not None:
            recorder.add_frame(frame.timestamp, frame.image)
            if frame.index == 45:
                recorder.start_clip("stopped", 1.5)
    recorder.close()
    count, seconds, _ = read_clip(tmp_path / "stopped.mp4")
    assert count == 90 - 15  # from 0.5 s (1.5 - pre-roll) to the last frame, 2.97 s
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_a_clip_that_got_no_frame_before_close_is_not_lost(tmp_path):
    recorder = Recorder(tmp_path, pre_roll=0.0, post_roll=2.0, min_seconds=0.0, max_mb=100, fps=FPS, live=False)
    with frames(1.0) as source:
        while (frame := source.read()) is not None:
            recorder.add_frame(frame.timestamp, frame.image)
    name = recorder.start_clip("late", 5.0)  # starts after the last frame: no frame of it is ever written
    recorder.end_event("late", name, 5.0, np.zeros((240, 320, 3), np.uint8))
    recorder.close()
    assert recorder.take_saved() == [Saved("late", ("late.jpg",), ())]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.jpg"]


def test_opencv_fallback_writes_a_clip_opencv_reads(tmp_path):
    mp4v = ClipFormat("mp4v", ".mp4", lambda p, s, f: OpenCvClip(p, s, f, "mp4v"), False)
    record(tmp_path, clip_format=mp4v)
    count, _, size = read_clip(tmp_path / "event-1.mp4")
    assert count == 241 and size == (320, 240)


def test_choose_clip_format_prefers_h264(tmp_path):
    pytest.importorskip("av")
    assert choose_clip_format(tmp_path).name == "H.264 (PyAV libx264)"
    assert list(tmp_path.iterdir()) == []  # no probe file left behind


def test_odd_frame_sizes_are_cropped_to_even(tmp_path):
    recorder = Recorder(tmp_path, pre_roll=0.0, post_roll=0.0, min_seconds=0.0, max_mb=100, fps=FPS, live=False)
    with frames(1.0, 321, 241) as source:
        recorder.start_clip("odd", 0.0)
        while (frame := source.read()) is not None:
            recorder.add_frame(frame.timestamp, frame.image)
    recorder.close()
    assert read_clip(tmp_path / "odd.mp4")[::2] == (30, (320, 240))


def test_a_slow_disk_drops_a_cameras_frames_but_never_a_files(tmp_path):
    class Slow:
        def __init__(self, *args):
            pass

        def write(self, image, timestamp):
            time.sleep(0.01)

        def close(self):
            pass

        def sync(self):
            pass

    slow = ClipFormat("slow", ".mp4", Slow, False)
    for live in (True, False):
        recorder = Recorder(tmp_path, pre_roll=0.0, post_roll=0.0, min_seconds=0.0, max_mb=100, fps=FPS, live=live,
                            clip_format=slow)
        recorder.start_clip(f"live-{live}", 0.0)
        image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), np.uint8)  # noise: large JPEGs
        for i in range(200):
            recorder.add_frame(i / FPS, image)
        recorder.close()
        if live:  # the camera's frames waited (raw, then as JPEG) up to the bound, then were dropped
            assert 0 < recorder.dropped < 200 - 3 * 1024 * 1024 // image.nbytes
        else:
            assert recorder.dropped == 0


def test_partial_files_of_a_killed_run_are_kept_when_they_hold_video(tmp_path):
    empty = tmp_path / partial_name("20250101T000000-old-event-aaaaaa.mp4")
    empty.write_bytes(b"a clip's header, no fragment yet")
    snapshot = tmp_path / partial_name("20250101T000000-old-event-aaaaaa.jpg")
    snapshot.write_bytes(b"half a snapshot")
    clip = tmp_path / partial_name("20250101T000001-old-event-bbbbbb.mp4")
    clip.write_bytes(b"ftyp....moov....moof....mdat")
    foreign = tmp_path / ".holiday.partial.mp4"  # not a name the app writes
    foreign.write_bytes(b"someone else's")
    assert keep_partial_clips(tmp_path) == ["20250101T000001-old-event-bbbbbb.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".holiday.partial.mp4",
                                                          "20250101T000001-old-event-bbbbbb.mp4"]


def test_budget_deletes_the_oldest_events_first_and_keeps_the_journal(tmp_path):
    a, b, c = (f"2025010{i}T120000-waving-hand-00000{i}" for i in (1, 2, 3))
    for i, name in enumerate([a, b, c]):
        for suffix, size in ((".mp4", 4000), (".jpg", 1000)):
            path = tmp_path / f"{name}{suffix}"
            path.write_bytes(b"x" * size)
            os.utime(path, (1000 + i, 1000 + i))
    (tmp_path / "events.jsonl").write_bytes(b"y" * 50000)
    assert sorted(enforce_budget(tmp_path, 11000)) == [f"{a}.jpg", f"{a}.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{b}.jpg", f"{b}.mp4", f"{c}.jpg", f"{c}.mp4",
                                                          "events.jsonl"]
    assert sorted(enforce_budget(tmp_path, 1)) == [f"{b}.jpg", f"{b}.mp4"]  # the newest event stays, whatever size
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{c}.jpg", f"{c}.mp4", "events.jsonl"]


def test_ring_keeps_only_its_seconds_and_restarts_when_the_clock_goes_back():
    ring = FrameRing(seconds=1.0)
    with frames(3.0, 640, 480) as source:
        while (frame := source.read()) is not None:
            ring.add(frame.timestamp, frame.image)
    assert len(ring) in (30, 31) and ring.rate() == pytest.approx(30.0)
    assert 0 < ring.nbytes < len(ring) * 640 * 480 * 3 / 10  # JPEG: a tenth of raw at most, on these frames
    (when, image), = ring.since(2.95)
    assert when == pytest.approx(89 / 30) and image.shape == (480, 640, 3)
    ring.add(0.0, np.zeros((480, 640, 3), np.uint8))
    assert len(ring) == 1
