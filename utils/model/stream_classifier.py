"""MoViNet stream classifier: one frame per call, states fed back every call, bounded memory."""

from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path

import numpy as np

from utils.errors import ClassifierError
from utils.model.doubled_ring import newest
from utils.model.files import ModelFileError, check_tflite_file
from utils.model.fresh_start import FrameRing, FreshRun, FreshStart
from utils.model.head_window import ChangeTest, HeadWindow
from utils.model.picture_motion import PictureSteps
from utils.model.predictions import softmax
from utils.model.runtime import Runtime, load_runtime
from utils.native_stderr import explain_a_crash, native_stderr_to_log
from utils.resize import shrink

log = logging.getLogger(__name__)

SIGNATURE = "serving_default"
HEAD_BUFFER = "state_head_pool_buffer"
HEAD_COUNT = "state_head_pool_frame_count"
RECENT_FEATURES = 64  # per-frame features kept for the taught actions (2 s up to 30 classified frames/s)


def changing_states(inputs: dict, outputs: dict) -> list[str]:
    """The state inputs that must be copied back from their outputs after every invoke (signature details).

    In the MoViNet exports most states (30 of A0's 43) are passed through: their output *is* the input
    tensor, so it already holds the next call's value and copying it would be wasted time.
    """
    return sorted(n for n in inputs if n.startswith("state_") and inputs[n]["index"] != outputs[n]["index"])


class StreamClassifier:
    """Loads a MoViNet stream model and classifies one RGB frame per call.

    Works on the interpreter's tensors in place (no per-frame allocation of the input or of the
    43 states): after every invoke the outputs of the states that change are copied into their inputs.
    """

    def __init__(self, model_path: Path, num_threads: int, runtime: str | Runtime = "auto",
                 window_frames: int = 0, smoothing: float = 0.0) -> None:
        self.model_path = Path(model_path)
        self.num_threads = num_threads
        self.runtime = runtime if isinstance(runtime, Runtime) else load_runtime(runtime)
        self.smoothing = smoothing
        try:
            check_tflite_file(self.model_path)
        except ModelFileError as e:
            raise ClassifierError(str(e)) from e
        self._interpreter = self._load()
        inputs, outputs = self._signature()
        self._check_stream_model(inputs, outputs)

        image = inputs["image"]
        self.input_height, self.input_width = int(image["shape"][2]), int(image["shape"][3])
        self.num_classes = int(outputs["logits"]["shape"][-1])
        tensor = self._interpreter.tensor
        self._image = tensor(image["index"])
        self._logits = tensor(outputs["logits"]["index"])
        has_head = HEAD_BUFFER in inputs and HEAD_COUNT in inputs
        self._head = (tensor(inputs[HEAD_BUFFER]["index"]), tensor(inputs[HEAD_COUNT]["index"]),
                      tensor(outputs[HEAD_BUFFER]["index"])) if has_head else None
        # The head's sum and count after an invoke: their ratio is the window's mean feature (embedding()).
        self._head_out = (self._head[2], tensor(outputs[HEAD_COUNT]["index"])) if self._head else None
        self.embedding_size = int(np.prod(inputs[HEAD_BUFFER]["shape"])) if has_head else 0
        self._embedding = np.empty(self.embedding_size, np.float32)
        # The last RECENT_FEATURES per-frame features (out_sum - in_sum of the head), a ring by frame number kept
        # twice over, so that the last k are always one slice (doubled_ring.py: no copy on every frame).
        self._recent = np.zeros((2 * RECENT_FEATURES, self.embedding_size), np.float32)
        self.keep_recent = False  # the taught head turns the ring on (taught.features.observer); others skip it
        self._picture = PictureSteps(RECENT_FEATURES)  # kept with the ring: whether the picture itself moves
        self._classified = 0
        self._state_inputs = [tensor(inputs[n]["index"]) for n in sorted(inputs) if n.startswith("state_")]
        states = {n: (tensor(inputs[n]["index"]), tensor(outputs[n]["index"]))
                  for n in changing_states(inputs, outputs)}
        self._changing = list(states.values())
        self._changing_but_head = [pair for n, pair in states.items() if n not in (HEAD_BUFFER, HEAD_COUNT)]
        self.window: HeadWindow | None = None
        self.fresh: FreshStart | None = None
        self._fresh_run: FreshRun | None = None
        self._ring: FrameRing | None = None
        self._states = self._changing
        self._resized = np.empty((self.input_height, self.input_width, 3), np.uint8)
        self._probabilities = np.empty(self.num_classes, np.float32)
        self._smoothed: np.ndarray | None = None
        self.set_window(window_frames)

    def set_window(self, frames: int, change: ChangeTest | None = None, fresh: FreshStart | None = None) -> None:
        """Bounds the head's memory to the last `frames` classified frames (0: the model's unbounded sum), of
        the current action when a ChangeTest restarts the window at a change of action; with `fresh`, a
        suspected change also starts a second stream from zero states that may take over (fresh_start.py)."""
        if frames and not self._head:
            log.warning("this model has no %s state; --window is ignored", HEAD_BUFFER)
        self.window = HeadWindow(frames, *self._head, change=change, history=fresh.span if fresh else 1) \
            if frames and self._head else None
        self.fresh = fresh if self.window and change else None
        self._ring = FrameRing(self.fresh.replay * self.fresh.stride, (self.input_height, self.input_width, 3)) \
            if self.fresh else None
        # With a window, the head pool is fed from the window instead of from its own output.
        self._states = self._changing_but_head if self.window else self._changing
        self.reset()

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) the model expects."""
        return self.input_width, self.input_height

    @property
    def description(self) -> str:
        return (f"{self.model_path.name} ({self.input_width}x{self.input_height}, "
                f"{self.num_classes} classes) on {self.runtime}, {self.num_threads} threads")

    def _load(self):
        crashed = (f"the TFLite runtime ({self.runtime}) crashed while loading {self.model_path}; "
                   "try another runtime (--runtime tflite-runtime or ai-edge-litert), fewer threads (--num-threads 1), "
                   "or a fresh copy of the model (./download_models.sh --force)")
        with explain_a_crash(crashed), native_stderr_to_log() as native_lines:
            try:
                interpreter = self.runtime.interpreter_class(
                    model_path=str(self.model_path), num_threads=self.num_threads)
                interpreter.allocate_tensors()
            except Exception as e:  # the runtimes raise ValueError/RuntimeError/SystemError alike
                detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                native = f" ({native_lines[-1]})" if native_lines else ""
                raise ClassifierError(
                    f"cannot load model {self.model_path} with {self.runtime}: {detail}{native}; "
                    "re-run ./download_models.sh or try --runtime") from e
        return interpreter

    def _signature(self) -> tuple[dict, dict]:
        """The inputs and outputs of the stream signature; a corrupt model's names can fail to decode here."""
        try:
            if SIGNATURE not in self._interpreter.get_signature_list():
                raise ClassifierError(
                    f"{self.model_path} is not a MoViNet stream model: it has no '{SIGNATURE}' signature; "
                    "use movinet_<a0|a1|a2>_stream_int8.tflite from ./download_models.sh")
            runner = self._interpreter.get_signature_runner(SIGNATURE)
            inputs, outputs = runner.get_input_details(), runner.get_output_details()
        except ClassifierError:
            raise
        except Exception as e:  # ValueError, UnicodeDecodeError (a damaged tensor name), RuntimeError alike
            raise ClassifierError(
                f"{self.model_path} is corrupt: its signature cannot be read ({type(e).__name__}: "
                f"{str(e).strip().splitlines()[0] if str(e).strip() else 'no detail'}); "
                "run ./download_models.sh --force") from e
        del runner  # it holds references into the interpreter, which would block raw tensor access
        return inputs, outputs

    def _check_stream_model(self, inputs: dict, outputs: dict) -> None:
        where = f"{self.model_path} is not a MoViNet stream model"
        if "image" not in inputs or "logits" not in outputs:
            raise ClassifierError(f"{where}: it needs an 'image' input and a 'logits' output")
        shape = list(inputs["image"]["shape"])
        if len(shape) != 5 or shape[:2] != [1, 1] or shape[4] != 3:
            raise ClassifierError(f"{where}: its image input is {shape}, not [1, 1, H, W, 3]")
        if np.dtype(inputs["image"]["dtype"]) != np.float32:
            # Every MoViNet TFLite export, int8 ones included, takes float32 RGB in [0, 1].
            raise ClassifierError(f"{where}: its image input is {np.dtype(inputs['image']['dtype']).name}, "
                                  "not float32 RGB in [0, 1]")
        states = [n for n in inputs if n.startswith("state_")]
        if not states:
            raise ClassifierError(
                f"{where}: it has no state_* inputs (a base/clip model?); "
                "use a *stream* model such as movinet_a0_stream_int8.tflite")
        for name in states:
            out, state = outputs.get(name), inputs[name]
            if out is None or list(out["shape"]) != list(state["shape"]) or out["dtype"] != state["dtype"]:
                raise ClassifierError(f"{where}: state {name} has no matching output to feed back")

    def reset(self) -> None:
        """Restarts the stream: every state back to zero, as at load time."""
        for state_in in self._state_inputs:
            state_in()[...] = 0
        if self.window:
            self.window.reset()
        self._smoothed = None
        self._classified = 0
        self._picture.reset()
        self._fresh_run = None
        self._fresh_rest = 0
        if self._ring:
            self._ring.clear()
        # extra invokes and the most in a frame; "outraced": fresh streams dropped because the main stream was ahead
        self.fresh_counts = {"started": 0, "adopted": 0, "outraced": 0, "invokes": 0, "peak": 0}

    def classify(self, rgb: np.ndarray) -> np.ndarray:
        """Classifies one RGB uint8 frame of any size; returns class probabilities.

        The returned array is reused by the next call; copy it to keep it.
        """
        if rgb.shape[:2] != (self.input_height, self.input_width):
            rgb = shrink(rgb, self.input_size, dst=self._resized)
        self._set_image(rgb)
        if self._ring:
            self._ring.add(rgb)
        if self.window:
            self.window.feed()
        self._interpreter.invoke()
        if self._head and self.keep_recent:
            row = self._classified % RECENT_FEATURES
            self._frame_feature(out=self._recent[row])
            self._recent[row + RECENT_FEATURES] = self._recent[row]
            self._picture.add(rgb)
        self._classified += 1
        # The states' outputs become next call's inputs (copied in place, no allocation).
        for state_in, state_out in self._states:
            np.copyto(state_in(), state_out())
        logits = self._logits()[0]
        top1 = int(np.argmax(logits))
        changed = self.window is not None and self.window.update(top1)
        if changed:
            log.debug("a change of action after frame %d: the window restarts", self._classified - 1)
        if self.fresh:
            logits = logits.copy()  # the interpreter refuses to invoke the fresh stream while a view is held
            logits = self._fresh_start(self.fresh, top1, changed, logits)
        probabilities = softmax(logits, out=self._probabilities)
        return self._smooth(probabilities)

    def _frame_feature(self, out: np.ndarray | None = None) -> np.ndarray:
        """After an invoke: the frame's own feature, what the head pool added for it (out_sum - in_sum)."""
        assert self._head is not None
        return np.subtract(self._head[2]().reshape(-1), self._head[0]().reshape(-1), out=out)

    def _fresh_start(self, fresh: FreshStart, top1: int, changed: bool, logits: np.ndarray) -> np.ndarray:
        """After the main stream's invoke: starts, feeds, adopts or drops the fresh stream; the logits to show."""
        assert self.window is not None and self._ring is not None
        run = self._fresh_run
        suspected = self.window.drift_ratio >= fresh.suspect and not self._fresh_rest
        self._fresh_rest = max(0, self._fresh_rest - 1)
        start = self.window.change_start(fresh.replay * fresh.stride) if (suspected or changed) and fresh.estimate \
            else self.window.frame - fresh.replay * fresh.stride
        # A change the test confirms restarts a fresh stream that began before the new action (at a clip's own
        # jump, say): its buffers would hold the old action.
        if run is None and (suspected or changed) or run is not None and changed and run.first < start:
            frames = self._ring.last(-(-(self.window.frame - start) // fresh.stride), fresh.stride)  # rounded up
            run = self._fresh_run = FreshRun(
                self.window.frame - len(frames) * fresh.stride, top1,
                [np.zeros_like(state()) for state in self._state_inputs],
                deque((frame, fresh.stride) for frame in frames))
            self.fresh_counts["started"] += 1
        elif run is None:
            return logits
        else:
            run.queue.append((self._ring.last(1)[0], 1))
        run.confirmed |= changed or self.window.drift_ratio >= fresh.confirm
        played = self._play_fresh(run, fresh.per_frame)
        self.fresh_counts["invokes"] += played
        self.fresh_counts["peak"] = max(self.fresh_counts["peak"], played)
        if run.queue:
            return logits
        run.caught_up += 1
        winner = run.race_winner(fresh, top1)
        assert run.logits is not None  # set by _play_fresh
        if winner == "fresh":
            self._adopt(run)
            log.debug("a fresh stream from frame %d takes over after frame %d", run.first, self.window.frame - 1)
            return run.logits
        if winner == "main" or run.raced < 0 and run.caught_up >= fresh.watch:
            self._fresh_run, self._fresh_rest = None, fresh.rest
            self.fresh_counts["outraced"] += winner == "main"
            return logits
        # While they race, the fresh stream is shown when it names a new action, as it would have taken over.
        return run.logits if run.ready_to_adopt(fresh) else logits

    def _play_fresh(self, run: FreshRun, most: int) -> int:
        """Plays up to `most` queued frames into the fresh stream, leaving the main stream's tensors as they were;
        returns how many."""
        assert self._head is not None and self._head_out is not None
        main = [state().copy() for state in self._state_inputs]
        main_head_out = [tensor().copy() for tensor in self._head_out]
        for state, value in zip(self._state_inputs, run.states):
            np.copyto(state(), value)
        played = 0
        while run.queue and played < most:
            rgb, frames = run.queue.popleft()
            self._set_image(rgb)
            self._interpreter.invoke()
            # A frame of a strided replay stands for the frames it skipped.
            run.features += [self._frame_feature()] * frames
            for state_in, state_out in self._changing:  # the head pool too: a fresh stream sums from its start
                np.copyto(state_in(), state_out())
            played += 1
        run.logits = self._logits()[0].copy()
        probabilities = softmax(run.logits)
        run.top1 = int(np.argmax(probabilities))
        run.score = float(probabilities[run.top1])
        run.head_out = [tensor().copy() for tensor in self._head_out]
        for state, value in zip(self._state_inputs, run.states):
            np.copyto(value, state())
        for state, value in zip(self._state_inputs, main):
            np.copyto(state(), value)
        for tensor, value in zip(self._head_out, main_head_out):
            np.copyto(tensor(), value)
        return played

    def _adopt(self, run: FreshRun) -> None:
        """The fresh stream becomes the stream: its states, its features in the window, its head for embedding()."""
        assert self.window is not None and self._head_out is not None
        for state, value in zip(self._state_inputs, run.states):
            np.copyto(state(), value)
        self.window.adopt(run.first, np.asarray(run.features))
        for tensor, value in zip(self._head_out, run.head_out):
            np.copyto(tensor(), value)
        self._fresh_run = None
        self.fresh_counts["adopted"] += 1

    def require_embedding(self) -> None:
        """Refuses a model whose head keeps no pool state: it has no embedding to teach actions with."""
        if self._head_out is None:
            raise self._no_embedding()

    def _no_embedding(self) -> ClassifierError:
        return ClassifierError(f"{self.model_path.name} has no {HEAD_BUFFER} state, so it cannot learn taught "
                               "actions; use a MoViNet stream model from ./download_models.sh")

    def embedding(self) -> tuple[np.ndarray, int]:
        """After classify(): the mean of the head's per-frame features over the window (what the head itself
        classifies: a video embedding of `embedding_size` numbers that costs no extra invoke) and the number of
        frames that window holds. The array is reused by the next call; copy it to keep it."""
        total, frames = self.window_sum()
        np.divide(total, max(frames, 1), out=self._embedding)
        return self._embedding, frames

    def window_sum(self) -> tuple[np.ndarray, int]:
        """After classify(): embedding() before its division (the sum of the per-frame features over the window,
        and the number of frames), for a caller that needs the mean only now and then. The sum is a view of the
        model's state, which the next classify() changes."""
        if self._head_out is None:
            raise self._no_embedding()
        total, count = self._head_out
        return total().reshape(-1), int(count().reshape(-1)[0])

    @property
    def probabilities(self) -> np.ndarray:
        """After classify(): the model's softmax of this frame's window, before smoothing. Reused."""
        return self._probabilities

    def recent_features(self, k: int) -> np.ndarray:
        """After classify(): the head's features of the last k frames since the reset (fewer when fewer were
        classified), oldest first: [k, embedding_size], a view that the next classify() may change."""
        return newest(self._recent, self._classified, k)

    def picture_steps(self, k: int) -> np.ndarray:
        """After classify(): how much of the picture changed into each of the last k frames' (k - 1 steps,
        oldest first; picture_motion.py), a view that the next classify() may change."""
        return self._picture.recent(k - 1)

    def timed_classify(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """classify() plus its wall time in milliseconds."""
        start = time.perf_counter()
        probabilities = self.classify(rgb)
        return probabilities, (time.perf_counter() - start) * 1000.0

    def _set_image(self, rgb: np.ndarray) -> None:
        # [0, 255] -> [0, 1], written straight into the interpreter's input tensor.
        np.multiply(rgb, np.float32(1.0 / 255.0), out=self._image()[0, 0])

    def _smooth(self, probabilities: np.ndarray) -> np.ndarray:
        """Exponential moving average of the scores so displayed labels do not flicker."""
        if not self.smoothing:
            return probabilities
        if self._smoothed is None:
            self._smoothed = probabilities.copy()
        else:
            self._smoothed *= self.smoothing
            self._smoothed += (1.0 - self.smoothing) * probabilities
        return self._smoothed
