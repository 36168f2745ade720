# Research prototype of the switching window, kept for the record: the app runs it as
# utils/model/head_window.py (ChangeTest).
"""SwitchClassifier: a MoViNet stream classifier that holds a long, stable window but restarts it on a change.

How it works
------------
The stream model's head keeps a running sum of per-frame features (`state_head_pool_buffer`) and a frame count;
its logits are computed from sum / count. As in the app's HeadWindow, each invoke's per-frame feature is
`f_t = out_sum - in_sum`, and we choose what the head sees by feeding the sum and count of the features we keep.
Everything below is bookkeeping on those 480-d features: one invoke per frame, no second interpreter, and the
causal-conv stream buffers are never touched.

1. Report window. Normally the mean over the last `window` (60) frames of the current *segment*. A long
   window is what keeps ambiguous clips stable: at 20 frames "flipping pancake" and "walking the dog" looped
   are top-1 on only 74-77 % of frames; at 60, on 99 %.
2. Change test, every frame, in feature space: the cosine distance between the mean of the last `recent` (10)
   features and the mean of up to `reference` (40) segment features before them (at least `min_reference`, 20).
3. Threshold. How far a clip drifts from itself differs a lot between clips (cosine 0.13 for carving ice,
   0.67 at the loop cut of arm wrestling, measured), so the threshold adapts to the segment, like a CFAR
   detector: `max(min_threshold, margin * D)`, where D is the largest drift this segment has shown more than
   `guard` (20) frames ago (so a change ramping up does not raise its own bar); with `margin` 1.0 a change is
   "a drift larger than any this segment has shown before". While the segment is younger than `young_frames`
   (150) and D has not been learnt yet, a fixed `young_threshold` (0.7) is used instead.
4. On a change, the new segment starts at the first of the `recent` frames that triggered it. For
   2 x `settle` frames the window is just the last `settle` (10) frames, after that it is the segment minus its
   first `settle` frames (those straddle the change and, through the stream buffers' receptive field, blend
   both actions), growing back to `window`. The new window takes effect from the next frame.

All lengths are in classified frames (at the app's 5 fps: window 12 s, recent 2 s, settle 2 s, young 30 s).

Why this and not the alternatives (real runs over the 56 pairs, docs/research/switch.md): a single
window cannot be both fast and stable (15 frames switches within 15 but holds looped flipping pancake on 64 %
of its frames; 60 holds everything but switches after up to 57); two staggered streams cost 2 invokes a frame
and inherit the short window's instability; also zeroing the stream buffers at a change made it worse (2 pairs
over 15 frames): a stream reset exactly at the switch is no faster than the blended one, because the second
clip's own first frames are ambiguous; tests on short-window *classes* false-alarm on the clips' own ambiguous
stretches, the feature drift against the segment's own past drift does not.

Limits: margins are thin on two clips (arm wrestling's own loop cut drifts 0.67, its switches peak at 0.77;
flipping pancake 0.54 vs 0.67); in a segment younger than `young_frames` only drifts above 0.7 count, so a
second change within 30 s of the last one may fall back to the 60-frame window's ~30-frame delay.

    clf = SwitchClassifier("movinet_a0_stream_int8.tflite")
    probabilities = clf.classify_resized(rgb_172x172_uint8)   # one call per classified frame
    clf.changes                                                 # frames at which a change was detected
"""

from __future__ import annotations

from collections import deque

import numpy as np

SIGNATURE = "serving_default"
HEAD_SUM, HEAD_COUNT = "state_head_pool_buffer", "state_head_pool_frame_count"


class SwitchClassifier:
    def __init__(self, model_path: str, num_threads: int = 1, window: int = 60, recent: int = 10,
                 reference: int = 40, min_reference: int = 20, young_frames: int = 150,
                 young_threshold: float = 0.7, min_threshold: float = 0.3, margin: float = 1.0, guard: int = 20,
                 settle: int = 10, interpreter_class=None) -> None:
        if interpreter_class is None:
            from ai_edge_litert.interpreter import Interpreter as interpreter_class
        self.window, self.recent, self.reference, self.min_reference = window, recent, reference, min_reference
        self.young_frames, self.young_threshold = young_frames, young_threshold
        self.min_threshold, self.margin, self.guard, self.settle = min_threshold, margin, guard, settle

        self._interpreter = interpreter_class(model_path=str(model_path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        runner = self._interpreter.get_signature_runner(SIGNATURE)
        inputs, outputs = runner.get_input_details(), runner.get_output_details()
        del runner  # it holds references into the interpreter, which would block raw tensor access
        tensor = self._interpreter.tensor
        self._image = tensor(inputs["image"]["index"])
        self._logits = tensor(outputs["logits"]["index"])
        self._head_in = tensor(inputs[HEAD_SUM]["index"])
        self._head_count = tensor(inputs[HEAD_COUNT]["index"])
        self._head_out = tensor(outputs[HEAD_SUM]["index"])
        self._all_states = [tensor(inputs[n]["index"]) for n in inputs if n.startswith("state_")]
        # The states whose output is a different tensor than their input (the 11 causal-conv stream buffers
        # and the head pool): the buffers are copied back after every invoke; the head is fed by us.
        self._buffers = [(tensor(inputs[n]["index"]), tensor(outputs[n]["index"])) for n in inputs
                         if n.startswith("state_") and n not in (HEAD_SUM, HEAD_COUNT)
                         and inputs[n]["index"] != outputs[n]["index"]]
        self.height, self.width = (int(s) for s in inputs["image"]["shape"][2:4])
        self._history = max(window, recent + reference)
        self._features = np.zeros((self._history, int(np.prod(self._head_in().shape))), np.float32)
        self._probabilities = np.empty(int(self._logits().shape[-1]), np.float32)
        self.invokes = 0
        self.reset()

    # -- state -----------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Starts afresh: stream buffers and head to zero, no history, one new segment."""
        for state in self._all_states:
            state()[...] = 0
        self._features[:] = 0
        self.frame = 0            # index of the next frame
        self.segment_start = 0    # first frame of the current segment
        self.changes: list[int] = []   # frames at which a change was detected
        self._drifts: deque[float] = deque()
        self._learnt = 0.0        # D: the largest drift of this segment, older than `guard` frames

    def _sum(self, first: int, last: int) -> np.ndarray:
        """Sum of the kept features of frames first..last (inclusive); they must be within the history."""
        if last < first:
            return np.zeros(self._features.shape[1], np.float32)
        rows = np.arange(first, last + 1) % self._history
        return self._features[rows].sum(axis=0)

    def _window_first(self, t: int) -> int:
        """First frame of the report window for frame t."""
        if not self.changes:                         # the first segment: a plain sliding window
            return max(0, t - self.window + 1)
        age = t - self.segment_start
        if age < 2 * self.settle:                    # just after a change: the last `settle` frames
            return max(self.segment_start, t - self.settle + 1)
        return max(self.segment_start + self.settle, t - self.window + 1)

    # -- per frame -------------------------------------------------------------------------------------
    def classify_resized(self, rgb: np.ndarray) -> np.ndarray:
        """Classifies one RGB uint8 frame already at the model's (height, width); returns class probabilities.

        The returned array is reused by the next call; copy it to keep it."""
        t = self.frame
        first = self._window_first(t)
        kept = self._sum(first, t - 1)            # what the head has seen of this window before frame t
        self._head_in()[...] = kept.reshape(self._head_in().shape)
        self._head_count()[...] = t - first
        np.multiply(rgb, np.float32(1.0 / 255.0), out=self._image()[0, 0])
        self._interpreter.invoke()   # (no numpy view of a tensor may be held across invoke)
        self.invokes += 1
        for state_in, state_out in self._buffers:
            np.copyto(state_in(), state_out())
        np.subtract(self._head_out().reshape(-1), kept, out=self._features[t % self._history])
        self.frame = t + 1
        self._test_for_change(t)   # a change found here shapes the window from the next frame on
        np.subtract(self._logits()[0], self._logits()[0].max(), out=self._probabilities)
        np.exp(self._probabilities, out=self._probabilities)
        self._probabilities /= self._probabilities.sum()
        return self._probabilities

    def _test_for_change(self, t: int) -> None:
        ref_first, ref_last = max(self.segment_start, t - self.recent - self.reference + 1), t - self.recent
        if ref_last - ref_first + 1 < self.min_reference:
            return
        recent = self._sum(t - self.recent + 1, t)
        before = self._sum(ref_first, ref_last)
        drift = 1.0 - float(recent @ before) / (float(np.linalg.norm(recent) * np.linalg.norm(before)) + 1e-12)
        young = t - self.segment_start < self.young_frames
        threshold = self.young_threshold if young else max(self.min_threshold, self.margin * self._learnt)
        self._drifts.append(drift)
        if len(self._drifts) > self.guard:
            self._learnt = max(self._learnt, self._drifts.popleft())
        if drift > threshold:
            self.segment_start = t - self.recent + 1
            self.changes.append(t)
            self._drifts.clear()
            self._learnt = 0.0
