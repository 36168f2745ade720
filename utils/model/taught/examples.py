"""A teaching session's examples: the window mean after each classified frame, from a stream reset at its start."""

from __future__ import annotations

import numpy as np

from utils.model.taught.head import min_window_frames


class ExampleRecorder:
    """Keeps the embedding of every classified frame whose window holds at least a second of video.

    Measured: the first windows after a reset (1-4 frames, cold buffers) pull an action's mean away from what a
    running stream sees, and leaving them out widened the margin between taught and unknown actions.
    """

    def __init__(self, rate: float, window_frames: int) -> None:
        self.rate = rate
        self.min_frames = min_window_frames(rate, window_frames)
        self.classified = 0
        self._examples: list[np.ndarray] = []

    def add(self, embedding: np.ndarray, frames_in_window: int) -> None:
        self.classified += 1
        if frames_in_window >= self.min_frames:
            self._examples.append(embedding.copy())

    @property
    def seconds(self) -> float:
        """The video the session covered."""
        return self.classified / self.rate

    @property
    def examples(self) -> np.ndarray:
        """float32 [n, dim]; n is 0 when the session held less than a second."""
        if not self._examples:
            return np.zeros((0, 0), np.float32)
        return np.stack(self._examples).astype(np.float32)

    def __len__(self) -> int:
        return len(self._examples)
