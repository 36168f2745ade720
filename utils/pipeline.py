"""The loop: source -> sampler -> classifier -> sinks, on the main thread."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from contextlib import closing

from utils.config import Config, Result, Status
from utils.display import DisplayChoice, choose_display
from utils.errors import ClassifierError
from utils.labels import load_labels
from utils.overlay import OverlayRenderer
from utils.predictions import PredictionFilter
from utils.rate import RateMeter
from utils.sampler import FrameSampler
from utils.sinks import Command, JsonSink, Sink, StatusLineSink, Update, WindowSink
from utils.sources import FrameSource, open_source
from utils.stream_classifier import StreamClassifier
from utils.system_info import CpuMonitor

log = logging.getLogger(__name__)

DEFAULT_SOURCE_FPS = 30.0  # for --window with --fps 0 when a source does not say its rate


class Pipeline:
    """Reads every frame, classifies those the sampler picks, and hands each frame to every sink."""

    def __init__(self, classifier: StreamClassifier, prediction_filter: PredictionFilter, source: FrameSource,
                 sinks: Sequence[Sink], fps: float, stop: threading.Event | None = None) -> None:
        self.classifier = classifier
        self.prediction_filter = prediction_filter
        self.source = source
        self.sinks = list(sinks)
        self.sampler = FrameSampler(fps)
        self.stop = stop or threading.Event()
        self.result: Result | None = None
        self.classified = 0
        self._capture_rate = RateMeter()
        self._classify_rate = RateMeter()
        self._cpu = CpuMonitor()
        self._overlay = OverlayRenderer()
        self._model_name = classifier.model_path.stem

    def reset(self) -> None:
        """Starts the stream afresh (the `r` key): states, sampler and the shown result."""
        self.classifier.reset()
        self.sampler.reset()
        self.result = None
        log.info("stream reset")

    def step(self, frame) -> Update:
        """Classifies the frame if it is due and returns what the sinks get."""
        self._capture_rate.tick()
        is_new = self.sampler.should_classify(frame.timestamp)
        if is_new:
            probabilities, ms = self.classifier.timed_classify(frame.model_rgb(self.classifier.input_size))
            self.result = Result(frame.index, frame.timestamp, ms, self.prediction_filter(probabilities))
            self._classify_rate.tick()
            self.classified += 1
        temperature, cpu = self._cpu.read()
        status = Status(self._capture_rate.rate, self._classify_rate.rate,
                        self.result.inference_ms if self.result else 0.0, self._model_name,
                        self.classifier.num_threads, temperature, cpu)
        return Update(frame, self.result, is_new, status, self._overlay)

    def run(self) -> int:
        """Runs until the source ends or a sink or signal asks to stop; returns the frames classified."""
        while not self.stop.is_set():
            frame = self.source.read()
            if frame is None:
                break
            update = self.step(frame)
            for sink in self.sinks:
                command = sink.write(update)
                if command is Command.QUIT:
                    self.stop.set()
                elif command is Command.RESET:
                    self.reset()
        return self.classified


def make_sinks(config: Config, display: DisplayChoice, source: FrameSource | None = None) -> list[Sink]:
    """The sinks for the chosen display, plus --json and --web; the terminal status line when nothing
    else writes to the terminal and no window is shown. `source` is needed for drm only."""
    sinks: list[Sink] = []
    try:
        if config.json:
            sinks.append(JsonSink())
        shown = display.name
        if shown == "window":
            sinks.append(WindowSink(fullscreen=config.fullscreen or display.fullscreen))
        elif shown == "drm":
            from utils.drm_preview import DrmPreviewSink

            try:
                sinks.append(DrmPreviewSink(source))
            except ClassifierError as e:
                if config.display == "drm":
                    raise
                log.warning("display: none (%s)", e)
                shown = "none"
        if shown == "web" or config.web:
            from utils.web_view import WebSink

            sinks.append(WebSink(config.web_host, config.web_port))
        if shown != "window" and not config.json:
            sinks.append(StatusLineSink())
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks


def window_frames(config: Config, source: FrameSource) -> int:
    """--window in classified frames: seconds times the rate at which frames are classified."""
    rate = config.fps or source.nominal_fps or DEFAULT_SOURCE_FPS
    return max(1, round(config.window_seconds * rate)) if config.window_seconds else 0


def load_classifier(config: Config) -> tuple[StreamClassifier, PredictionFilter]:
    """The model and the label filter, checked against each other."""
    labels = load_labels(config.labels)
    classifier = StreamClassifier(config.model, config.num_threads, config.runtime, smoothing=config.smoothing)
    if len(labels) != classifier.num_classes:
        raise ClassifierError(
            f"label file {config.labels} has {len(labels)} labels but model {config.model} has "
            f"{classifier.num_classes} classes; use the Kinetics-600 label file from ./download_models.sh")
    prediction_filter = PredictionFilter(labels, config.max_results, config.score_threshold, config.allow, config.deny)
    return classifier, prediction_filter


def run(config: Config, stop: threading.Event | None = None) -> int:
    """Runs the whole app for a Config; returns the number of classified frames."""
    classifier, prediction_filter = load_classifier(config)
    display = choose_display(config)
    os.environ.update(display.environ)  # DISPLAY, XAUTHORITY, QT_QPA_PLATFORM: read when the window opens
    with closing(open_source(config, classifier.input_size)) as source:
        classifier.set_window(window_frames(config, source))
        log.info("model: %s", classifier.description)
        log.info("source: %s; classifying %s", source.description,
                 f"{config.fps:g} frames/s by timestamp" if config.fps else "every frame")
        log.info("display: %s (%s)", display.name, display.reason)
        sinks = make_sinks(config, display, source)
        try:
            return Pipeline(classifier, prediction_filter, source, sinks, config.fps, stop).run()
        finally:
            for sink in sinks:
                sink.close()
