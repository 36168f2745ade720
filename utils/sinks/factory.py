"""make_sinks: the outputs a run needs, from the options and the display that was chosen."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from utils.config import EventOptions, OutputOptions
from utils.errors import ClassifierError
from utils.sinks.base import Sink
from utils.sinks.display import DisplayChoice
from utils.sinks.json_lines import JsonSink
from utils.sinks.overlay import Annotator
from utils.sinks.status_line import StatusLineSink
from utils.sinks.window import WindowSink
from utils.sources import video_length
from utils.sources.frame import FrameSource
from utils.sources.picamera import PiCameraSource

log = logging.getLogger(__name__)


def _window(options: OutputOptions, display: DisplayChoice, source: FrameSource | None,
            annotator: Annotator, events_dir: Path | None, name: str = "") -> Sink:
    return WindowSink(fullscreen=options.fullscreen or display.fullscreen, annotator=annotator)


def _drm(options: OutputOptions, display: DisplayChoice, source: FrameSource | None,
         annotator: Annotator, events_dir: Path | None, name: str = "") -> Sink:
    from utils.sinks.drm import DrmPreviewSink  # picamera2's preview: imported only where it is used

    if not isinstance(source, PiCameraSource):
        what = source.description if source is not None else "not a camera"
        raise ClassifierError(f"--display drm needs the Pi camera, but the source is {what}; "
                              "use --display window or --display web")
    return DrmPreviewSink(source.camera)


def _web(options: OutputOptions, display: DisplayChoice, source: FrameSource | None,
         annotator: Annotator, events_dir: Path | None, name: str = "") -> Sink:
    from utils.sinks.web import WebSink

    return WebSink(options.web_host, options.web_port, annotator=annotator, password=options.web_password,
                   insecure=options.web_insecure, events_dir=events_dir, name=name,
                   embed_from=options.web_embed_from)


# The sink that shows the video for each --display; "none" shows none.
DISPLAY_SINKS: dict[str, Callable[[OutputOptions, DisplayChoice, FrameSource | None, Annotator, Path | None, str],
                                  Sink]] = {
    "window": _window,
    "drm": _drm,
    "web": _web,
}


def make_sinks(options: OutputOptions, display: DisplayChoice, source: FrameSource | None = None,
               events: EventOptions | None = None, name: str = "") -> list[Sink]:
    """The events (first, so clips get frames without the overlay), --json, the display's sink, --web beside it,
    and the terminal status line when nothing else writes to the terminal and no window is shown. A display
    that `auto` picked but cannot open falls back to none. `name` is the camera's --name (the web pages' title)."""
    sinks: list[Sink] = []
    annotator = Annotator()  # shared, so the overlay is drawn once a frame however many sinks show it
    events_dir = events.events_dir if events is not None and events.enabled else None
    try:
        if options.json:
            sinks.append(JsonSink())
        shown = display.name
        if shown in DISPLAY_SINKS:
            try:
                sinks.append(DISPLAY_SINKS[shown](options, display, source, annotator, events_dir, name))
            except ClassifierError as e:
                if options.display != "auto":
                    raise
                log.warning("display: none (%s)", e)
                shown = "none"
        if options.web and shown != "web":
            sinks.append(_web(options, display, source, annotator, events_dir, name))
        if shown != "window" and not options.json:
            sinks.append(StatusLineSink(length=video_length(source)))
        if events is not None and events.enabled:  # made last (it makes the events folder), but run first
            from utils.sinks.events import make_event_sink

            sinks.insert(0, make_event_sink(events, source.description if source else "",
                                            source.nominal_fps if source else 0.0,
                                            getattr(source, "live", True)))  # a file (live=False) may wait
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks
