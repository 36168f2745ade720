"""The sink interface: what the pipeline hands every output (Update), and what an output may ask (Command)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from utils.areas import Area
from utils.results import Result
from utils.sources.frame import Frame
from utils.sources.health import ONLINE, SourceHealth


class Command(enum.Enum):
    """What a sink (a key press, a closed pipe) asks the pipeline to do."""

    QUIT = "quit"
    RESET = "reset"
    TEACH = "teach"  # teach the action named by --teach (the t key, the web view's button)
    UNDO_TEACH = "undo teaching"  # undo that action's last teaching session (the web view's button)


@dataclass(frozen=True)
class Status:
    """What the overlay and status line show beside the predictions."""

    capture_fps: float = 0.0
    classify_fps: float = 0.0
    inference_ms: float = 0.0
    model: str = ""
    threads: int = 0
    cpu_temp_c: float | None = None
    cpu_percent: float | None = None
    source: SourceHealth = ONLINE  # always filled in: an outage is news for every output
    notice: str = ""  # for the person at the screen: the teaching countdown, "none of the taught actions"
    teach: str = ""  # the action the t key and the web view's button teach ("": none, no --teach)
    teach_what: str = ""  # what a session records: "'NAME'", or "the background of 'NAME'"
    crop: Area | None = None  # --crop: the part of the picture that is classified, drawn over the video
    mask: tuple[Area, ...] = ()  # --motion-mask: the areas where nothing counts as motion, drawn too


def rate_texts(status: Status, aligned: bool = False) -> list[str]:
    """The rates measured so far, as the terminal and the overlay show them (0 is not measured yet: no "0.0 fps"
    at the start). Capture comes last: a narrow terminal drops it first. `aligned` pads the numbers to a steady
    width, so a line drawn over the video does not shift as they change."""
    fps, ms = ("4.1f", "5.1f") if aligned else (".1f", ".1f")
    shown = []
    if status.classify_fps > 0:
        shown.append(f"classify {status.classify_fps:{fps}} fps")
    if status.inference_ms > 0:
        shown.append(f"{status.inference_ms:{ms}} ms")
    if status.capture_fps > 0:
        shown.append(f"capture {status.capture_fps:{fps}} fps")
    return shown


@dataclass(frozen=True)
class Update:
    """One captured frame with the latest result; `is_new` when that result came from this frame.

    `status` is measured only when a sink says it shows it (`needs_status`); otherwise only its `source` is
    set. While a live source is offline, sinks get a dark frame, no result and the outage in `status.source`.
    """

    frame: Frame
    result: Result | None
    is_new: bool
    status: Status = Status()


class Sink(Protocol):
    needs_status: bool  # shows the rates and the CPU: the pipeline measures them only then

    @property
    def wants_every_frame(self) -> bool:
        """Shows every frame (a window, a watched web view, a recording's pre-roll); may change while running.
        When no sink does, the frames that are not classified are not even decoded (utils/sources/demand.py)."""

    def write(self, update: Update) -> Command | None: ...

    def close(self) -> None: ...
