"""Teaching from a live source in the real loop (run()'s own wiring, the real model, a clip for the camera): the
countdown, the recording from a fresh stream, the action reported from then on; the t key, the web view's
button (tests/test_web.py), and what the screen says."""

from __future__ import annotations

import io
import logging
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, LABELS, MODEL
from test_events import tmpfs

from utils.config import Config, SourceOptions
from utils.errors import ClassifierError
from utils.model.taught import NONE_OF_THEM, ActionStore, read_action
from utils.pipeline import build_pipeline, load_run, window_frames
from utils.results import Prediction, Result
from utils.sampler import FrameSampler
from utils.sinks import Command, Status, Update
from utils.sinks.overlay import BAR, draw_overlay
from utils.sinks.status_line import StatusLineSink
from utils.sources import Frame, OpenCVSource, open_source
from utils.sources.demand import Demand
from utils.teach import teach_from_file


class ListSink:
    """Collects every update, and can press a key (send a command) once, at the first frame from `at` seconds on."""

    needs_status = True

    def __init__(self, command: Command | None = None, at: float = 0.0) -> None:
        self.updates: list[Update] = []
        self.command, self.at = command, at

    def write(self, update: Update) -> Command | None:
        self.updates.append(update)
        if self.command is not None and update.frame.timestamp >= self.at:
            command, self.command = self.command, None
            return command
        return None

    def close(self) -> None:
        pass


def live_run(folder: Path, clip: Path, sink: ListSink, source_class: type[OpenCVSource] | None = None,
             **options) -> None:
    """What run() does, with the clip standing in for the camera (its own timestamps: the same every time): the
    source samples the frames where it reads them and, headless, delivers only those (or `source_class`'s frames,
    sampled by the pipeline)."""
    config = Config.from_options(model=MODEL, labels=LABELS, num_threads=2, actions_dir=folder, **options)
    classifier, prediction_filter, taught = load_run(config)
    demand = Demand(FrameSampler(config.source.fps), lambda: False)
    source = open_source(SourceOptions(video=str(clip)), classifier.input_size, demand) \
        if source_class is None else source_class(str(clip))
    with closing(source):
        classifier.set_window(window_frames(config, source))
        sampler = demand.sampler if source_class is None else None
        build_pipeline(config, classifier, prediction_filter, taught, source, [sink], sampler=sampler).run()


def notices(sink: ListSink) -> list[tuple[float, str]]:
    """Each new notice with the time it appeared."""
    shown: list[tuple[float, str]] = []
    for update in sink.updates:
        if not shown or update.status.notice != shown[-1][1]:
            shown.append((round(update.frame.timestamp, 2), update.status.notice))
    return shown


def test_a_countdown_then_seconds_of_video_teach_the_action(tmp_path):
    sink = ListSink()
    live_run(tmp_path, CARVING_ICE, sink, OpenCVSource, teach="ice", teach_seconds=2, teach_countdown=1,
             taught="only")
    said = notices(sink)
    assert said[0] == (0.0, "teaching 'ice': get ready, recording in 1")
    assert said[1] == (1.0, "teaching 'ice': recording, 2 s left")
    assert said[2] == (2.0, "teaching 'ice': recording, 1 s left")
    assert said[3] == (3.0, "taught 'ice': 6 new examples (6 examples, 1 session, 2.0 s in all); teach it again "
                            "later for an action that holds (t)")
    assert {(u.status.teach, u.status.teach_what) for u in sink.updates} == {("ice", "'ice'")}
    # The recording started a fresh stream: the frame at 1.0 s was classified at once.
    start = next(u for u in sink.updates if u.frame.timestamp >= 1.0)
    assert start.is_new and start.result.frame == start.frame.index
    # Reported from the next classified frame on; before, --taught only had nothing to say.
    results = [(u.frame.timestamp, u.result.predictions) for u in sink.updates if u.is_new]
    assert all(p == () for t, p in results if t < 3.0)
    assert all(p and p[0].label == "ice" for t, p in results if t >= 3.0)
    action = read_action(tmp_path / "ice.npz")
    assert len(action.examples) == 6 and action.sessions[0].source.startswith("video ")
    # The same part of the clip taught from the file gives the same examples.
    from_file = tmp_path / "from_file"
    teach_from_file(Config.from_options(model=MODEL, labels=LABELS, num_threads=2, video=str(CARVING_ICE),
                                        actions_dir=from_file, teach="ice", teach_from=1, teach_to=3))
    same = read_action(from_file / "ice.npz").examples.arrays()
    assert all(np.allclose(same[name], array, atol=1e-6) for name, array in action.examples.arrays().items())


def test_headless_the_source_samples_and_teaching_still_starts_a_fresh_stream(tmp_path):
    """As run() reads a camera with no window: frames are sampled where they are read, the rest never decoded."""
    sink = ListSink()
    live_run(tmp_path, CARVING_ICE, sink, teach="ice", teach_seconds=2, teach_countdown=1, taught="only")
    assert all(u.is_new for u in sink.updates)  # only the sampled frames come
    said = [text for _, text in notices(sink)]
    assert said[:3] == ["teaching 'ice': get ready, recording in 1", "teaching 'ice': recording, 2 s left",
                        "teaching 'ice': recording, 1 s left"] and said[3].startswith("taught 'ice': ")
    action = read_action(tmp_path / "ice.npz")
    assert 5 <= len(action.examples) <= 7 and action.sessions[0].seconds == pytest.approx(2.0, abs=0.25)
    after = [u.result.predictions for u in sink.updates if u.frame.timestamp >= 3.2]
    assert after and all(p and p[0].label == "ice" for p in after)


def test_the_t_key_teaches_the_same_action_again(tmp_path):
    sink = ListSink(Command.TEACH, at=4.0)  # after the first session
    live_run(tmp_path, ARM_WRESTLING, sink, teach="arms", teach_seconds=2, teach_countdown=1)
    said = [text for _, text in notices(sink)]
    assert said.count("teaching 'arms': get ready, recording in 1") == 2
    action = ActionStore(tmp_path).read("arms")
    assert action is not None and len(action.sessions) == 2
    # Reported after the second session (not on every frame: the clip's last seconds move unlike its first).
    assert any(p.label == "arms" for u in sink.updates if u.frame.timestamp >= 7.5 for p in u.result.predictions)


def test_the_t_key_without_teach_says_how(tmp_path, caplog):
    sink = ListSink(Command.TEACH, at=1.0)
    with caplog.at_level(logging.WARNING):
        live_run(tmp_path, CARVING_ICE, sink)
    assert "start classify.py with --teach NAME" in caplog.text and not list(tmp_path.iterdir())
    assert {u.status.teach for u in sink.updates} == {""}


def test_taught_only_says_none_of_them(tmp_path):
    teach_from_file(Config.from_options(model=MODEL, labels=LABELS, video=str(CARVING_ICE), actions_dir=tmp_path,
                                        teach="ice", teach_to=2.2))
    sink = ListSink()
    live_run(tmp_path, ARM_WRESTLING, sink, taught="only")
    last = sink.updates[-1]
    assert last.result.predictions == () and last.status.notice == NONE_OF_THEM


def amber_pixels(image: np.ndarray) -> int:
    return int(np.all(np.abs(image.astype(int) - BAR) < 40, axis=2).sum())


def test_the_overlay_shows_the_notice_above_the_results():
    black = np.zeros((480, 640, 3), np.uint8)
    assert amber_pixels(draw_overlay(black.copy(), (), Status())) == 0
    assert amber_pixels(draw_overlay(black.copy(), (), Status(notice="teaching 'ice': recording, 2 s left"))) > 200
    both = draw_overlay(black.copy(), (Prediction("ice", 0.9),), Status(notice="taught 'ice'"))
    assert amber_pixels(both[:40]) > 50 and amber_pixels(both[40:100]) > 50  # the notice, then the top-1's bar


class StallingCamera(OpenCVSource):
    """The clip, with no frame from 1.2 s to 3 s: a camera that stalls while it records."""

    def read(self) -> Frame | None:
        while (frame := super().read()) is not None and 1.2 <= frame.timestamp < 3.0:
            pass
        return frame


def test_too_little_video_is_not_taught(tmp_path):
    sink = ListSink()
    live_run(tmp_path, CARVING_ICE, sink, source_class=StallingCamera, teach="ice", teach_seconds=2,
             teach_countdown=1)
    said = [text for _, text in notices(sink)]
    assert "not taught: 0.2 s of video came, at least 1 s is needed" in said, said
    assert not (tmp_path / "ice.npz").exists()


def test_a_session_cut_short_by_the_end_of_the_stream_says_so(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        live_run(tmp_path, CARVING_ICE, ListSink(), teach="ice", teach_seconds=10, teach_countdown=1)
    lost = [r.getMessage() for r in caplog.records if "cut short" in r.getMessage()]
    assert len(lost) == 1 and lost[0].startswith("teaching 'ice' was cut short after 3.") and "nothing saved" in lost[0]
    assert not (tmp_path / "ice.npz").exists()


def test_the_web_views_undo_forgets_the_last_session(tmp_path):
    sink = ListSink(Command.UNDO_TEACH, at=4.0)  # after the first (and only) session
    live_run(tmp_path, ARM_WRESTLING, sink, teach="arms", teach_seconds=2, teach_countdown=1, taught="only")
    said = [text for _, text in notices(sink)]
    assert "undid the last session of 'arms', which was its only one: it is gone" in said, said
    assert ActionStore(tmp_path).read("arms") is None
    after = [u.result.predictions for u in sink.updates if u.is_new and u.frame.timestamp >= 4.5]
    assert after and all(p == () for p in after)  # no longer reported


def test_taught_labels_are_marked_and_the_status_line_does_not_hide_them():
    result = Result(3, 0.6, 2.0, (Prediction("carving ice", 0.7), Prediction("ice, mine", 0.55, taught=True)))
    assert [r.get("taught") for r in result.as_dict()["results"]] == [None, True]  # {"taught": true} when taught
    stream = io.StringIO()
    line = StatusLineSink(stream, interval=0)
    line.write(Update(Frame(np.zeros((8, 8, 3), np.uint8), 0.6, 3), result, True, Status()))
    assert stream.getvalue().startswith("carving ice 0.70 | ice, mine (taught) 0.55")  # rates: none measured yet


def test_ctrl_c_while_teaching_from_a_file_says_nothing_was_saved(tmp_path, monkeypatch, caplog):
    """classify.py's signal handler raises KeyboardInterrupt outside the frame loop; here the source does, after
    a few frames, as Ctrl-C would in the middle of the part."""
    import utils.teach

    class Interrupted(OpenCVSource):
        def read(self) -> Frame | None:
            frame = super().read()
            if frame is not None and frame.timestamp >= 1.5:
                raise KeyboardInterrupt
            return frame

    monkeypatch.setattr(utils.teach, "open_source", lambda options, size: Interrupted(str(options.video)))
    config = Config.from_options(model=MODEL, labels=LABELS, video=str(CARVING_ICE), actions_dir=tmp_path,
                                 teach="ice")
    with caplog.at_level(logging.WARNING), pytest.raises(KeyboardInterrupt):
        teach_from_file(config)
    assert [r.getMessage() for r in caplog.records] == ["teaching 'ice' was cut short: nothing saved"]
    assert not list(tmp_path.iterdir())


def test_teaching_into_a_folder_that_cannot_be_written_is_refused_before_the_camera_opens(tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    config = Config.from_options(model=MODEL, labels=LABELS, actions_dir=tmp_path / "file" / "actions", teach="ice")
    with pytest.raises(ClassifierError, match=r"cannot save the taught action in .*file/actions: Not a directory"):
        load_run(config)


def test_a_disk_that_fills_up_during_a_run_loses_the_session_not_the_run(tmp_path, caplog):
    with tmpfs(tmp_path / "disk", "400k") as folder:
        (folder / "filler").write_bytes(bytes(380 * 1024))  # room left for no session
        sink = ListSink()
        with caplog.at_level(logging.WARNING):
            live_run(folder, CARVING_ICE, sink, teach="ice", teach_seconds=2, teach_countdown=1)
        said = [text for _, text in notices(sink)]
        assert "not taught: 'ice' could not be saved (see the log)" in said
        assert "teaching 'ice': nothing saved: cannot save the taught action" in caplog.text
        assert "No space left on device" in caplog.text
        assert sink.updates[-1].frame.timestamp > 4.0  # the run went on to the clip's end
        assert sorted(p.name for p in folder.iterdir()) == ["filler"]
