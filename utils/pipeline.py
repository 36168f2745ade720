"""The loop: source -> sampler -> classifier -> sinks, on the main thread."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from utils import __version__
from utils.areas import Area
from utils.config import BOUNDS, Config, is_loopback
from utils.errors import ClassifierError
from utils.model.fresh_start import FreshStart
from utils.model.head_window import ChangeTest
from utils.model.labels import load_labels
from utils.model.predictions import PredictionFilter, check_names
from utils.model.stream_classifier import StreamClassifier
from utils.model.taught import LiveTeaching, RunActions, TaughtPredictions, load_run_actions, observer
from utils.model.taught.live import Phase
from utils.model.taught.store import ActionStore
from utils.rate import RateMeter
from utils.results import Result
from utils.run_summary import RunSummary
from utils.sampler import FrameSampler
from utils.sinks.base import Command, Sink, Status, Update
from utils.sinks.display import choose_display
from utils.sinks.factory import make_sinks
from utils.sources import FrameSource, is_live, open_source, pi_camera_list, video_length
from utils.sources.demand import Demand
from utils.sources.frame import Frame
from utils.sources.frozen import FrozenPicture
from utils.sources.health import SourceHealth
from utils.sources.motion import MotionGate
from utils.sources.picamera import pi_camera_fps
from utils.stop import Stop
from utils.system_info import ThrottleWatch

if TYPE_CHECKING:
    from utils.sinks.mqtt import MqttSink

log = logging.getLogger(__name__)

DEFAULT_SOURCE_FPS = 30.0  # for --window with --fps 0 when a source does not say its rate
# The window's memory is bounded whatever the flags say: 3000 frames are 10 minutes at 5 fps (5.8 MB for A0).
MAX_WINDOW_FRAMES = 3000
# The change test's 10 s of features likewise (a file may claim any rate with --fps 0): at most --fps's own limit.
MAX_CHANGE_TEST_RATE = BOUNDS["fps"].high
STILL = "still: nothing moves"  # what the screen says while the motion gate holds the model back


class Pipeline:
    """Reads every frame, classifies those the sampler picks, and hands each frame to every sink.

    While a live source is offline the sinks get, every few tenths of a second, a dark frame of the last
    frame's size with the outage in its status; the first frame after it starts the stream afresh. A picture that
    stops moving (`frozen`) is the same outage: its repeated frames reach neither the model nor the sinks.
    """

    def __init__(self, classifier: StreamClassifier, prediction_filter: PredictionFilter | TaughtPredictions,
                 source: FrameSource, sinks: Sequence[Sink], fps: float, stop: Stop | None = None,
                 sampler: FrameSampler | None = None, teaching: LiveTeaching | None = None,
                 gate: MotionGate | None = None, crop: Area | None = None,
                 frozen: FrozenPicture | None = None) -> None:
        """`sampler` is the one the source's demand uses, when it samples the frames where it reads them;
        `gate` skips the model while nothing moves; `crop` is the part of the picture that is classified;
        `frozen` watches a live source for a picture that repeats (None: a file, whose frames are the footage)."""
        self.classifier = classifier
        self.gate = gate
        self.frozen = frozen
        self.crop = crop
        self.prediction_filter = prediction_filter
        self.source = source
        self.sinks = list(sinks)
        self.sampler = sampler or FrameSampler(fps)
        self.stop = stop or Stop()
        self.teaching = teaching
        self.result: Result | None = None
        self._last_frame: Frame | None = None
        self._last_index = -1
        self._outage_shown = False
        self.summary = RunSummary()
        self._capture_rate = RateMeter()
        self._classify_rate = RateMeter()
        self._model_name = classifier.model_path.stem
        # The rates and the CPU are measured only when a sink shows them (psutil is imported only then, too).
        self._needs_status = any(sink.needs_status for sink in self.sinks)
        if self._needs_status:
            from utils.system_info import CpuMonitor

            self._cpu = CpuMonitor()

    @property
    def classified(self) -> int:
        """Frames classified so far (the run's summary counts them)."""
        return self.summary.frames

    def reset(self) -> None:
        """Starts the stream afresh (the `r` key): states, sampler and the shown result."""
        self.classifier.reset()
        self.sampler.reset()
        if self.gate is not None:
            self.gate.reset()
        self.result = None
        log.info("stream reset")

    def step(self, frame: Frame) -> Update:
        """Classifies the frame if it is due and returns what the sinks get."""
        self._capture_rate.tick(count=frame.index - self._last_index)  # frames a source skipped count too
        self._last_index = frame.index
        if self.teaching and self.teaching.starts_recording(frame.timestamp):
            self.reset()  # the examples come from a fresh stream, as when teaching from a file
        is_new = frame.due if frame.due is not None else self.sampler.should_classify(frame.timestamp)
        if is_new and not self._moves(frame):
            self.result = Result(frame.index, frame.timestamp, 0.0, (), still=True)
        elif is_new:
            probabilities, ms = self.classifier.timed_classify(self._model_rgb(frame))
            self.result = Result(frame.index, frame.timestamp, ms, self.prediction_filter(probabilities),
                                 still=False if self.gate else None)
            if self.teaching:
                self.teaching.classified()
            self._classify_rate.tick()
            self.summary.add(self.result)
        return Update(frame, self.result, is_new, self._status() if self._needs_status else Status())

    def _moves(self, frame: Frame) -> bool:
        """The motion gate's word on a sampled frame (True without a gate); when motion starts after stillness,
        the stream starts afresh, as the model names an action soon after a fresh start."""
        if self.gate is None:
            return True
        state = self.gate.check(frame)
        if self.teaching and self.teaching.phase is Phase.RECORDING:
            return True  # a recording for teaching is whole, even if the action is slow
        if state.started:
            self.classifier.reset()
        return state.moving

    def _model_rgb(self, frame: Frame) -> np.ndarray:
        return model_view(frame, self.crop, self.classifier.input_size)

    def outage(self, health: SourceHealth) -> Update:
        """What the sinks show while the source is offline: a dark frame, no result, the outage in the status."""
        self._outage_shown = True
        last = self._last_frame
        shape = last.image.shape if last is not None else (480, 640, 3)
        frame = Frame(np.zeros(shape, np.uint8), last.timestamp if last else 0.0, last.index if last else 0)
        status = self._status() if self._needs_status else Status()
        return Update(frame, None, False, dataclasses.replace(status, source=health))

    def teach(self) -> None:
        """The t key and the web view's button: a teaching session for the --teach action."""
        if self.teaching is None:
            log.warning("nothing to teach: start classify.py with --teach NAME to teach NAME with the t key or "
                        "the web view's button")
        else:
            self.teaching.start()

    def undo_teaching(self) -> None:
        """The web view's undo button: the --teach action's last session is forgotten."""
        if self.teaching is None:
            log.warning("nothing to undo: start classify.py with --teach NAME to undo NAME's last session")
        else:
            self.teaching.undo()

    def _status(self) -> Status:
        temperature, cpu = self._cpu.read()
        return Status(self._capture_rate.rate, self._classify_rate.rate,
                      self.result.inference_ms if self.result else 0.0, self._model_name,
                      self.classifier.num_threads, temperature, cpu, notice=self._notice(),
                      teach=self.teaching.name if self.teaching else "",
                      teach_what=self.teaching.what if self.teaching else "", crop=self.crop,
                      mask=self.gate.mask if self.gate else ())

    def _notice(self) -> str:
        """The teaching countdown, else what the screen says when no label is reported."""
        if self.teaching and (teaching := self.teaching.notice):
            return teaching
        if self.result and self.result.still:
            return STILL
        return self.prediction_filter.nothing if self.result and not self.result.predictions else ""

    def run(self) -> int:
        """Runs until the source ends or a sink or signal asks to stop; returns the frames classified."""
        self.stop.in_loop = True
        try:
            while not self.stop.is_set():
                item = self.source.read()
                if item is None:
                    break
                if self.frozen is not None and isinstance(item, Frame):
                    item = self.frozen.check(item)  # a repeated picture is no frame; a long run of them, an outage
                if isinstance(item, SourceHealth):  # no frame for a moment: a stall or an outage
                    if not item.online:
                        self._send(self.outage(item))
                    continue
                if self._outage_shown:  # the camera is back, maybe on another scene: start afresh
                    self._outage_shown = False
                    self.reset()
                self._last_frame = item
                self._send(self.step(item))
        finally:
            self.stop.in_loop = False
            if self.teaching:
                self.teaching.end()
        return self.classified

    def _send(self, update: Update) -> None:
        for sink in self.sinks:
            command = sink.write(update)
            if command is Command.QUIT:
                self.stop.set()
            elif command is Command.RESET:
                self.reset()
            elif command is Command.TEACH:
                self.teach()
            elif command is Command.UNDO_TEACH:
                self.undo_teaching()


def classified_rate(config: Config, source: FrameSource) -> float:
    """Frames classified per second of video: --fps, or the source's own rate with --fps 0."""
    return config.source.fps or source.nominal_fps or DEFAULT_SOURCE_FPS


def window_frames(config: Config, source: FrameSource) -> int:
    """--window in classified frames: seconds times the rate at which frames are classified."""
    seconds = config.classifier.window_seconds
    return min(MAX_WINDOW_FRAMES, max(1, round(seconds * classified_rate(config, source)))) if seconds else 0


def change_test(config: Config, source: FrameSource) -> ChangeTest | None:
    """How a change of action restarts the window at this run's classified rate (None: --fixed-window, or none)."""
    if config.classifier.fixed_window or not config.classifier.window_seconds:
        return None
    return ChangeTest.at_rate(min(classified_rate(config, source), MAX_CHANGE_TEST_RATE))


def fresh_start(config: Config, source: FrameSource) -> FreshStart | None:
    """--fresh-start at this run's classified rate (None: off). Without a change test to suspect a change with,
    StreamClassifier.set_window leaves it off."""
    if not config.classifier.fresh_start:
        return None
    return FreshStart.at_rate(min(classified_rate(config, source), MAX_CHANGE_TEST_RATE))


def load_model(config: Config) -> tuple[StreamClassifier, list[str]]:
    """The model and its labels, checked against each other."""
    options = config.classifier
    labels = load_labels(options.labels)
    classifier = StreamClassifier(options.model, options.num_threads, options.runtime, smoothing=options.smoothing)
    if len(labels) != classifier.num_classes:
        raise ClassifierError(
            f"label file {options.labels} has {len(labels)} labels but model {options.model} has "
            f"{classifier.num_classes} classes; use the Kinetics-600 label file from ./download_models.sh")
    return classifier, labels


def prediction_filter_for(config: Config, labels: Sequence[str]) -> PredictionFilter:
    """The filter for the labels a run reports; the events' actions must be among them too."""
    check_names(config.events.labels(), labels, "--event/--gpio")
    results = config.results
    return PredictionFilter(labels, results.max_results, results.score_threshold, results.allow, results.deny)


def load_classifier(config: Config) -> tuple[StreamClassifier, PredictionFilter]:
    """The model and the label filter, checked against each other."""
    classifier, labels = load_model(config)
    return classifier, prediction_filter_for(config, labels)


def load_run(config: Config) -> tuple[StreamClassifier, PredictionFilter, RunActions | None]:
    """The model, the label filter and the taught actions, all checked before the camera opens."""
    classifier, labels = load_model(config)
    taught = load_run_actions(config.taught, Path(config.classifier.model), labels, classifier.embedding_size)
    if taught is not None:
        classifier.require_embedding()
    check_taught_names(config, labels, taught)
    prediction_filter = prediction_filter_for(config, [*labels, *(taught.names if taught else ())])
    return classifier, prediction_filter, taught


def check_taught_names(config: Config, labels: Sequence[str], taught: RunActions | None) -> None:
    """Names this run can never report, though they are known: the model's labels under --taught only, and taught
    actions under --taught off (the label file's own check would call them unknown)."""
    named = [*config.events.labels(), *config.results.allow]
    if config.taught.taught == "only" and taught is not None:
        model_labels = [name for name in named if name not in taught.names]
        if model_labels:
            raise ClassifierError(f"--taught only reports taught actions only, so {', '.join(map(repr, model_labels))} "
                                  "would never be reported; name taught actions, or use --taught also")
    unknown = [name for name in named if name not in labels]
    if config.taught.taught == "off" and unknown:
        store = ActionStore(config.taught.actions_dir)
        files = store.files()
        off = [name for name in unknown if store.path(name) in files]
        if off:
            raise ClassifierError(f"{', '.join(map(repr, off))}: taught, but --taught off leaves taught actions out; "
                                  "use --taught also")


def build_pipeline(config: Config, classifier: StreamClassifier, prediction_filter: PredictionFilter,
                   taught: RunActions | None, source: FrameSource, sinks: Sequence[Sink],
                   stop: Stop | None = None, sampler: FrameSampler | None = None) -> Pipeline:
    """The loop over an open source, with the taught actions' scores and live teaching when the run has them."""
    gate, crop = motion_gate(config, source), config.motion.crop_area
    frozen = FrozenPicture(source.description) if is_live(source) else None
    if taught is None:
        pipeline = Pipeline(classifier, prediction_filter, source, sinks, config.source.fps, stop, sampler,
                            gate=gate, crop=crop, frozen=frozen)
    else:
        rate, frames = classified_rate(config, source), window_frames(config, source)
        observe = observer(classifier, rate)
        predictions = taught.predictions(prediction_filter, observe, rate, frames)
        teaching = taught.live_teaching(predictions, observe, rate, frames, source.description)
        pipeline = Pipeline(classifier, predictions, source, sinks, config.source.fps, stop, sampler, teaching,
                            gate, crop, frozen)
    pipeline.summary.length = video_length(source)
    return pipeline


def model_view(frame: Frame, crop: Area | None, size: tuple[int, int]) -> np.ndarray:
    """What the model sees: the whole frame, or --crop's part of the full picture (not of the small lores one,
    which would leave few pixels to a far-away crop)."""
    if crop is None:
        return frame.model_rgb(size)
    return Frame(np.ascontiguousarray(crop.of(frame.image)), frame.timestamp, frame.index).model_rgb(size)


def window_text(classifier: StreamClassifier, config: Config) -> str:
    """How the scores are made from the frames, in plain words."""
    window = classifier.window
    if window is None:
        return "scores: from everything seen since the start (--window 0)"
    text = f"scores: the average of the last {config.classifier.window_seconds:g} s ({window.frames} frames)"
    text += "; it starts afresh when the action changes" if window.change else ""
    return text + ("; a fresh stream checks each suspected change" if classifier.fresh else "")


def event_counts(sinks: Sequence[Sink]) -> dict[str, int] | None:
    """Events per action that ended during the run (None: no events were watched)."""
    from utils.sinks.events import EventSink

    watching = [sink for sink in sinks if isinstance(sink, EventSink)]
    if not watching:
        return None
    return dict(Counter(event.label for sink in watching for event in sink.events))


def attach_mqtt(mqtt: MqttSink, config: Config, sinks: list[Sink]) -> None:
    """The MQTT sink goes right after the events' sink: the events end before the connection closes, and an
    event's snapshot is taken before the window or the web view draw their overlay onto the frame."""
    from utils.sinks.events import EventSink
    from utils.sinks.mqtt import MqttEventOutput

    if web_view_linked(config):
        from utils.sinks.web import WebSink

        mqtt.link_web_view(next((sink.url for sink in sinks if isinstance(sink, WebSink)), None))
    events = [sink for sink in sinks if isinstance(sink, EventSink)]
    sinks.insert(sinks.index(events[0]) + 1 if events else 0, mqtt)
    for sink in events:
        sink.add_output(MqttEventOutput(mqtt))


def web_view_linked(config: Config) -> bool:
    """Whether Home Assistant's device gets a "Visit" link to the web view: only when other computers can open
    it (127.0.0.1 would be the browser's own computer)."""
    return (config.output.web or config.output.display == "web") and not is_loopback(config.output.web_host)


def open_mqtt_for(config: Config, classifier: StreamClassifier) -> MqttSink | None:
    """The MQTT output when --mqtt asks for it (with --mqtt-required, a broker that cannot be used stops here)."""
    if not config.mqtt.mqtt:
        return None
    from utils.sinks.mqtt import open_mqtt  # paho only where MQTT is used

    return open_mqtt(config.mqtt, config.events.event, __version__, classifier.model_path.stem,
                     web_link_pending=web_view_linked(config))


def motion_gate(config: Config, source: FrameSource) -> MotionGate | None:
    """The motion gate for this source: --motion auto gates cameras and streams, not files (their results
    stay as they were); on or a percent gates any source."""
    options = config.motion
    percent = options.percent(live=is_live(source))
    if percent is None:
        if options.motion_mask:
            raise ClassifierError("--motion-mask is for the motion gate, which --motion auto leaves off for "
                                  "files: add --motion on")
        return None
    try:
        gate = MotionGate(percent, options.crop_area, options.mask_areas)
    except ValueError as e:
        raise ClassifierError(str(e)) from None
    log.info("motion gate: the model runs while at least %g %% of the picture%s changes, and %g s after",
             percent, " (less the mask)" if options.motion_mask else "", gate.hold_seconds)
    return gate


def run(config: Config, stop: Stop | None = None) -> int:
    """Runs the whole app for a Config; returns the number of classified frames."""
    if config.events.enabled:
        from utils.events.journal import check_writable_folder  # (the events' modules only where events are used)

        check_writable_folder(config.events.events_dir)  # a bad --events-dir is found before anything starts
    classifier, prediction_filter, taught = load_run(config)
    # picamera2's camera list, asked once for the display choice (DRM needs a Pi camera) and the source.
    cameras = pi_camera_list() if config.source.uses_pi_camera else None
    display = choose_display(config, drm=lambda: cameras is not None and cameras.problem is None)
    os.environ.update(display.environ)  # DISPLAY, XAUTHORITY, QT_QPA_PLATFORM: read when the window opens
    sinks: list[Sink] = []
    sinks_ready = False

    def every_frame() -> bool:  # until the sinks exist, every frame: a recording's pre-roll starts at once
        return not sinks_ready or any(sink.wants_every_frame for sink in sinks)

    # Frames are sampled where they are read; those no sink shows are not decoded (headless: all but 5 a second).
    demand = Demand(FrameSampler(config.source.fps), every_frame)
    # Headless and not recording, the Pi camera need not send 30 frames a second through Python.
    shown = display.name != "none" or config.output.web or config.events.record
    camera_fps = pi_camera_fps(config.source.fps, shown)
    source = open_source(config.source, classifier.input_size, demand, camera_fps, cameras)
    with closing(source), ThrottleWatch():
        if taught is not None:  # once the source is open too: a missing video stays one line
            taught.log_loaded()
        classifier.set_window(window_frames(config, source), change_test(config, source), fresh_start(config, source))
        log.info("model: %s", classifier.description)
        log.info("%s", window_text(classifier, config))
        log.info("source: %s; classifying %s", source.description,
                 f"{config.source.fps:g} frames/s by timestamp" if config.source.fps else "every frame")
        log.info("display: %s (%s)", display.name, display.reason)
        # Everything that can refuse to start (--mqtt-required, --gpio, a busy port) before the events folder
        # is made: make_sinks creates that last, so a failed start leaves nothing behind.
        mqtt = open_mqtt_for(config, classifier)
        try:
            sinks += make_sinks(config.output, display, source, config.events, config.mqtt.name)
        except BaseException:
            if mqtt is not None:
                mqtt.close()
            raise
        sinks_ready = True
        try:
            if mqtt is not None:
                attach_mqtt(mqtt, config, sinks)
            pipeline = build_pipeline(config, classifier, prediction_filter, taught, source, sinks, stop,
                                      demand.sampler)
            pipeline.run()
        finally:
            for sink in sinks:
                sink.close()
    log.info("%s", pipeline.summary.text(event_counts(sinks) if config.events.enabled else None))
    return pipeline.classified
