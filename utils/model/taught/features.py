"""What the taught head looks at in a window, and what teaching keeps of it (docs/research/teaching.md).

The window mean of the head's features says as much about the room as about the movement, and it lingers
for the whole window after an action ends. So each window is described by three things instead:

- the model's own class probabilities (their square roots: matched by the Bhattacharyya coefficient), which
  carry an action from one clip to another better than the features;
- the mean of the last 2 s of per-frame features, which follows the movement now, not 12 s ago;
- how much those per-frame features change (their mean absolute difference), as a direction and as a size
  relative to the features: a frozen picture, or a room with nobody moving, has none;
- and, to score a window (not kept by teaching), whether the picture itself moved on most of those frames: the
  features echo a jump of the whole picture (a bumped camera, a light switched) for 1-2 s, the picture does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

RECENT_SECONDS = 2.0  # the per-frame features the movement is judged on


def recent_frames(rate: float) -> int:
    """How many classified frames make RECENT_SECONDS (at least 2: a change needs two)."""
    return max(2, round(RECENT_SECONDS * rate))


class Observation(NamedTuple):  # a tuple: made on every classified frame, and cheaper than a dataclass
    """One classified frame as the taught head sees it. The arrays may be reused by the next frame."""

    window_sum: np.ndarray  # [dim] the sum of the head's features over the window (teaching keeps their mean)
    frames: int  # how many frames the window holds
    probabilities: np.ndarray  # [classes] the model's softmax of that window (not smoothed)
    recent: np.ndarray  # [k, dim] the last k per-frame features, oldest first (k <= recent_frames)
    # [k - 1] the share of the picture that changed into each recent frame (utils/model/picture_motion.py);
    # None: not known (then the head judges movement on the features alone)
    picture_steps: np.ndarray | None = None


Observe = Callable[[], Observation]  # called after each classify()


def observer(classifier, rate: float) -> Observe:
    """What a StreamClassifier gives the taught head after each classify(), at `rate` classified frames/s."""
    k = recent_frames(rate)
    classifier.keep_recent = True  # from now on every classify() keeps its per-frame feature

    def observe() -> Observation:  # on every classified frame: the sum, not the mean the head does not use
        total, frames = classifier.window_sum()
        recent = classifier.recent_features(min(k, frames))
        return Observation(total, frames, classifier.probabilities, recent, classifier.picture_steps(len(recent)))

    return observe


@dataclass(frozen=True)
class Description:
    """A window described for the taught head: rows of [n, ...] arrays, or one window ([...] arrays)."""

    probabilities: np.ndarray  # the model's softmax of the window
    recent_mean: np.ndarray  # mean of the recent per-frame features
    change: np.ndarray  # mean absolute difference of consecutive recent features (0 with fewer than 2)

    @property
    def motion(self) -> np.ndarray | float:
        """How much the features change, relative to their size: about 0 for a frozen picture."""
        return np.linalg.norm(self.change, axis=-1) / np.maximum(np.linalg.norm(self.recent_mean, axis=-1), 1e-12)


def describe(observation: Observation) -> Description:
    recent = observation.recent
    change = np.abs(np.diff(recent, axis=0)).mean(axis=0) if len(recent) >= 2 else np.zeros(recent.shape[1],
                                                                                            np.float32)
    return Description(observation.probabilities, recent.mean(axis=0), change)
