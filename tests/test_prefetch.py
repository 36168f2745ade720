"""The prefetching source: every frame of a file in order, newest-wins for live sources, clean close."""

from __future__ import annotations

import os
import signal
import threading
import time

import cv2
import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE
from live import STALL, StreamServer

from utils.errors import ClassifierError
from utils.sampler import FrameSampler
from utils.sources import Frame, OpenCVSource, SyntheticSource, sampled_frames
from utils.sources.demand import Demand
from utils.sources.health import SourceHealth
from utils.sources.opencv import READ_TIMEOUT_S
from utils.sources.prefetch import FILE_NICENESS, PrefetchSource, queue_size


def read_all(source) -> list[Frame]:
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


class RecordingSource(SyntheticSource):
    """A synthetic source that remembers being closed, and from which thread."""

    def __init__(self, **kwargs) -> None:
        super().__init__(width=32, height=24, **kwargs)
        self.close_calls = 0
        self.closed_on: str | None = None

    def close(self) -> None:
        self.close_calls += 1
        self.closed_on = threading.current_thread().name
        super().close()


class FailingSource(RecordingSource):
    """Delivers `good` frames, then fails as an unplugged camera does."""

    def __init__(self, good: int) -> None:
        super().__init__(frames=100)
        self.good = good

    def read(self) -> Frame | None:
        if self._index >= self.good:
            raise ClassifierError("camera stopped delivering frames (unplugged?)")
        return super().read()


def test_file_frames_all_in_order_with_the_plain_timestamps():
    with OpenCVSource(str(CARVING_ICE)) as plain:
        expected = read_all(plain)
    with PrefetchSource(OpenCVSource(str(CARVING_ICE)), live=False) as prefetched:
        got = read_all(prefetched)
        assert prefetched.read() is None  # stays at the end
        assert prefetched.dropped == 0
    assert len(got) == len(expected) == 131
    assert [f.index for f in got] == list(range(131))
    assert [f.timestamp for f in got] == [f.timestamp for f in expected]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(got, expected))


def test_file_waits_for_a_slow_consumer_instead_of_dropping():
    source = RecordingSource(frames=30)
    with PrefetchSource(source, live=False, maxsize=2) as prefetched:
        frames = []
        while (frame := prefetched.read()) is not None:
            time.sleep(0.002)  # slower than the reader
            frames.append(frame)
    assert [f.index for f in frames] == list(range(30))
    assert prefetched.dropped == 0


def test_forwards_what_the_wrapped_source_says():
    with PrefetchSource(OpenCVSource(str(CARVING_ICE)), live=False) as prefetched:
        assert prefetched.description.startswith("video ")
        assert prefetched.nominal_fps == pytest.approx(29.6, abs=0.1)
        assert prefetched.source.is_file  # anything else is asked of the wrapped source itself


def test_close_mid_file_stops_and_joins_the_reader():
    inner = OpenCVSource(str(CARVING_ICE))
    prefetched = PrefetchSource(inner, live=False, name="capture:test")
    for _ in range(10):
        assert prefetched.read() is not None
    prefetched.close()  # the reader is blocked on a full queue here
    assert not prefetched.running
    assert "capture:test" not in [t.name for t in threading.enumerate()]
    assert inner._closed  # closed by the reader as it left
    assert prefetched.read() is None
    prefetched.close()  # twice is fine


def test_a_second_ctrl_c_during_close_still_waits_for_the_reader_to_leave_opencv():
    """Ctrl-C (or SIGTERM) twice: the second one came while close() waited for the reader, and Python exited
    while the reader was still inside OpenCV's read: "Fatal Python error: Aborted", exit code 134, about one
    run in three. close() now goes on waiting, then raises the KeyboardInterrupt."""
    camera = StreamServer(ARM_WRESTLING)
    previous = signal.signal(signal.SIGINT, interrupt)  # as classify.py's handler does on a second signal
    inner = OpenCVSource(f"{camera.url}/live.mjpg")
    prefetched = PrefetchSource(inner, live=True)
    # The second Ctrl-C comes while close() waits for the reader: sent from that wait itself, not after a
    # delay that a loaded machine could stretch past the wait or cut before it.
    prefetched._source_closed = SignalledOnWait(prefetched._source_closed)
    try:
        assert isinstance(prefetched.read(), Frame)
        camera.mode = STALL  # the reader is now inside a read that gets nothing until OpenCV's read timeout
        time.sleep(0.5)
        with pytest.raises(KeyboardInterrupt):
            prefetched.close(timeout=READ_TIMEOUT_S + 10)
        assert prefetched._source_closed.signalled, "close() never waited for the reader"
        assert inner._closed, "close() gave up while the reader was still inside OpenCV"
    finally:
        signal.signal(signal.SIGINT, previous)
        prefetched.close()
        camera.close()


def interrupt(signum, frame):
    raise KeyboardInterrupt


class SignalledOnWait(threading.Event):
    """An event that sends this process SIGINT the first time someone waits on it (already set: as the given one)."""

    def __init__(self, like: threading.Event) -> None:
        super().__init__()
        self.signalled = False
        if like.is_set():
            self.set()

    def wait(self, timeout: float | None = None) -> bool:
        if not self.signalled:
            self.signalled = True
            os.kill(os.getpid(), signal.SIGINT)
        return super().wait(timeout)


def test_close_before_any_read_and_close_twice():
    source = RecordingSource(frames=1000)
    prefetched = PrefetchSource(source, live=False)
    prefetched.close()
    prefetched.close()
    assert not prefetched.running
    assert source.close_calls == 1
    assert source.closed_on == "capture"  # the reader thread owns the source


def test_reader_thread_is_named_and_a_daemon():
    with PrefetchSource(RecordingSource(frames=1000), live=True, name="capture:cam0") as prefetched:
        thread = next(t for t in threading.enumerate() if t.name == "capture:cam0")
        assert thread.daemon
        assert prefetched.running


def test_live_source_faster_than_the_consumer_drops_the_oldest_and_counts():
    total = 300
    source = RecordingSource(frames=total)
    with PrefetchSource(source, live=True) as prefetched:
        frames = []
        while (frame := prefetched.read()) is not None:
            frames.append(frame)
            time.sleep(0.005)  # a slow classifier
    indices = [f.index for f in frames]
    assert prefetched.dropped > 0
    assert len(frames) + prefetched.dropped == total
    assert indices == sorted(set(indices))  # in order, none twice
    assert indices[-1] == total - 1  # the newest frame wins


def test_an_error_on_the_reader_is_raised_by_read():
    with PrefetchSource(FailingSource(good=3), live=True) as prefetched:
        frames = []
        with pytest.raises(ClassifierError, match="unplugged"):
            while True:
                frame = prefetched.read()
                assert frame is not None
                frames.append(frame)
                time.sleep(0.01)  # let the failure arrive while frames are still queued
    assert 1 <= len(frames) <= 3
    assert prefetched.read() is None


def test_queue_holds_a_few_frames_of_a_file_within_a_byte_budget():
    assert queue_size(live=True, frame_bytes=640 * 480 * 3) == 1
    assert queue_size(live=False, frame_bytes=172 * 172 * 3) == 8
    assert queue_size(live=False, frame_bytes=1920 * 1080 * 3) == 2
    assert queue_size(live=False) == 8


def thread_niceness(thread: threading.Thread) -> int:
    # Field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value (Linux); after the ")" of
    # the name it is the 17th.
    assert thread.native_id is not None
    stat = open(f"/proc/self/task/{thread.native_id}/stat").read()
    return int(stat.rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not hasattr(os, "setpriority") or not os.path.isdir("/proc/self/task"), reason="Linux only")
def test_a_file_decodes_on_one_nicer_thread_and_a_camera_does_not():
    from utils.config import SourceOptions
    from utils.sources import open_source

    base = thread_niceness(threading.current_thread())
    with open_source(SourceOptions(video=CARVING_ICE), (172, 172)) as source:
        source.read()  # the reader has set its priority before its first frame
        assert thread_niceness(source._thread) == base + FILE_NICENESS
        assert thread_niceness(threading.current_thread()) == base  # the model's thread keeps its share
        # FFmpeg's own decoding threads would start outside the nicer thread, so there are none.
        assert source.source._capture.get(cv2.CAP_PROP_N_THREADS) == 1
    # Endless: a live reader drops what is not taken, so a short source would end its thread before the look.
    live = PrefetchSource(RecordingSource(frames=10**9), live=True)
    try:
        live.read()
        assert thread_niceness(live._thread) == base
    finally:
        live.close()


class CountingCapture:
    """A real cv2.VideoCapture of the clip that counts what is decoded (retrieve) and only grabbed."""

    def __init__(self, capture) -> None:
        self.capture = capture
        self.grabbed = self.retrieved = 0

    def grab(self) -> bool:
        self.grabbed += 1
        return self.capture.grab()

    def retrieve(self):
        self.retrieved += 1
        return self.capture.retrieve()

    def __getattr__(self, name):
        return getattr(self.capture, name)


def counted_file(path) -> tuple[OpenCVSource, CountingCapture]:
    source = OpenCVSource(str(path))
    counting = CountingCapture(source._capture)
    source._capture = counting
    return source, counting


def test_headless_file_decodes_only_the_classified_frames_and_gives_the_same_frames():
    every = [frame for frame in sampled_frames(CARVING_ICE, 5.0)]  # all decoded, sampled afterwards
    source, capture = counted_file(CARVING_ICE)
    demand = Demand(FrameSampler(5.0), lambda: False)
    with PrefetchSource(source, live=False, demand=demand) as prefetched:
        frames = list(iter(prefetched.read, None))
    assert capture.grabbed == 131 + 1 and capture.retrieved == len(frames) == len(every) == 22
    assert [f.index for f in frames] == [f.index for f in every]
    assert [f.timestamp for f in frames] == [f.timestamp for f in every]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(frames, every))
    assert all(frame.due for frame in frames)


def test_full_rate_resumes_when_someone_watches():
    source, capture = counted_file(CARVING_ICE)
    watching = {"now": False}
    demand = Demand(FrameSampler(5.0), lambda: watching["now"])
    frames = []
    with PrefetchSource(source, live=False, maxsize=2, demand=demand) as prefetched:
        while (frame := prefetched.read()) is not None:
            frames.append(frame)
            if frame.index >= 60:
                watching["now"] = True  # a browser opens the web view
    indices = [f.index for f in frames]
    assert indices[:5] == [0, 6, 12, 18, 24]  # skipping: one in six
    assert indices[-20:] == list(range(111, 131))  # watched: every frame, the due ones marked
    assert [f.index for f in frames if f.due] == [f.index for f in sampled_frames(CARVING_ICE, 5.0)]
    assert capture.retrieved == len(frames) < 131


def test_a_dropped_due_frame_hands_its_turn_to_the_newest():
    """A live queue keeps the newest frame; if the one dropped was due, the newest is classified instead."""
    class Waiting(SyntheticSource):  # a camera that has not sent its first frame yet
        def read(self):
            time.sleep(0.05)
            return SourceHealth() if not self.closed else None

    prefetched = PrefetchSource(Waiting(), live=True, maxsize=1)
    image = np.zeros((4, 4, 3), np.uint8)
    prefetched._put(Frame(image, 0.0, 0, due=True))
    prefetched._put(Frame(image, 0.03, 1, due=False))
    newest = prefetched.read()
    prefetched.close()
    assert newest.index == 1 and newest.due and prefetched.dropped == 1


def test_headless_mjpeg_reads_packets_and_decodes_only_the_classified_frames(tmp_path):
    """Motion-JPEG (USB cameras, many files and HTTP streams): FFmpeg would decode in grab(); read raw, only
    the classified frames are decoded, each on its own."""
    path = tmp_path / "carving_ice.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 29.97, (172, 172))
    for frame in sampled_frames(CARVING_ICE, 0):
        writer.write(frame.image)
    writer.release()
    decoded_by_ffmpeg = list(sampled_frames(path, 5.0))
    source, capture = counted_file(path)
    with PrefetchSource(source, live=False, demand=Demand(FrameSampler(5.0), lambda: False)) as prefetched:
        frames = list(iter(prefetched.read, None))
    assert source._jpeg_packets and capture.retrieved == len(frames) == len(decoded_by_ffmpeg) == 22
    assert [f.timestamp for f in frames] == [f.timestamp for f in decoded_by_ffmpeg]
    for ours, theirs in zip(frames, decoded_by_ffmpeg):  # two JPEG decoders: the same picture within rounding
        assert ours.image.shape == theirs.image.shape
        assert np.abs(ours.image.astype(int) - theirs.image).mean() < 2.0
