"""A teaching session's examples: what the model saw after each classified frame, from a stream reset at its start."""

from __future__ import annotations

import numpy as np

from utils.model.taught.features import Observation, describe
from utils.model.taught.head import min_window_frames
from utils.model.taught.store import Examples


class ExampleRecorder:
    """Keeps an example of every classified frame whose window holds at least a second of video.

    Measured: the first windows after a reset (1-4 frames, cold buffers) pull an action's mean away from what a
    running stream sees, and leaving them out widened the margin between taught and unknown actions.
    """

    def __init__(self, rate: float, window_frames: int) -> None:
        self.rate = rate
        self.min_frames = min_window_frames(rate, window_frames)
        self.classified = 0
        self._rows: list[tuple[np.ndarray, ...]] = []

    def add(self, observation: Observation) -> None:
        self.classified += 1
        if observation.frames >= self.min_frames:
            description = describe(observation)
            self._rows.append((observation.window_sum / observation.frames, description.probabilities.copy(),
                               description.recent_mean, description.change))

    @property
    def seconds(self) -> float:
        """The video the session covered."""
        return self.classified / self.rate

    @property
    def examples(self) -> Examples:
        """float32 rows; call only when len(self) > 0 (a session that held at least a second)."""
        return Examples(*(np.stack(column).astype(np.float32) for column in zip(*self._rows)))

    def __len__(self) -> int:
        return len(self._rows)
