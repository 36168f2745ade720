"""The event outputs one by one: the journal, the webhook (a real HTTP server on 127.0.0.1), GPIO (gpiozero's
mock pins) and the EventSink that drives them from results."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from utils.errors import ClassifierError
from utils.events import END, START, Event, EventTracker
from utils.events import recorder as recorder_module
from utils.events.clip import ClipFormat
from utils.events.journal import Journal, check_writable_folder, recent_events
from utils.events.recorder import Recorder
from utils.events.webhook import WebhookOutput
from utils.results import Prediction, Result
from utils.sinks.base import Update
from utils.sinks.events import EventSink
from utils.sources import Frame

T0 = datetime(2025, 1, 31, 12, 0, tzinfo=timezone.utc)


def event(label: str = "waving hand", end: float | None = None) -> Event:
    e = Event(f"20250131T120000-{label.replace(' ', '-')}-abcdef", label, "test", 1.0, 5, T0, 0.9, 7)
    return e if end is None else e.ended(end, T0, "ended")


class Receiver:
    """A throw-away HTTP server on 127.0.0.1 that keeps the JSON bodies POSTed to it; with `moved`, it answers
    every request but those to that path with a 301 there, and keeps the paths of the GETs it gets."""

    def __init__(self, port: int = 0, moved: str | None = None) -> None:
        received: list[dict] = []
        self.received = received
        self.gets: list[str] = []
        gets = self.gets

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if moved and self.path != moved:
                    self.send_response(301)
                    self.send_header("Location", moved)
                else:
                    received.append(json.loads(body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                gets.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def test_webhook_posts_the_start_and_end_objects(receiver):
    hook = WebhookOutput(receiver.url)
    hook.on_start(event())
    hook.on_end(event(end=3.0))
    hook.close()
    start, end = receiver.wait_for(2)
    assert start == event().record(START) and end == event(end=3.0).record(END)
    assert hook.delivered == 2


def test_webhook_retries_with_back_off_then_delivers(caplog):
    # A port that refuses at first; the server appears while the webhook waits to retry.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = WebhookOutput(f"http://127.0.0.1:{port}/", timeout=1.0, retry_delays=(0.5, 0.5, 5.0))
    with caplog.at_level(logging.INFO):
        hook.on_start(event())
        time.sleep(0.2)
        server = Receiver(port)
        try:
            assert server.wait_for(1) == [event().record(START)]
        finally:
            hook.close()
            server.close()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Connection refused" in warnings[0].getMessage()
    assert any("working again" in r.getMessage() for r in caplog.records)


def test_a_dead_webhook_never_slows_the_loop_and_warns_once_for_each_reason(caplog):
    # A server that accepts connections and never answers: every attempt runs into the timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1000)
    hook = WebhookOutput(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=0.3, retry_delays=(0.1,))
    try:
        with caplog.at_level(logging.WARNING):
            start = time.perf_counter()
            for _ in range(300):  # more than the queue holds: the rest are dropped, not waited for
                hook.on_start(event())
            spent = time.perf_counter() - start
            time.sleep(1.0)  # a few failed deliveries
            closing = time.perf_counter()
            hook.close()
            close_s = time.perf_counter() - closing
    finally:
        silent.close()
    assert spent < 0.5, spent  # 300 calls; each is a put_nowait
    assert close_s < hook.timeout + 3.0
    # One line for the outage and one for the full queue, not one per event.
    webhook_warnings = sorted(r.getMessage() for r in caplog.records if "webhook http" in r.getMessage())
    assert len(webhook_warnings) == 2, webhook_warnings
    assert "later ones are dropped until it answers" in webhook_warnings[0] and "timed out" in webhook_warnings[1]


class Flaky:
    """A server on 127.0.0.1 that answers POSTs with `status` until `failing` is cleared, then 200; keeps the bodies
    it took."""

    def __init__(self, status: int) -> None:
        self.failing, self.received, self.attempts = True, [], 0
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                flaky.attempts += 1
                if flaky.failing:
                    self.send_response(status)
                else:
                    flaky.received.append(json.loads(body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_webhook_away_for_longer_than_the_back_off_gets_every_event_in_order_when_back():
    """A Home Assistant that restarts answers 503 (or nothing) for 30-60 s: the events wait and arrive, in
    order, however many attempts that takes (the last delay repeats); none is given up."""
    server = Flaky(503)
    hook = WebhookOutput(server.url, timeout=1.0, retry_delays=(0.05, 0.1))
    try:
        hook.on_start(event())
        hook.on_end(event(end=3.0))
        deadline = time.monotonic() + 10.0
        while server.attempts < 8 and time.monotonic() < deadline:  # more attempts than the delays hold
            time.sleep(0.02)
        assert server.attempts >= 8 and server.received == []
        server.failing = False
        while len(server.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        hook.close()
        server.close()
    assert server.received == [event().record(START), event(end=3.0).record(END)]
    assert hook.delivered == 2


def test_a_webhook_that_refuses_an_event_is_not_asked_again_and_the_next_does_not_wait(caplog):
    """A 404 (a wrong path or secret) is the same answer at every attempt: one warning, no retries, and the events
    after it are not held behind it."""
    server = Flaky(404)
    hook = WebhookOutput(server.url, timeout=1.0, retry_delays=(30.0,))
    try:
        with caplog.at_level(logging.WARNING):
            hook.on_start(event())
            hook.on_end(event(end=3.0))
            deadline = time.monotonic() + 10.0  # well under the 30 s a retry would wait
            while hook.refused < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        hook.close()
        server.close()
    assert hook.refused == 2 and server.attempts == 2 and hook.delivered == 0
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "HTTP 404" in refusals[0], refusals


def test_journal_appends_lines_and_recent_events_merges_them(tmp_path):
    journal = Journal(tmp_path / "events")
    journal.on_start(event("waving hand"))
    journal.on_end(event("waving hand", end=4.0))
    journal.on_start(event("clapping"))
    journal.close()
    lines = (tmp_path / "events" / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["start", "end", "start"]
    with (tmp_path / "events" / "events.jsonl").open("a") as f:
        f.write('{"type": "end", "id": "cut by a power lo')  # a torn last line is skipped
    clapping, waving = recent_events(tmp_path / "events")
    assert clapping["label"] == "clapping" and "end" not in clapping
    assert waving["label"] == "waving hand" and waving["duration"] == 3.0


def test_an_unwritable_events_folder_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ClassifierError, match=r"cannot write to --events-dir .*file/events"):
        Journal(tmp_path / "file" / "events")
    with pytest.raises(ClassifierError, match=r"cannot write to --events-dir .*file/events: Not a directory"):
        check_writable_folder(tmp_path / "file" / "events")


def test_the_events_folder_is_checked_without_creating_it(tmp_path):
    check_writable_folder(tmp_path / "a" / "b" / "events")  # can be made: fine, and nothing is made
    assert list(tmp_path.iterdir()) == []
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        if os.access(locked, os.W_OK):  # root writes anywhere (as CI runs): then it is writable indeed
            check_writable_folder(locked / "events")
        else:
            with pytest.raises(ClassifierError, match="Permission denied"):
                check_writable_folder(locked / "events")
    finally:
        locked.chmod(0o700)


def updates(labels_scores: list[tuple[str, float]], fps: float = 5.0):
    image = np.zeros((48, 64, 3), np.uint8)
    for i, (label, score) in enumerate(labels_scores):
        result = Result(i, i / fps, 1.0, (Prediction(label, score),))
        yield Update(Frame(image, i / fps, i), result, True)


@pytest.fixture
def mock_pins():
    gpiozero = pytest.importorskip("gpiozero")
    from gpiozero.pins.mock import MockFactory

    previous = gpiozero.Device.pin_factory
    gpiozero.Device.pin_factory = MockFactory()
    yield gpiozero.Device.pin_factory
    gpiozero.Device.pin_factory.reset()
    gpiozero.Device.pin_factory = previous


def test_gpio_pin_is_high_exactly_while_the_event_lasts(mock_pins):
    from utils.events.gpio import GpioOutput

    tracker = EventTracker(["waving hand", "clapping"], min_seconds=1.0, end_seconds=1.0)
    sink = EventSink(tracker, [GpioOutput([("waving hand", 17), ("any", 27)])])
    sequence = ([("idle", 0.9)] * 8 + [("waving hand", 0.9)] * 12 + [("idle", 0.9)] * 10
                + [("clapping", 0.9)] * 10)
    pin17, pin27 = mock_pins.pin(17), mock_pins.pin(27)
    states = []
    for update in updates(sequence):
        sink.write(update)
        active = tracker.active.label if tracker.active else None
        states.append((active, pin17.state, pin27.state))
        assert pin17.state == (active == "waving hand")
        assert pin27.state == (active is not None)
    assert {s[0] for s in states} == {None, "waving hand", "clapping"}
    sink.close()  # the clapping event ends with the stream: every pin goes low
    assert not pin17.state and not pin27.state
    assert [e.label for e in sink.events] == ["waving hand", "clapping"]


def test_gpio_off_a_pi_is_one_clear_error(monkeypatch):
    gpiozero = pytest.importorskip("gpiozero")
    from utils.events.gpio import GpioOutput

    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr(gpiozero.Device, "pin_factory", None)
    with pytest.raises(ClassifierError, match="--gpio: cannot use GPIO pin 17 .*Raspberry Pi"):
        GpioOutput([("waving hand", 17)])


def test_a_failing_output_does_not_stop_the_others(caplog):
    class Broken:
        def on_start(self, event):
            raise RuntimeError("bug")

        on_end = on_start

        def close(self):
            pass

    class Collect:
        def __init__(self):
            self.seen = []

        def on_start(self, event):
            self.seen.append(START)

        def on_end(self, event):
            self.seen.append(END)

        def close(self):
            pass

    collect = Collect()
    sink = EventSink(EventTracker(["waving hand"], min_seconds=0.0), [Broken(), collect])
    for update in updates([("waving hand", 0.9)] * 3):
        sink.write(update)
    sink.close()
    assert collect.seen == [START, END]


def test_a_camera_outage_is_not_recorded():
    from utils.sinks.base import Status
    from utils.sources.health import SourceHealth

    class Frames:
        def __init__(self):
            self.timestamps = []

        def add_frame(self, timestamp, image):
            self.timestamps.append(timestamp)

    recorder = Frames()
    sink = EventSink(EventTracker(["waving hand"]), recorder=recorder)  # type: ignore[arg-type]
    live, dark = list(updates([("waving hand", 0.9)] * 2))
    sink.write(live)
    sink.write(Update(dark.frame, None, False, Status(source=SourceHealth(offline_since=time.time()))))
    assert recorder.timestamps == [0.0]


def test_an_event_ended_at_close_lists_its_clip_and_snapshot(tmp_path):
    recorder = Recorder(tmp_path, pre_roll=1.0, post_roll=1.0, min_seconds=1.0, max_mb=100, fps=5.0, live=False)
    sink = EventSink(EventTracker(["waving hand"], min_seconds=1.0), recorder=recorder)
    for update in updates([("waving hand", 0.9)] * 10):
        sink.write(update)
    sink.close()  # the event ends with the stream; the recorder finishes its clip
    ended, = sink.events
    assert ended.reason == "stopped" and ended.files == (f"{ended.id}.mp4", f"{ended.id}.jpg") and ended.lost == ()
    assert all((tmp_path / name).is_file() for name in ended.files)


def test_a_recorder_still_busy_at_close_names_lost_only_the_clip_it_had_begun(tmp_path, monkeypatch, caplog):
    """The disk hangs on the first clip (its writer never opens): that clip was begun and is lost; the next
    event's clip and snapshots were never begun, so they are not lost either."""
    release = threading.Event()

    def hung_disk(path, size, fps):
        release.wait(30)  # released once the test has looked
        raise OSError("the disk hung")

    monkeypatch.setattr(recorder_module, "CLOSE_TIMEOUT_S", 0.1)  # close() gives up waiting for the thread
    recorder = Recorder(tmp_path, pre_roll=1.0, post_roll=1.0, min_seconds=1.0, max_mb=100, fps=5.0, live=True,
                        clip_format=ClipFormat("hung", ".mp4", hung_disk, False))
    sink = EventSink(EventTracker(["waving hand", "clapping"], min_seconds=1.0), recorder=recorder)
    try:
        for update in updates([("waving hand", 0.9)] * 10 + [("clapping", 0.9)] * 10):
            sink.write(update)
        with caplog.at_level(logging.WARNING):
            sink.close()
        first, second = sink.events
        assert (first.reason, second.reason) == ("replaced", "stopped")
        assert first.files == () and first.lost == (f"{first.id}.mp4",)
        assert second.files == () and second.lost == ()
        assert f"event {first.id}: not saved: {first.id}.mp4" in caplog.text and second.id not in caplog.text
    finally:
        release.set()
        recorder._thread.join(30)
