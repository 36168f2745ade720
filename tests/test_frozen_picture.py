"""A live picture that freezes (the same frame, bit for bit, again and again) is an outage, as a camera that went
offline; a video file's frozen stretch is footage. The detector alone, then the app's loop with the real model."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, CLEANING_POOL, LABELS, MODEL, run_cli
from test_motion import ListSink

from utils.config import Config
from utils.pipeline import build_pipeline, change_test, fresh_start, load_classifier, window_frames
from utils.sinks.events import make_event_sink
from utils.sources import SyntheticSource, open_source, sampled_frames
from utils.sources.frame import Frame
from utils.sources.frozen import FROZEN_SECONDS, FrozenPicture
from utils.sources.health import ONLINE, SourceHealth

FPS = 30.0
FROZEN_AT, FROZEN_FOR = 60, 3.0  # the picture stops after frame 60 (2 s) for 3 s, then the footage goes on
CLIP = [frame.image for frame in sampled_frames(CARVING_ICE, 0)]  # every frame of the clip (131)


@pytest.mark.parametrize("clip", [CARVING_ICE, ARM_WRESTLING, CLEANING_POOL])
def test_a_moving_picture_is_never_frozen(clip):
    watch = FrozenPicture("camera")
    frames = [Frame(frame.image.copy(), frame.timestamp, frame.index) for frame in sampled_frames(clip, 0)]
    seen = [watch.check(frame) for frame in frames]
    assert watch.health is ONLINE
    # The encoder of two of the clips repeated one frame, bit for bit: left out, as a frame that did not come.
    # Arm wrestling's next one differs from it in two rows that the sample skips, by at most 2 of 255: left out too.
    repeated = {CARVING_ICE: [116], ARM_WRESTLING: [234, 235], CLEANING_POOL: []}[clip]
    assert [i for i, item in enumerate(seen) if item is not frames[i]] == repeated
    assert all(seen[i] is ONLINE for i in repeated)


def test_a_repeated_picture_is_left_out_then_frozen_after_the_time_by_stream_time(caplog):
    watch = FrozenPicture("camera 0")
    image = CLIP[0]
    assert isinstance(watch.check(Frame(image.copy(), 10.0, 0)), Frame)
    # Stream time, not the clock: 3 s of repeats are checked in no time at all.
    seen = [watch.check(Frame(image.copy(), 10.0 + i / 10, i)) for i in range(1, 31)]
    assert seen[:19] == [ONLINE] * 19, "a repeat is no new frame, and not yet an outage"
    frozen = seen[19:]  # from 12.0 s: FROZEN_SECONDS after the last new picture
    assert FROZEN_SECONDS == 2.0 and all(health is frozen[0] for health in frozen)
    assert frozen[0].frozen and not frozen[0].online
    assert re.fullmatch(r"camera picture frozen since \d\d:\d\d:\d\d; waiting for it to move", frozen[0].describe())
    assert frozen[0].as_dict()["frozen"] is True and frozen[0].as_dict()["online"] is False
    moved = Frame(CLIP[1].copy(), 13.5, 31)
    assert watch.check(moved) is moved and watch.health is ONLINE
    assert watch.check(Frame(CLIP[1].copy(), 13.6, 32)) is ONLINE, "and the new picture is the one compared with"
    messages = [r.getMessage() for r in caplog.records if r.name == "utils.sources.frozen"]
    assert messages == [f"{frozen[0].describe()} (camera 0 repeats its last frame)",
                        "camera picture moving again after 4 s (camera 0)"]


def test_a_change_of_one_row_in_four_is_a_new_picture():
    watch = FrozenPicture("camera")
    image = CLIP[0].copy()
    watch.check(Frame(image, 0.0, 0))
    changed = image.copy()
    changed[40:44, 100] += 1  # four rows, one pixel wide: the sampled row among them sees it
    assert isinstance(watch.check(Frame(changed, 0.1, 1)), Frame)


class FrozenCamera:
    """The clip as a live camera at 30 fps whose picture stops after frame FROZEN_AT: for FROZEN_FOR s it delivers
    that frame again, bit-identical, in a new buffer each time, as OpenCV's videoio returns a USB camera's last
    frame forever once it is unplugged (opencv/opencv#5221); then the footage goes on from where it stopped. Stream
    time runs on meanwhile, as a live source stamps frames on arrival. `away`: instead, no frame comes for that time
    (the outage a reconnecting source reports, utils/sources/reconnect.py)."""

    live = True
    nominal_fps = FPS
    description = "frozen camera"

    def __init__(self, away: bool = False) -> None:
        self._items = self._play(away)

    def _play(self, away: bool) -> Iterator[Frame | SourceHealth]:
        repeats = round(FROZEN_FOR * FPS)
        order = [*range(FROZEN_AT + 1), *[FROZEN_AT] * repeats, *range(FROZEN_AT + 1, len(CLIP))]
        offline = SourceHealth(offline_since=time.time())
        for index, clip_index in enumerate(order):
            repeated = FROZEN_AT < index <= FROZEN_AT + repeats
            yield offline if away and repeated else Frame(CLIP[clip_index].copy(), index / FPS, index)

    def read(self) -> Frame | SourceHealth | None:
        return next(self._items, None)

    def close(self) -> None:
        pass


def run_app(camera: FrozenCamera, folder: Path) -> tuple[ListSink, list]:
    """The app's loop as classify.py builds it for a live camera, with --event "carving ice"."""
    config = Config.from_options(model=MODEL, labels=LABELS, num_threads=2, event=("carving ice",),
                                 events_dir=folder, display="none")
    classifier, prediction_filter = load_classifier(config)
    classifier.set_window(window_frames(config, camera), change_test(config, camera), fresh_start(config, camera))
    events, shown = make_event_sink(config.events, camera.description, FPS), ListSink()
    try:
        build_pipeline(config, classifier, prediction_filter, None, camera, [events, shown]).run()
    finally:
        events.close()
    return shown, events.events


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory):
    """The same camera away for the same time: what the frozen picture must mirror."""
    return run_app(FrozenCamera(away=True), tmp_path_factory.mktemp("offline"))


def test_a_frozen_live_picture_is_an_outage_as_a_camera_that_went_offline(offline_run, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    shown, events = run_app(FrozenCamera(), tmp_path)
    resumed = FROZEN_AT + round(FROZEN_FOR * FPS) + 1  # the first frame of the footage going on
    classified = [u.result.frame for u in shown.updates if u.is_new]
    assert classified and not [i for i in classified if FROZEN_AT < i < resumed], "the model got a frozen frame"
    assert not [u for u in shown.updates if FROZEN_AT < u.frame.index < resumed and u.status.source.online], \
        "no repeated frame reaches the outputs as a picture"

    # The outputs show the outage, with a dark frame and no result, from FROZEN_SECONDS after the picture stopped.
    outage = [u for u in shown.updates if not u.status.source.online]
    assert outage and all(u.status.source.frozen and u.result is None and not u.frame.image.any() for u in outage)
    assert outage[0].status.source.describe().startswith("camera picture frozen since ")
    assert len(outage) == round((FROZEN_FOR - FROZEN_SECONDS) * FPS) + 1
    log = caplog.text
    assert log.count("camera picture frozen since") == 1 and log.count("camera picture moving again after 3 s") == 1
    assert log.count("stream reset") == 1, "the footage going on starts the stream afresh, as after an outage"

    # The events and the results after it are those of the camera that went away for the same time.
    offline_shown, offline_events = offline_run
    assert [(e.label, e.start, e.end, e.reason) for e in events] == \
        [(e.label, e.start, e.end, e.reason) for e in offline_events]
    assert events and events[0].end >= resumed / FPS, "the freeze ended no event"
    assert [(u.result.frame, u.result.predictions) for u in shown.updates if u.is_new] == \
        [(u.result.frame, u.result.predictions) for u in offline_shown.updates if u.is_new]


def test_cameras_and_streams_are_watched_and_files_are_not():
    config = Config.from_options(model=MODEL, labels=LABELS, video=str(CARVING_ICE), display="none")
    classifier, prediction_filter = load_classifier(config)
    with closing(open_source(config.source, classifier.input_size)) as file:  # --video: read as a file, not live
        assert build_pipeline(config, classifier, prediction_filter, None, file, []).frozen is None
    # The Pi camera's source has no `live` attribute: it is live, as this stand-in without one.
    for live in (SyntheticSource(), FrozenCamera()):
        assert isinstance(build_pipeline(config, classifier, prediction_filter, None, live, []).frozen, FrozenPicture)


def test_a_video_file_with_a_frozen_stretch_is_footage(tmp_path):
    video = tmp_path / "stretch.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), FPS, CLIP[0].shape[1::-1])
    for index in [*range(FROZEN_AT + 1), *[FROZEN_AT] * round(FROZEN_FOR * FPS), *range(FROZEN_AT + 1, len(CLIP))]:
        writer.write(CLIP[index])
    writer.release()
    frames = [frame.image for frame in sampled_frames(video, 0)]
    assert np.array_equal(frames[FROZEN_AT], frames[FROZEN_AT + 50]), "the file's frozen frames are bit-identical"

    run = run_cli("--video", str(video), "--display", "none", "--json")
    assert run.returncode == 0, run.stderr
    assert "picture frozen" not in run.stderr and "stream reset" not in run.stderr
    times = [record["timestamp"] for record in run.records]
    assert len(times) == 37 and times == pytest.approx([i * 0.2 for i in range(37)]), \
        "every 5 fps frame is classified, the frozen stretch too"
