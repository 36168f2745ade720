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
    crop: Area | None = None  # --crop: the part of the picture that is classified, drawn over the video
    mask: tuple[Area, ...] = ()  # --motion-mask: the areas where nothing counts as motion, drawn too


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
