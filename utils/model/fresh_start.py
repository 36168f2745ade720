"""A second, fresh stream started at a suspected change of action, adopted when it names a new action.

Why (docs/research/short-actions.md): after a change, the causal convolutions' buffers still hold the old
action, and the model was trained on clips that start from zero buffers; zeroing them exactly at the switch names
the new action in a median 2 frames, but zeroing them where the change test fires (3-12 frames late) starts the
new action mid-way and is slower. So at a suspicion (a drift above part of the change test's bar) a fresh
stream (zeroed states) is started a few frames *back*: the last `replay` frames are played into it from a ring,
at most `per_frame` extra invokes a frame (so a Pi camera is not stalled by a burst), and then it runs beside the
main stream for up to `watch` frames. When it names an action other than the one shown at the suspicion, with
at least `adopt_score`, once the change test has fired, its states replace the main stream's; otherwise it is
dropped. With `race` above 0 both streams first run for up to `race` frames more, because the main stream, whose
buffers still hold the old action, names some new actions sooner than any fresh stream can: the fresh stream takes
over when both name its action or the race ends with it still ready, and is dropped when the main stream names
another new action first. Off by default: judged on the validation clips it cost right events, because the main
stream's restarted window names wrong new actions as readily as the fresh stream does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from utils.model.head_window import MEASURED_AT_FPS


@dataclass(frozen=True)
class FreshStart:
    """When a fresh stream starts, what it replays, and when it takes over. Lengths in classified frames."""

    suspect: float = 0.6      # a drift above this share of the change test's bar starts a fresh stream
    replay: int = 12          # frames before (and with) the suspicion played into it, at most
    stride: int = 1           # every stride-th of the last replay * stride frames (2: the replay at half rate)
    watch: int = 20           # frames it runs beside the main stream, once caught up, before it is dropped
    per_frame: int = 4        # extra invokes a frame at most, replay included
    adopt_score: float = 0.5  # its top-1 probability needed to take over, once the change is confirmed:
    confirm: float = 1.0      # by a drift of this share of the change test's bar (1: the change test fired)
    rest: int = 10            # frames after a dropped one before the next may start
    estimate: bool = True     # replay from where the frames' features jump (HeadWindow.change_start), not all
    race: int = 0             # frames both streams run once it is ready to take over (0: it takes over at once)

    @property
    def span(self) -> int:
        """The most frames a fresh stream can hold when it is adopted (the main window must keep as many)."""
        # + catching up, at worst one frame a frame, and the race
        return self.replay * self.stride + self.watch + self.replay + self.race

    @classmethod
    def at_rate(cls, rate: float) -> FreshStart:
        """The same seconds at another classified frame rate (--fps); the extra invokes a frame stay bounded."""
        default, scale = cls(), rate / MEASURED_AT_FPS
        return replace(default, replay=max(1, round(default.replay * scale)),
                       watch=max(1, round(default.watch * scale)), rest=round(default.rest * scale),
                       race=round(default.race * scale))

    def __post_init__(self) -> None:
        if self.replay < 1 or self.stride < 1 or self.watch < 1 or self.per_frame < 2 or self.race < 0:
            raise ValueError(f"{self}: replay, stride and watch must be at least 1, per_frame at least 2, "
                             "race not negative")


@dataclass
class FreshRun:
    """One fresh stream: its states, the frames it still has to play, and the features it made."""

    first: int                       # the main stream's number of its first frame
    old_top1: int                    # what the main stream showed at the suspicion
    states: list[np.ndarray]         # its state inputs, zero at the start
    queue: deque[tuple[np.ndarray, int]]  # frames not yet played into it, oldest first, each standing for n frames
    features: list[np.ndarray] = field(default_factory=list)  # one per main-stream frame since `first`
    logits: np.ndarray | None = None
    head_out: list[np.ndarray] = field(default_factory=list)  # its head pool's sum and count after its last frame
    caught_up: int = 0               # frames it has run beside the main stream, caught up
    confirmed: bool = False          # the change test fired since it started
    top1: int = -1
    score: float = 0.0
    raced: int = -1                  # frames since it was first ready to take over (-1: not yet)

    def ready_to_adopt(self, fresh: FreshStart) -> bool:
        # Not before the change test fires: a fresh stream started inside an action (at a clip's own jump) names
        # another action as confidently (0.98 measured) as one started at a real change.
        return (self.confirmed and not self.queue and self.top1 != self.old_top1
                and self.score >= fresh.adopt_score)

    def race_winner(self, fresh: FreshStart, main_top1: int) -> str | None:
        """After each frame it runs caught up: "fresh" (it takes over), "main" (it is dropped) or None (the race
        goes on). Labels are unknown at run time, so "ahead" is judged by what each stream names."""
        ready = self.ready_to_adopt(fresh)
        self.raced += self.raced >= 0 or ready
        if self.raced < 0:
            return None
        if self.raced >= fresh.race or main_top1 == self.top1:  # the bound, or both name the same action
            return "fresh" if ready else "main"
        if main_top1 != self.old_top1:
            # The main stream moved on to another action despite its buffers of the old one: it is ahead (measured:
            # juggling balls, golf driving, hammer throw are named sooner by the old buffers than from zero).
            return "main"
        return None


class FrameRing:
    """The last frames the model was given (resized), for a fresh stream's replay."""

    def __init__(self, frames: int, shape: tuple[int, ...]) -> None:
        self._frames = np.zeros((frames, *shape), np.uint8)
        self.count = 0

    def add(self, rgb: np.ndarray) -> None:
        self._frames[self.count % len(self._frames)] = rgb
        self.count += 1

    def last(self, n: int, stride: int = 1) -> list[np.ndarray]:
        """Every stride-th of the last n * stride frames, ending with the newest (fewer if fewer were added),
        oldest first, copied."""
        oldest = max(0, self.count - len(self._frames))
        numbers = range(self.count - 1, max(oldest, self.count - n * stride) - 1, -stride)
        return [self._frames[t % len(self._frames)].copy() for t in reversed(numbers)]

    def clear(self) -> None:
        self.count = 0
