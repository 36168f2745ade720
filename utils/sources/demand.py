"""Demand: which frames the pipeline needs, asked by a source on its reading thread, frame by frame.

The sampler decides once, where the frame is read, whether it is classified (`Frame.due`). A frame that is
not due and that no output shows (no window, no web client watching, no pre-roll being recorded) is not
decoded or converted at all: an OpenCV source only grab()s it, the Pi camera does not copy it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from utils.sampler import FrameSampler


class Demand:
    def __init__(self, sampler: FrameSampler, every_frame: Callable[[], bool]) -> None:
        self.sampler = sampler
        self.every_frame = every_frame  # asked for every frame that is not due: outputs come and go

    def due(self, timestamp: float) -> bool:
        """Whether the frame at `timestamp` is classified; advances the sampler, so ask once per frame."""
        return self.sampler.should_classify(timestamp)

    def wanted(self, due: bool) -> bool:
        """Whether a frame must be decoded and delivered."""
        return due or self.every_frame()


@runtime_checkable
class DemandAware(Protocol):
    """A source that can skip the frames nobody needs (it is told the demand once, before reading)."""

    def set_demand(self, demand: Demand | None) -> None: ...
