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
A drift is no change when the last frames are like some the stream showed a moment ago under the same top-1
(`seen`): a video that loops, an action that starts over; without it a looped deadlifting restarted the window
18 times in 5 minutes (docs/research/short-actions.md).
A change is also frames far from everything the segment has shown (`novel`): a clip's own loop cuts raise the
drift's bar above some real changes (after 5 minutes of deadlifting, into pull ups drifted to 0.94 of it), while
the nearest 2 s of the segment to a cut is ~0 and to another action 0.4-0.75 (docs/research/short-actions.md,
"A change by novelty").
The stream buffers of the causal convolutions are left alone: resetting them at a change measured slower. A fresh
stream started from where the change began (change_start) may take over instead (adopt; fresh_start.py).
A learnt young bar, an undo of a change that leaves the top-1 as it was, and a shorter start window were measured
for 20 s actions (docs/research/short-actions.md): better on the tuning clips, mixed on the judging clips (fewer
right events, a worse hold on a looped lift), so they are off by default (`young_floor`, `confirm`, `settle`).
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
    cannot raise its own bar), and at least `min_threshold`. While the segment is younger than `young` frames that
    maximum is still being learnt: the bar is at least `young_threshold` until the segment has shown `guard`
    frames of drift, then at least `young_floor` (a 20 s action never gets older than `young`, so its bar must be
    learnt). After a change the window is the last `settle` frames for `settle_for` frames, then the segment
    without its first `settle` frames (they straddle the change and blend both actions through the stream
    buffers).

    A change is also recent frames far from everything the segment has shown: with `novel`, once the segment is
    `novel_after` frames old, recent frames more than `novel` (cosine distance) from every stretch of `recent`
    frames of the segment among the last `seen` (ending before the recent frames begin). A loop cut or a repeat
    is near a stretch the segment has shown however far it drifts; a new action is far from all of them however
    high the segment's own drifts have raised the bar.

    A change must change the action: if on most of the `confirm` frames after it the top-1 is still the one from
    before the change, it was the action's own variation (a camera move, a repeat that starts over) and is
    undone: the segment goes on as before, its bar raised to the drift that fired.

    A change (by drift or novelty) must also be new: with `seen`, the recent frames are compared with every
    stretch of `recent` frames among the last `seen` (before and since the segment's start) that the top-1 named
    as it does now (the stretch and the `recent` frames after it: the top-1 lags the frames), and a change is none
    when the recent frames are within `min_threshold` of one of those (an action that repeats, a clip that starts
    over: what the stream has shown as this action a moment ago).
    """

    recent: int = 10
    reference: int = 40
    min_reference: int = 20
    young: int = 150
    young_threshold: float = 0.7
    young_floor: float = 0.7
    min_threshold: float = 0.3
    margin: float = 1.0
    guard: int = 20
    settle: int = 10
    settle_for: int = 20
    confirm: int = 0
    seen: int = 150  # 30 s, as `young`: the horizon over which a segment already learns its own drift
    novel: float = 0.45  # > 0: also a change when the recent frames are this far from all the segment has shown
    novel_after: int = 60  # 12 s: a younger segment has shown too little of its action to tell what is new

    @classmethod
    def at_rate(cls, rate: float) -> ChangeTest:
        """The same test in seconds at another classified frame rate (--fps)."""
        default, scale = cls(), rate / MEASURED_AT_FPS

        def frames(n: int) -> int:  # 0 stays 0: a part that is off (confirm) stays off at any rate
            return max(1, round(n * scale)) if n else 0

        return cls(recent=frames(default.recent), reference=frames(default.reference),
                   min_reference=frames(default.min_reference), young=frames(default.young),
                   guard=frames(default.guard), settle=frames(default.settle), settle_for=frames(default.settle_for),
                   confirm=frames(default.confirm), seen=frames(default.seen),
                   novel_after=frames(default.novel_after))


@dataclass
class _Pending:
    """A change of action waiting for its confirmation, and what undoing it restores."""

    confirm_at: int
    frames: int  # how many frames confirm or undo it
    top1: int
    segment_start: int
    drifts: deque[float]
    largest_drift: float
    drift: float
    tested: int
    adopted: bool  # the segment came from a fresh stream
    same: int = 0  # frames since the change whose top-1 is still `top1`


class HeadWindow:
    """Feeds the head the mean of the last `frames` frames of the current segment.

    Without a ChangeTest the whole stream is one segment: a plain sliding window. With one, a detected change
    starts a new segment (see ChangeTest). The three accessors return the head's tensors (`tensor()` views).
    """

    def __init__(self, frames: int, in_sum: TensorAccessor, in_count: TensorAccessor,
                 out_sum: TensorAccessor, change: ChangeTest | None = None, history: int = 1) -> None:
        self.frames, self.change = frames, change
        self._in_sum, self._in_count, self._out_sum = in_sum, in_count, out_sum
        # Features are kept by frame number in a ring long enough for the window, for the change test and for
        # `history` frames that a fresh stream may replace (adopt()).
        self._history = max(frames, change.recent + change.reference if change else 1, history,
                            change.seen if change else 1)
        size = int(np.prod(in_sum().shape))
        self._features = np.zeros((self._history, size), np.float32)
        # For the `seen` test: each frame's top-1, and the sum of the `recent` frames ending at it with its length
        # (kept as they are made, so that the test is one product however far back it looks).
        self._top1s = np.full(self._history, -1, np.int32)
        seen = bool(change and (change.seen or change.novel))
        self._recent_sums = np.zeros((self._history if seen else 0, size), np.float32)
        self._recent_norms = np.zeros(self._history if seen else 0, np.float32)
        self._kept = np.zeros(size, np.float32)
        self._recent = np.zeros(size, np.float32)
        self._before = np.zeros(size, np.float32)
        self.reset()

    def reset(self) -> None:
        self._features[:] = 0
        self._top1s[:] = -1
        self._recent_sums[:] = 0
        self._recent_norms[:] = 0
        self.frame = 0           # the number of the next frame
        self.segment_start = 0   # the first frame of the current segment
        self.changes = 0         # changes of action detected since the last reset
        self.undone = 0          # of which undone: the action stayed the same
        self._drifts: deque[float] = deque()
        self._largest_drift = 0.0  # of this segment, older than `guard` frames
        self._tested = 0         # frames of this segment whose drift was measured
        self._top1 = -1          # the top-1 class of the last frame
        self._pending: _Pending | None = None  # the last change, until it is confirmed
        self._adopted = False    # the segment's features come from a fresh stream: no blend to settle
        self._reference = (0, -1)  # the frames the last drift was measured against
        self.drift_ratio = 0.0   # the last frame's drift over the bar a change must pass (> 1: a change)

    def feed(self) -> None:
        """Before invoke: the sum and count of the kept features become the head's input state."""
        first = self._first(self.frame)
        self._sum(first, self.frame - 1, self._kept)
        self._in_sum()[...] = self._kept.reshape(self._in_sum().shape)
        self._in_count()[...] = self.frame - first

    def update(self, top1: int = -1) -> bool:
        """After invoke: remembers this frame's feature and its top-1 class; True when it completed a change of
        action."""
        t = self.frame
        np.subtract(self._out_sum().reshape(-1), self._kept, out=self._features[t % self._history])
        self.frame = t + 1
        if self._pending is not None:
            pending = self._pending
            pending.same += top1 == pending.top1 >= 0
            if t >= pending.confirm_at:
                self._pending = None
                if 2 * pending.same > pending.frames:  # named as before on most frames since the change
                    self._undo(pending)
                    return False
        self._top1 = top1
        self._top1s[t % self._history] = top1
        if len(self._recent_sums):
            self._keep_recent_sum(t)
        return self.change is not None and self._test_for_change(t, self.change)

    def _keep_recent_sum(self, t: int) -> None:
        """The sum of the `recent` frames ending at frame t (fewer at the start), and its length, in their rings."""
        assert self.change is not None
        row = t % self._history
        recent = self._sum(max(0, t - self.change.recent + 1), t, self._recent_sums[row])
        self._recent_norms[row] = np.linalg.norm(recent)

    def adopt(self, first: int, features: np.ndarray) -> None:
        """A fresh stream started at frame `first` takes over: its features (one row per frame from `first` to the
        last updated one) replace the stream's own, and they start a new segment with no settling (the fresh
        stream's buffers never held the action before)."""
        if not 0 <= self.frame - first <= self._history or len(features) != self.frame - first:
            raise ValueError(f"cannot adopt frames {first}..{self.frame - 1} with {len(features)} features")
        for t, feature in zip(range(first, self.frame), features):
            self._features[t % self._history] = feature
        if len(self._recent_sums):
            for t in range(first, self.frame):
                self._keep_recent_sum(t)
        self.segment_start, self._adopted = first, True
        self.changes += 1
        self._drifts.clear()
        self._largest_drift = 0.0
        self._tested = 0
        self._pending = None
        self.drift_ratio = 0.0

    def change_start(self, most: int) -> int:
        """After update(): where the new action most likely starts among the last `most` frames.

        Each frame's own feature jumps away from the segment's reference at the switch, while the drift (a mean
        over 10 frames) rises only over the next frames. So: the cosine distance of each frame's feature to the
        last drift's reference, and the start that maximises the sum of (distance - bar) from it to now, the bar a
        third of the way from the reference frames' own mean distance to the last three frames'."""
        last = self.frame - 1
        first = max(0, last - most + 1, self.frame - self._history)
        reference = self._before / (np.linalg.norm(self._before) or 1.0)

        def distances(a: int, b: int) -> np.ndarray:
            rows = [self._features[t % self._history] for t in range(a, b + 1)]
            if not rows:
                return np.zeros(0)
            features = np.asarray(rows)
            return 1.0 - features @ reference / np.maximum(np.linalg.norm(features, axis=1), 1e-9)

        recent = distances(first, last)
        ref_first, ref_last = self._reference
        own = distances(max(ref_first, self.frame - self._history), ref_last)
        if not len(own) or not len(recent):
            return first
        bar = own.mean() + (recent[-3:].mean() - own.mean()) / 3
        gains = np.cumsum((recent - bar)[::-1])[::-1]  # gains[i]: the sum from frame first + i to now
        return first + int(np.argmax(gains))

    def _undo(self, pending: _Pending) -> None:
        """The change left the action as it was: the segment goes on, and the drift that fired becomes its bar."""
        self.segment_start, self._drifts, self._tested = pending.segment_start, pending.drifts, pending.tested
        self._adopted = pending.adopted
        self._largest_drift = max(pending.largest_drift, pending.drift, *pending.drifts)
        self.undone += 1

    def _first(self, t: int) -> int:
        """The first frame of the window that frame t is classified with."""
        if self.change is None or self.changes == 0 or self._adopted:
            return max(self.segment_start, t - self.frames + 1)
        settle = min(self.change.settle, self.frames)
        if t - self.segment_start < max(settle, self.change.settle_for):
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

    def _seen_before(self, t: int, test: ChangeTest) -> bool:
        """Whether the recent frames are within `min_threshold` (cosine distance: less is never a change) of a
        stretch of as many frames among the last `test.seen` that the top-1 named as it names this frame, on every
        one of its frames and of the `recent` frames after it (the top-1 lags the frames: the first frames of an
        action are still named as the one before). A repeat comes back within 0.0-0.13 of itself on the shared
        clips; two actions stay 0.4-0.75 apart, about as far as the drift's bar."""
        first = max(0, t - min(test.seen, self._history) + 1)
        last = t - test.recent  # the stretches and the frames after them end before the recent frames begin
        span = 2 * test.recent
        if last - first + 1 < span:
            return False
        rows = np.arange(first, last + 1) % self._history
        named = np.cumsum(self._top1s[rows] == self._top1)  # running counts of frames named as now
        named[span:] -= named[:-span].copy()
        ends = rows[np.flatnonzero(named == span) - test.recent]  # each span's first half is a stretch
        if not len(ends):
            return False
        return self._nearest(ends, t) <= test.min_threshold

    def _nearest(self, ends: np.ndarray | slice, t: int) -> float:
        """The cosine distance from the recent frames' sum at frame t to the nearest of the sums at rows `ends`."""
        row = t % self._history
        norms = self._recent_norms[ends] * self._recent_norms[row]
        cosines = self._recent_sums[ends] @ self._recent_sums[row] / np.maximum(norms, 1e-12)
        return 1.0 - float(cosines.max())

    def _novelty(self, t: int, test: ChangeTest) -> float:
        """The cosine distance from the recent frames to the nearest stretch of as many frames of this segment
        among the last `test.seen` (ending before the recent frames begin): ~0 after a repeat or a loop cut, as far
        as two actions are apart after a change."""
        last = t - test.recent
        first = max(self.segment_start + test.recent - 1, t - min(test.seen or self._history, self._history)
                    + test.recent)
        if last < first:
            return 0.0
        a, b = first % self._history, last % self._history  # slices of the ring: views, not copies
        return min(self._nearest(rows, t) for rows in ([slice(a, b + 1)] if a <= b else
                                                       [slice(a, None), slice(0, b + 1)]))

    def _test_for_change(self, t: int, test: ChangeTest) -> bool:
        reference_first = max(self.segment_start, t - test.recent - test.reference + 1)
        reference_last = t - test.recent
        if reference_last - reference_first + 1 < test.min_reference:
            self.drift_ratio = 0.0
            return False
        if len(self._recent_sums):  # kept already for the `seen` and `novel` tests, with its length
            recent, recent_norm = self._recent_sums[t % self._history], self._recent_norms[t % self._history]
        else:
            recent = self._sum(t - test.recent + 1, t, self._recent)
            recent_norm = np.linalg.norm(recent)
        before = self._sum(reference_first, reference_last, self._before)
        self._reference = (reference_first, reference_last)
        norms = float(recent_norm * np.linalg.norm(before))
        drift = 1.0 - float(recent @ before) / norms if norms else 0.0
        young = t - self.segment_start < test.young
        floor = test.min_threshold if not young else \
            test.young_floor if self._tested >= test.guard else test.young_threshold
        threshold = max(floor, test.margin * self._largest_drift)
        self.drift_ratio = drift / threshold
        self._tested += 1
        self._drifts.append(drift)
        if len(self._drifts) > test.guard:
            self._largest_drift = max(self._largest_drift, self._drifts.popleft())
        novel = test.novel and drift <= threshold and t - self.segment_start >= test.novel_after and \
            self._novelty(t, test) > test.novel
        if drift <= threshold and not novel or test.seen and self._seen_before(t, test):
            return False
        if test.confirm:
            self._pending = _Pending(t + test.confirm, test.confirm, self._top1, self.segment_start,
                                     deque(self._drifts), self._largest_drift, drift, self._tested, self._adopted)
        # The new segment starts with the recent frames that moved away; the window changes from the next frame.
        self.segment_start, self._adopted = t - test.recent + 1, False
        self.changes += 1
        self._drifts.clear()
        self._largest_drift = 0.0
        self._tested = 0
        return True
