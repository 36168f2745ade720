"""The loop with the real model, a camera stand-in that replays the clip, and sinks that collect."""

from __future__ import annotations

import io
import logging
import time

import pytest
from conftest import CARVING_ICE, LABELS, MODEL

from utils.config import Config
from utils.model.head_window import ChangeTest
from utils.model.predictions import PredictionFilter
from utils.model.stream_classifier import StreamClassifier
from utils.pipeline import MAX_WINDOW_FRAMES, Pipeline, change_test, load_classifier, window_frames
from utils.sinks import Command, JsonSink, Status, StatusLineSink, Update, WindowSink, make_sinks
from utils.sinks.display import DisplayChoice
from utils.sinks.overlay import Annotator, OverlayRenderer
from utils.sources import OpenCVSource, SyntheticSource
from utils.sources.health import SourceHealth


class ListSink:
    """Collects every update, and can ask for a command at a given frame."""

    needs_status = True

    def __init__(self, commands: dict[int, Command] | None = None) -> None:
        self.updates: list[Update] = []
        self.commands = commands or {}
        self.closed = False

    def write(self, update: Update) -> Command | None:
        self.updates.append(update)
        return self.commands.get(update.frame.index)

    def close(self) -> None:
        self.closed = True


class ReplayCamera(OpenCVSource):
    """A 'camera' that replays the clip: stamped on arrival like a live source, no end-of-file timestamps."""

    def __init__(self) -> None:
        super().__init__(str(CARVING_ICE))
        self.is_file = False

    def read(self):
        return None if self._index == 131 else super().read()  # a camera has no end: stop by hand


@pytest.fixture(scope="module")
def model():
    classifier, prediction_filter = load_classifier(Config.from_options(model=MODEL, labels=LABELS, num_threads=2))
    return classifier, prediction_filter


def make_pipeline(model, source, sinks, fps=5.0) -> Pipeline:
    classifier, prediction_filter = model
    classifier.set_window(0)
    return Pipeline(classifier, prediction_filter, source, sinks, fps)


def test_every_frame_reaches_the_sinks_and_results_follow_the_sampler(model):
    sink = ListSink()
    with OpenCVSource(str(CARVING_ICE)) as source:
        classified = make_pipeline(model, source, [sink]).run()
    assert classified == 22 and len(sink.updates) == 131
    new = [u for u in sink.updates if u.is_new]
    assert [u.frame.index for u in new] == list(range(0, 131, 6))
    assert all(u.result.frame == u.frame.index for u in new)
    # Between classifications the sinks keep showing the latest result.
    assert sink.updates[7].result is sink.updates[6].result
    assert sink.updates[-1].result.predictions[0].label == "carving ice"
    assert sink.updates[-1].status.classify_fps > 0 and sink.updates[-1].status.inference_ms > 0


def test_a_replayed_camera_is_classified_too(model):
    sink = ListSink()
    with ReplayCamera() as camera:
        make_pipeline(model, camera, [sink], fps=0).run()
    assert sink.updates[-1].result.predictions[0].label == "carving ice"


def test_quit_command_stops_the_loop(model):
    sink = ListSink({10: Command.QUIT})
    with SyntheticSource(frames=100) as source:
        make_pipeline(model, source, [sink]).run()
    assert len(sink.updates) == 11


def test_reset_command_restarts_the_stream(model):
    sink = ListSink({60: Command.RESET})
    with OpenCVSource(str(CARVING_ICE)) as source:
        pipeline = make_pipeline(model, source, [sink])
        pipeline.run()
    # Frame 61 is classified at once (the sampler restarted) from a fresh stream.
    assert sink.updates[61].is_new and sink.updates[61].result.frame == 61
    fresh, _ = model
    fresh.reset()
    with OpenCVSource(str(CARVING_ICE)) as source:
        for _ in range(62):
            frame = source.read()
    expected = PredictionFilter(model[1].labels, 3)(fresh.classify(frame.model_rgb(fresh.input_size)))
    assert [p.label for p in sink.updates[61].result.predictions] == [p.label for p in expected]
    assert sink.updates[61].result.predictions[0].score == pytest.approx(expected[0].score, abs=1e-6)


class CountingRenderer(OverlayRenderer):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def draw(self, image, predictions, status):
        self.calls += 1
        return super().draw(image, predictions, status)


def test_overlay_is_drawn_once_however_many_sinks_show_it(model):
    sink = ListSink()
    with SyntheticSource(frames=3) as source:
        make_pipeline(model, source, [sink]).run()
    renderer = CountingRenderer()
    annotator = Annotator(renderer)  # what make_sinks shares between the window and the web view
    first = annotator.draw(sink.updates[0])
    assert annotator.draw(sink.updates[0]) is first and renderer.calls == 1
    annotator.draw(sink.updates[1])
    assert renderer.calls == 2


def test_status_is_measured_only_when_a_sink_shows_it(model):
    quiet, shown = ListSink(), ListSink()
    quiet.needs_status = False
    with SyntheticSource(frames=3) as source:
        make_pipeline(model, source, [quiet]).run()
    assert {update.status for update in quiet.updates} == {Status()}  # JSON lines alone: no CPU reading
    with SyntheticSource(frames=3) as source:
        make_pipeline(model, source, [quiet, shown]).run()
    assert all(update.status.model == MODEL.stem and update.status.threads == 2 for update in shown.updates)


def test_json_sink_writes_one_object_per_classified_frame(model):
    out = io.StringIO()
    with SyntheticSource(frames=30) as source:
        make_pipeline(model, source, [JsonSink(out)]).run()
    assert len(out.getvalue().splitlines()) == 5  # 1 s at 30 fps, sampled at 5 fps


def test_make_sinks():
    def kinds(config: Config, display: str) -> list[type]:
        return [type(s) for s in make_sinks(config.output, DisplayChoice(display, "test"))]

    assert kinds(Config.from_options(json=True), "none") == [JsonSink]
    assert kinds(Config.from_options(), "none") == [StatusLineSink]
    assert kinds(Config.from_options(json=True), "window") == [JsonSink, WindowSink]


def test_window_frames():
    source = SyntheticSource(fps=25)
    assert window_frames(Config.from_options(window_seconds=4), source) == 20
    every_frame = Config.from_options(window_seconds=4, fps=0)
    assert window_frames(every_frame, source) == 100  # every frame of a 25 fps source
    assert window_frames(Config.from_options(window_seconds=0), source) == 0


def test_the_window_memory_is_bounded_whatever_the_flags_and_the_source_say():
    # --window 600 --fps 120 would be 72000 frames of head features; a file claiming 1e6 fps with --fps 0 more.
    assert window_frames(Config.from_options(window_seconds=600, fps=120), SyntheticSource(fps=25)) == MAX_WINDOW_FRAMES
    every_frame = Config.from_options(window_seconds=600, fps=0)
    assert window_frames(every_frame, SyntheticSource(fps=1e6)) == MAX_WINDOW_FRAMES


def test_the_window_restarts_on_a_change_unless_fixed_or_unbounded():
    source = SyntheticSource(fps=25)
    assert change_test(Config.from_options(), source) == ChangeTest()  # 5 fps: the lengths as measured
    assert change_test(Config.from_options(fps=10), source).recent == 20  # the same 2 s at 10 fps
    assert change_test(Config.from_options(fixed_window=True), source) is None
    assert change_test(Config.from_options(window_seconds=0), source) is None
    # A file claiming 1e6 fps with --fps 0: the change test's memory is bounded as the window's is.
    assert change_test(Config.from_options(fps=0), SyntheticSource(fps=1e6)) == ChangeTest.at_rate(120)


class OutageSource(SyntheticSource):
    """30 fps frames; before frame 20 the camera is away for two reads, as the prefetching source reports it."""

    def __init__(self) -> None:
        super().__init__(width=64, height=48, frames=40)
        self.outage_reads = 0

    def read(self):
        if self._index == 20 and self.outage_reads < 2:
            self.outage_reads += 1
            return SourceHealth(offline_since=time.time() - 5)
        return super().read()


def test_an_outage_reaches_every_sink_then_the_stream_starts_afresh(model, caplog):
    shown, quiet = ListSink(), ListSink()
    quiet.needs_status = False  # as the JSON lines (and later events, MQTT): the outage still reaches it
    with caplog.at_level(logging.INFO, logger="utils.pipeline"), OutageSource() as source:
        make_pipeline(model, source, [shown, quiet]).run()
    for sink in (shown, quiet):
        outage = [u for u in sink.updates if not u.status.source.online]
        assert len(outage) == 2
        assert all(u.result is None and not u.is_new for u in outage)
        assert all(u.frame.image.shape == (48, 64, 3) and not u.frame.image.any() for u in outage), "a dark frame"
        assert outage[0].status.source.describe().startswith("camera offline since")
    after = shown.updates[22]  # 20 frames, 2 outage updates, then frame 20
    assert after.frame.index == 20 and after.status.source.online
    assert after.is_new, "the first frame after the outage starts a fresh stream (frame 20 is off the 5 fps grid)"
    assert "stream reset" in caplog.text


def test_status_line_on_a_terminal_and_in_a_log():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, log = Tty(), io.StringIO()
    sinks = [StatusLineSink(tty, interval=0), StatusLineSink(log, interval=0)]
    classifier = StreamClassifier(MODEL, 1)
    from utils.model.labels import load_labels
    with OpenCVSource(str(CARVING_ICE)) as source:
        Pipeline(classifier, PredictionFilter(load_labels(LABELS), 3), source, sinks, 5.0).run()
    for sink in sinks:
        sink.close()
    assert tty.getvalue().count("\r") >= 22 and tty.getvalue().endswith("\n")
    assert "carving ice" in tty.getvalue().split("\r")[-1]
    assert log.getvalue().splitlines()[-1].startswith("carving ice 0.9")


def test_the_status_line_shows_an_outage_on_a_terminal_and_leaves_a_log_to_the_logger(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")  # a terminal that takes escape sequences (TERM=dumb: spaces instead)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, log = Tty(), io.StringIO()
    offline = Status(source=SourceHealth(offline_since=time.time()))
    update = Update(SyntheticSource().read(), None, False, offline)
    for stream in (tty, log):
        StatusLineSink(stream, interval=0).write(update)
    assert tty.getvalue().startswith("\rcamera offline since ") and tty.getvalue().endswith("retrying\x1b[K")
    assert log.getvalue() == ""  # the reconnecting source logged the outage once; no copy every 5 s

