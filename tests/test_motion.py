"""The motion gate, --motion-mask and --crop: with the real model on real clips and clips made from them."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, LABELS, MODEL, run_cli

from benchmarks.motion import first_frame, write_still_clip
from utils.areas import Area
from utils.config import Config
from utils.errors import ClassifierError
from utils.pipeline import STILL, Pipeline, load_classifier
from utils.sinks import Status, Update
from utils.sinks.overlay import draw_overlay
from utils.sources import OpenCVSource, sampled_frames
from utils.sources.frame import ClosingSource, Frame
from utils.sources.motion import HOLD_SECONDS, MotionGate

FPS = 5


@pytest.fixture(scope="module")
def model():
    return load_classifier(Config.from_options(model=MODEL, labels=LABELS, num_threads=2))


@pytest.fixture(scope="module")
def still_frame():
    return first_frame(ARM_WRESTLING, 2.0)


class FramesSource(ClosingSource):
    """Frames from memory with their own timestamps, delivered as a camera delivers them."""

    description = "frames"
    nominal_fps = 30.0

    def __init__(self, frames: list[Frame]) -> None:
        self.frames = iter(frames)

    def read(self) -> Frame | None:
        return next(self.frames, None)

    def close(self) -> None:
        pass


class ListSink:
    needs_status = True
    wants_every_frame = False

    def __init__(self) -> None:
        self.updates: list[Update] = []

    def write(self, update: Update) -> None:
        self.updates.append(update)

    def close(self) -> None:
        pass


def json_run(video, *flags: str) -> list[dict]:
    done = run_cli("--video", str(video), "--display", "none", "--json", *flags)
    assert done.returncode == 0, done.stderr
    return done.records


def test_a_frozen_frame_is_still_after_the_hold_and_the_model_is_not_run(tmp_path, still_frame):
    video = write_still_clip(tmp_path / "frozen.avi", still_frame, 12)
    records = json_run(video, "--motion", "on")
    assert len(records) == 12 * FPS  # one line per sampled frame, classified or not
    invoked = [r for r in records if not r["still"]]
    # The start counts as motion (a stream starts classifying at once); then nothing moves.
    assert invoked and all(r["timestamp"] <= HOLD_SECONDS + 1e-6 for r in invoked)
    still = [r for r in records if r["still"]]
    assert len(still) == len(records) - len(invoked) >= 7 * FPS
    assert all(r["results"] == [] and r["inference_ms"] == 0 for r in still)


def test_noise_flicker_and_a_slow_brightness_ramp_stay_still(tmp_path, still_frame):
    """Sensor noise (6 grey levels), auto-exposure steps of up to 5 % every second, 30 % brighter over 30 s,
    JPEG artefacts on top: none of it is motion."""
    for ramp in (0.3, -0.3):
        video = write_still_clip(tmp_path / "noisy.avi", still_frame, 30, noise=6, ramp=ramp, flicker=0.05)
        gate = MotionGate()
        states = [(frame.timestamp, gate.check(frame)) for frame in sampled_frames(video, FPS)]
        assert len(states) == 30 * FPS
        after_hold = [state for timestamp, state in states if timestamp > HOLD_SECONDS]
        assert not any(state.moving for state in after_hold), max(state.changed for state in after_hold)


def test_a_moving_clip_gives_the_same_results_as_without_the_gate():
    for clip in (CARVING_ICE, ARM_WRESTLING):
        gated, plain = json_run(clip, "--motion", "on"), json_run(clip)
        assert all(r["still"] is False for r in gated)
        assert all("still" not in r for r in plain)  # files are not gated by default: their JSON is as it was
        assert [{k: v for k, v in r.items() if k not in ("still", "inference_ms")} for r in gated] == \
               [{k: v for k, v in r.items() if k != "inference_ms"} for r in plain]


def test_motion_after_stillness_restarts_the_stream_at_the_next_sampled_frame(model, still_frame):
    classifier, prediction_filter = model
    moving = [frame.image for frame in sampled_frames(ARM_WRESTLING, 0)]
    still_seconds = 8.0
    still_count = round(still_seconds * 30)
    images = [still_frame] * still_count + moving
    frames = [Frame(image, i / 30, i) for i, image in enumerate(images)]
    sink = ListSink()
    classifier.set_window(0)
    pipeline = Pipeline(classifier, prediction_filter, FramesSource(frames), [sink], FPS, gate=MotionGate())
    pipeline.run()
    new = [u for u in sink.updates if u.is_new]
    assert new[-FPS * 3].result.still is False
    stopped = next(u for u in new if u.result.still)
    assert stopped.frame.timestamp <= HOLD_SECONDS + 1.0 / FPS + 1e-6
    assert stopped.status.notice == STILL and stopped.result.predictions == ()
    restarted = next(u for u in new if u.frame.index >= still_count)
    assert restarted.result.still is False  # the first sampled frame of the motion is classified
    assert restarted.frame.timestamp - still_seconds < 1.0 / FPS
    # ... from a fresh stream: the same scores as the moving frames classified from a reset model.
    classifier.reset()
    after = [u for u in new if u.frame.index >= still_count][:3]
    for update in after:
        expected = prediction_filter(classifier.classify(update.frame.model_rgb(classifier.input_size)))
        assert [(p.label, round(p.score, 5)) for p in update.result.predictions] == \
               [(p.label, round(p.score, 5)) for p in expected]


def test_a_masked_area_never_counts_as_motion(still_frame):
    """A flashing TV in the right third: motion without the mask, still with it."""
    def frames():
        for i in range(30 * 12):
            image = still_frame.copy()
            if (i // 10) % 2:
                image[:, -image.shape[1] // 3:] = 255 - image[:, -image.shape[1] // 3:]
            yield Frame(image, i / 30, i)

    def still_share(gate: MotionGate) -> float:
        states = [gate.check(frame) for frame in frames() if frame.index % 6 == 0]
        return sum(not state.moving for state in states) / len(states)

    assert still_share(MotionGate()) == 0
    assert still_share(MotionGate(mask=(Area(0.6, 0, 0.4, 1),))) > 0.5


def test_the_crop_is_what_is_classified(model):
    classifier, prediction_filter = model
    crop = Area(0.25, 0.25, 0.5, 0.5)

    def run(crop: Area | None) -> list:
        sink = ListSink()
        classifier.set_window(0)
        classifier.reset()
        with OpenCVSource(str(CARVING_ICE)) as source:
            Pipeline(classifier, prediction_filter, source, [sink], FPS, crop=crop).run()
        return [u.result.predictions for u in sink.updates if u.is_new]

    cropped, whole = run(crop), run(None)
    assert cropped != whole
    classifier.reset()
    for predictions, frame in zip(cropped[:4], sampled_frames(CARVING_ICE, FPS)):
        part = dataclasses.replace(frame, image=np.ascontiguousarray(crop.of(frame.image)))
        expected = prediction_filter(classifier.classify(part.model_rgb(classifier.input_size)))
        assert [(p.label, round(p.score, 5)) for p in predictions] == \
               [(p.label, round(p.score, 5)) for p in expected]


def test_the_overlay_shows_the_mask_and_the_crop(still_frame):
    plain = draw_overlay(still_frame.copy(), (), Status())
    mask, crop = Area(0.0, 0.4, 0.3, 0.3), Area(0.5, 0.3, 0.4, 0.5)
    shown = draw_overlay(still_frame.copy(), (), Status(crop=crop, mask=(mask,)))
    x0, y0, x1, y1 = mask.pixels(shown.shape[1], shown.shape[0])
    inside = (slice(y0 + 20, y1 - 20), slice(x0 + 20, x1 - 20))
    assert shown[inside].mean() < 0.6 * plain[inside].mean()  # dimmed
    x0, y0, x1, y1 = crop.pixels(shown.shape[1], shown.shape[0])
    assert (shown[y0 + 40:y1 - 40, x1 - 1] != plain[y0 + 40:y1 - 40, x1 - 1]).any()  # outlined
    assert (shown[y0 + 40:y1 - 40, x0 + 40:x1 - 40] == plain[y0 + 40:y1 - 40, x0 + 40:x1 - 40]).all()  # not covered


@pytest.mark.parametrize("flags, needle", [
    (["--crop", "0.5,0.5,0.6,0.1"], "--crop 0.5,0.5,0.6,0.1 is not inside the picture"),
    (["--crop", "0.1,0.1,0.5"], "--crop takes one area, x,y,w,h"),
    (["--crop", "10,10,100,100"], "is not inside the picture"),
    (["--motion-mask", "0.1,0.1,0.2"], "--motion-mask takes x,y,w,h (four numbers per area"),
    (["--motion-mask", "a,b,c,d"], "--motion-mask takes numbers"),
    (["--motion-mask", ""], "argument --motion-mask: takes x,y,w,h (fractions of the picture from 0 to 1; "),
    (["--crop", " "], "argument --crop: takes x,y,w,h (fractions of the picture from 0 to 1; "),
    (["--motion-mask", "0,0,0.2,0.2", "--motion", "off"], "--motion-mask is for the motion gate"),
    (["--motion-mask", "0,0,0.2,0.2"], "which --motion auto leaves off for files: add --motion on"),
    (["--motion", "on", "--motion-mask", "0,0,1,1"], "the motion mask covers the whole picture"),
    (["--motion", "150"], "--motion: takes auto, on, off or the share of the picture"),
    (["--motion", "sometimes"], "--motion: takes auto, on, off"),
])
def test_bad_areas_and_modes_are_one_line_and_exit_2(flags, needle):
    done = run_cli("--video", str(CARVING_ICE), "--display", "none", *flags)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr and needle in lines[-1], done.stderr
    assert sum("error" in line for line in lines) == 1


def test_the_config_file_takes_the_areas_as_the_flags_do(tmp_path):
    from utils.config_file import read_config_file

    path = tmp_path / "config.toml"
    path.write_text('motion = "2.5"\nmotion-mask = ["0,0,0.2,0.2", "0.8,0,0.2,0.2"]\ncrop = "0.1,0.1,0.8,0.8"\n')
    config = Config.from_options(**read_config_file(path))
    assert config.motion.mask_areas == (Area(0, 0, 0.2, 0.2), Area(0.8, 0, 0.2, 0.2))
    assert config.motion.crop_area == Area(0.1, 0.1, 0.8, 0.8)
    assert config.motion.mask_areas is config.motion.mask_areas  # parsed once, as the config was built
    assert config.motion.percent(live=False) == 2.5
    path.write_text('motion-mask = ["0,0,0.2,0.2", ""]\n')
    with pytest.raises(ClassifierError, match=r"config.toml: motion-mask takes x,y,w,h \(fractions .*, got \[.*''\]$"):
        read_config_file(path)
    path.write_text('mask-areas = ["0,0,0.2,0.2"]\n')  # what is worked out from the options is not one
    with pytest.raises(ClassifierError, match="unknown key 'mask-areas'"):
        read_config_file(path)
    assert Config().motion.percent(live=True) is not None and Config().motion.percent(live=False) is None


def test_the_pi_cameras_lores_luma_gives_the_same_picture_as_the_full_frame(still_frame):
    """picamera2's lores stream is I420 (Y plane first, rows maybe padded to a stride): its luma, shrunk, is the
    grey picture the gate would take from the full BGR frame."""
    from utils.sources.motion import grey_small

    width, height = 172, 172
    yuv = cv2.cvtColor(cv2.resize(still_frame, (width, height), interpolation=cv2.INTER_AREA),
                       cv2.COLOR_BGR2YUV_I420)
    padded = np.zeros((yuv.shape[0], 192), np.uint8)  # the Pi 5 pads rows (here to 192 bytes)
    padded[:, :width] = yuv
    from_lores = grey_small(Frame(still_frame, 0.0, 0, lores=padded, lores_width=width))
    from_image = grey_small(Frame(still_frame, 0.0, 0))
    assert from_lores.shape == from_image.shape
    # The same picture; the levels differ by the video range YUV uses (16..235), which the gate compares
    # only with itself.
    assert np.corrcoef(from_lores.ravel(), from_image.ravel())[0, 1] > 0.98


def test_mqtt_shows_no_action_while_still(tmp_path, still_frame, mosquitto):
    """Home Assistant's action sensor reads results[0] or 'none': the retained state of a still room has none."""
    from test_mqtt import NAME, TOPICS, Subscriber

    video = write_still_clip(tmp_path / "frozen.avi", still_frame, 8)
    done = run_cli("--video", str(video), "--display", "none", "--json", "--motion", "on", "--mqtt", mosquitto.url,
                   "--name", NAME)
    assert done.returncode == 0, done.stderr
    assert done.records[0]["still"] is False and done.records[-1]["still"] is True
    late = Subscriber(mosquitto.port)  # what Home Assistant finds on the broker afterwards
    try:
        late.wait_for(lambda: late.on(TOPICS.state))
        state = json.loads(late.on(TOPICS.state)[-1])
        assert state["results"] == [] and state["still"] is True
    finally:
        late.close()
