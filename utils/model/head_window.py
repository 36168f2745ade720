"""What the MoViNet head averages: the last frames of the current action, restarted when the action changes.

The head state is a running sum of per-frame features plus a frame count, so each invoke's feature is
`out_sum - in_sum`; keeping the features and feeding back the sum and count of the ones we choose makes the
logits the mean over exactly those frames, at no extra invoke.

Why a long window that restarts, and not a short one (measured on all 56 pairs of the shared clips,
docs/research/switch.md, `python -m benchmarks.long_stream`): no single window length is both stable and
fast. 3 s switches within 3 s but holds a looped "flipping pancake" on only 64 % of its frames; 12 s holds every
clip but takes up to 11 s to switch. So the window is long, and a drift test on the features finds the change
and starts a new segment. Tests on the short window's *classes* false-alarm on a clip's own ambiguous stretches;
the drift of the recent features, judged against the largest drift this segment has shown by itself, does not.
The stream buffers of the causal convolutions are left alone: resetting them at a change measured slower.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TensorAccessor = Callable[[], np.ndarray]  # what Interpreter.tensor() returns: call it for a view

MEASURED_AT_FPS = 5.0  # the rate the change test's lengths were measured at (the app's default --fps)


@dataclass(frozen=True)
class ChangeTest:
    """When the recent frames are a new action. Lengths are in classified frames (defaults: at 5 frames/s).

    Every frame, the cosine distance between the mean of the last `recent` features and the mean of up to
    `reference` features of the segment before them (at least `min_reference`) is the drift. A change is a drift
    above `margin` times the largest this segment has shown more than `guard` frames ago (so a change ramping up
    cannot raise its own bar), and at least `min_threshold`; while the segment is younger than `young` frames,
    when that maximum is not known yet, a drift above `young_threshold`. After a change the window is the last
    `settle` frames for 2 x `settle` frames, then the segment without its first `settle` frames (they straddle
    the change and blend both actions through the stream buffers).
    """

    recent: int = 10
    reference: int = 40
    min_reference: int = 20
    young: int = 150
    young_threshold: float = 0.7
    min_threshold: float = 0.3
    margin: float = 1.0
    guard: int = 20
    settle: int = 10

    @classmethod
    def at_rate(cls, rate: float) -> ChangeTest:
        """The same test in seconds at another classified frame rate (--fps)."""
        default, scale = cls(), rate / MEASURED_AT_FPS

        def frames(n: int) -> int:
            return max(1, round(n * scale))

        return cls(recent=frames(default.recent), reference=frames(default.reference),
                   min_reference=frames(default.min_reference), young=frames(default.young),
                   guard=frames(default.guard), settle=frames(default.settle))


class HeadWindow:
    """Feeds the head the mean of the last `frames` frames of the current segment.

    Without a ChangeTest the whole stream is one segment: a plain sliding window. With one, a detected change
    starts a new segment (see ChangeTest). The three accessors return the head's tensors (`tensor()` views).
    """

    def __init__(self, frames: int, in_sum: TensorAccessor, in_count: TensorAccessor,
                 out_sum: TensorAccessor, change: ChangeTest | None = None) -> None:
        self.frames, self.change = frames, change
        self._in_sum, self._in_count, self._out_sum = in_sum, in_count, out_sum
        # Features are kept by frame number in a ring long enough for the window and for the change test.
        self._history = max(frames, change.recent + change.reference if change else 1)
        size = int(np.prod(in_sum().shape))
        self._features = np.zeros((self._history, size), np.float32)
        self._kept = np.zeros(size, np.float32)
        self._recent = np.zeros(size, np.float32)
        self._before = np.zeros(size, np.float32)
        self.reset()

    def reset(self) -> None:
        self._features[:] = 0
        self.frame = 0           # the number of the next frame
        self.segment_start = 0   # the first frame of the current segment
        self.changes = 0         # changes of action detected since the last reset
        self._drifts: deque[float] = deque()
        self._largest_drift = 0.0  # of this segment, older than `guard` frames

    def feed(self) -> None:
        """Before invoke: the sum and count of the kept features become the head's input state."""
        first = self._first(self.frame)
        self._sum(first, self.frame - 1, self._kept)
        self._in_sum()[...] = self._kept.reshape(self._in_sum().shape)
        self._in_count()[...] = self.frame - first

    def update(self) -> bool:
        """After invoke: remembers this frame's feature; True when it completed a change of action."""
        t = self.frame
        np.subtract(self._out_sum().reshape(-1), self._kept, out=self._features[t % self._history])
        self.frame = t + 1
        return self.change is not None and self._test_for_change(t, self.change)

    def _first(self, t: int) -> int:
        """The first frame of the window that frame t is classified with."""
        if self.change is None or self.changes == 0:
            return max(0, t - self.frames + 1)
        settle = min(self.change.settle, self.frames)
        if t - self.segment_start < 2 * settle:
            return max(self.segment_start, t - settle + 1)
        return max(self.segment_start + settle, t - self.frames + 1)

    def _sum(self, first: int, last: int, out: np.ndarray) -> np.ndarray:
        """The sum of the features of frames first..last (inclusive), which must still be in the ring."""
        if last < first:
            out[...] = 0
            return out
        a, b = first % self._history, last % self._history
        if a <= b:
            np.sum(self._features[a:b + 1], axis=0, out=out)
        else:  # wrapped around the ring's end
            np.add(self._features[a:].sum(axis=0), self._features[:b + 1].sum(axis=0), out=out)
        return out

    def _test_for_change(self, t: int, test: ChangeTest) -> bool:
        reference_first = max(self.segment_start, t - test.recent - test.reference + 1)
        reference_last = t - test.recent
        if reference_last - reference_first + 1 < test.min_reference:
            return False
        recent = self._sum(t - test.recent + 1, t, self._recent)
        before = self._sum(reference_first, reference_last, self._before)
        norms = float(np.linalg.norm(recent) * np.linalg.norm(before))
        drift = 1.0 - float(recent @ before) / norms if norms else 0.0
        young = t - self.segment_start < test.young
        threshold = test.young_threshold if young else max(test.min_threshold, test.margin * self._largest_drift)
        self._drifts.append(drift)
        if len(self._drifts) > test.guard:
            self._largest_drift = max(self._largest_drift, self._drifts.popleft())
        if drift <= threshold:
            return False
        # The new segment starts with the recent frames that moved away; the window changes from the next frame.
        self.segment_start = t - test.recent + 1
        self.changes += 1
        self._drifts.clear()
        self._largest_drift = 0.0
        return True
