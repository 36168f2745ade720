"""The taught actions' head: how like each action a window is, from what moves in it; below a threshold, none.

Chosen by measurement (docs/research/teaching.md). Each action keeps three means over its examples: the square
root of the mean class probabilities, the mean direction of the last 2 s of per-frame features, and the mean
direction of their change (features.py). A window's similarity to action c is the mean of

    bc  the Bhattacharyya coefficient of the probabilities (1: the same distribution)
    cr  the cosine of the recent features' mean to the action's
    cc  the cosine of the recent change to the action's

and the window is action c only when also cr >= MIN_RECENT_COSINE (what moves now, not 12 s ago, is like
the action) and its motion is at least MIN_MOTION_SHARE of the action's median (a still picture of the
action is not the action). Its score, with s the similarities to every action and tau_c the threshold:

    p_c = sigmoid((s_c - tau_c) / T) * softmax(s / T)_c      (0 when rejected: not reported)

The first factor is 0.5 exactly at the threshold, the second shares the score between similar actions, so the
taught actions' scores sum to at most 1 and read like the model's own probabilities. No training step: it
works with a single action, and teaching again only moves the means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from utils.errors import ClassifierError
from utils.model.stream_classifier import RECENT_FEATURES
from utils.model.taught.features import Description, Observation
from utils.model.taught.store import Examples, TaughtAction

DEFAULT_TAU = 0.5  # the similarity below which a window is none of the taught actions
MIN_RECENT_COSINE = 0.45  # the last 2 s must look like the action by themselves
MIN_MOTION_SHARE = 0.5  # of the action's median motion
TEMPERATURE = 0.05  # in similarity units: the sigmoid's width and the softmax's temperature
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


def motion_floor(examples: Examples) -> float:
    """The least motion a window of this action must show."""
    described = Description(examples.probabilities, examples.recent_means, examples.changes)
    return MIN_MOTION_SHARE * float(np.median(described.motion))


class TaughtHead:
    """Scores one window against the taught actions."""

    def __init__(self, actions: Sequence[TaughtAction], default_tau: float = DEFAULT_TAU) -> None:
        self.names = [action.name for action in actions]
        sizes = {(action.examples.dim, action.examples.probabilities.shape[1]) for action in actions}
        if len(sizes) > 1:
            raise ClassifierError(f"the taught actions have different sizes {sorted(sizes)} for one model; "
                                  "forget and teach them again")
        examples = [action.examples for action in actions]
        # One matrix for the three terms, so a window costs one product: [sqrt p, unit recent, unit change].
        self._means = np.stack([np.concatenate([np.sqrt(e.probabilities.mean(axis=0)),
                                                unit(unit(e.recent_means).mean(axis=0)),
                                                unit(unit(e.changes).mean(axis=0))]) / 3.0
                                for e in examples]).astype(np.float32) if actions else np.zeros((0, 0), np.float32)
        classes = examples[0].probabilities.shape[1] if actions else 0
        dim = examples[0].dim if actions else 0
        self._recent = np.ascontiguousarray(self._means[:, classes:classes + dim] * np.float32(3.0))  # cosine alone
        self._query = np.zeros(classes + 2 * dim, np.float32)
        self._parts = (self._query[:classes], self._query[classes:classes + dim], self._query[classes + dim:])
        self._steps = np.zeros((RECENT_FEATURES, dim), np.float32)
        self._motion_floor = np.array([motion_floor(e) for e in examples], np.float32)
        self._tau = np.array([default_tau if a.tau is None else a.tau for a in actions], np.float32)
        self._lowest_tau = float(self._tau.min()) if actions else 0.0
        self._inverse_t = np.float32(1.0 / TEMPERATURE)
        self._none = np.zeros(len(self.names), np.float32)
        self._none.flags.writeable = False

    def __len__(self) -> int:
        return len(self.names)

    def similarities(self, observation: Observation) -> tuple[np.ndarray, float, float]:
        """The window's similarity to each action, and the lengths of its recent features' sum and of their
        changes' sum (after which the query holds their directions)."""
        root_probabilities, recent_sum, change_sum = self._parts
        np.sqrt(observation.probabilities, out=root_probabilities)
        recent = observation.recent
        np.add.reduce(recent, axis=0, out=recent_sum)
        if len(recent) >= 2:  # sums, not means, and as few numpy calls as can be: this runs on every frame
            steps = np.subtract(recent[1:], recent[:-1], out=self._steps[:len(recent) - 1])
            np.add.reduce(np.abs(steps, out=steps), axis=0, out=change_sum)
        else:
            change_sum[:] = 0.0
        recent_norm = max(math.sqrt(float(recent_sum @ recent_sum)), 1e-12)
        change_norm = math.sqrt(float(change_sum @ change_sum))
        recent_sum *= np.float32(1.0 / recent_norm)
        change_sum *= np.float32(1.0 / max(change_norm, 1e-12))
        return self._means @ self._query, recent_norm, change_norm

    def scores(self, observation: Observation) -> np.ndarray:
        """Each action's calibrated score in [0, 1]; 0 for those it rejects. Do not write to it."""
        if not self.names:
            return self._none
        s, recent_norm, change_norm = self.similarities(observation)
        best = s.max()
        if best < self._lowest_tau:  # the usual case away from the taught actions: nothing more to do
            return self._none
        k = len(observation.recent)
        motion = (change_norm / max(k - 1, 1)) / (recent_norm / k)  # the mean change / the mean's length
        accepted = (s >= self._tau) & (self._recent @ self._parts[1] >= MIN_RECENT_COSINE) & (
            motion >= self._motion_floor)
        if not accepted.any():
            return self._none
        share = np.exp((s - best) * self._inverse_t)
        scores = share / (share.sum() * (1.0 + np.exp((self._tau - s) * self._inverse_t)))
        scores[~accepted] = 0.0
        return scores
