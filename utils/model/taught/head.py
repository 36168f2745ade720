"""The taught actions' head: nearest class mean by cosine, with a threshold that says "none of these".

Chosen by measurement (README, "Teach your own actions"): on the window-mean embedding, L2-normalised, the
class mean is as accurate as k-NN and logistic regression and keeps unknown actions further away than k-NN.
It needs no training step, works with a single action, and teaching again only moves a mean.

Score of action c, with s the cosines to every action's mean and tau_c its threshold:

    p_c = sigmoid((s_c - tau_c) / T) * softmax(s / T)_c      (0 when s_c < tau_c: not reported)

The first factor is 0.5 exactly at the threshold, the second shares the score between similar actions, so the
taught actions' scores sum to at most 1 and read like the model's own probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from utils.errors import ClassifierError
from utils.model.taught.store import TaughtAction

DEFAULT_TAU = 0.48  # the cosine below which a window is none of the taught actions (the middle of the band measured)
TEMPERATURE = 0.05  # in cosine units: the sigmoid's width and the softmax's temperature
MIN_WINDOW_SECONDS = 1.0  # windows holding less video are neither taught nor scored (cold buffers, 1-4 frames)


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows (or one vector) scaled to length 1."""
    vectors = np.asarray(vectors, np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def min_window_frames(rate: float, window_frames: int) -> int:
    """How many classified frames a window must hold to be taught or scored: one second of them, or the whole
    window when --window is shorter than that."""
    frames = max(1, round(MIN_WINDOW_SECONDS * rate))
    return min(frames, window_frames) if window_frames else frames


class TaughtHead:
    """Scores one window embedding against the taught actions."""

    def __init__(self, actions: Sequence[TaughtAction], default_tau: float = DEFAULT_TAU) -> None:
        self.names = [action.name for action in actions]
        dims = {action.examples.shape[1] for action in actions}
        if len(dims) > 1:
            raise ClassifierError(f"the taught actions have different sizes {sorted(dims)} for one model; "
                                  "forget and teach them again")
        self.dim = dims.pop() if dims else 0
        self._means = np.stack([unit(unit(a.examples).mean(axis=0)) for a in actions]) if actions \
            else np.zeros((0, 0), np.float32)
        self._tau = np.array([default_tau if a.tau is None else a.tau for a in actions], np.float32)
        self._inverse_t = np.float32(1.0 / TEMPERATURE)
        self._none = np.zeros(len(self.names), np.float32)
        self._none.flags.writeable = False

    def __len__(self) -> int:
        return len(self.names)

    def cosines(self, embedding: np.ndarray) -> np.ndarray:
        """The cosine between the embedding and each action's mean."""
        cosines = self._means @ embedding
        cosines *= 1.0 / max(math.sqrt(float(embedding @ embedding)), 1e-12)  # Python floats: fewer numpy calls
        return cosines

    def scores(self, embedding: np.ndarray) -> np.ndarray:
        """Each action's calibrated score in [0, 1]; 0 for those below their threshold. Do not write to it."""
        s = self.cosines(embedding)
        accepted = s >= self._tau
        if not accepted.any():  # the usual case away from the taught actions: no exponentials
            return self._none
        share = np.exp((s - s.max()) * self._inverse_t)
        scores = share / (share.sum() * (1.0 + np.exp((self._tau - s) * self._inverse_t)))
        scores[~accepted] = 0.0
        return scores
