"""The taught actions' head: how like each action a window is, from what moves in it; below a threshold, none.

Chosen by measurement (docs/research/teaching.md). Each action keeps three means over its examples: the square
root of the mean class probabilities, the mean direction of the last 2 s of per-frame features, and the mean
direction of their change (features.py). A window's similarity to action c is the mean of

    bc  the Bhattacharyya coefficient of the probabilities (1: the same distribution)
    cr  the cosine of the recent features' mean to the action's
    cc  the cosine of the recent change to the action's

and the window is action c only when also cr >= MIN_RECENT_COSINE (what moves now, not 12 s ago, is like
the action) and its motion is at least MIN_MOTION_SHARE of the action's median (a still picture of the
action is not the action), and the picture itself moved on at least half of the recent steps (when the
observation says: a bump or a light step makes the features move for 1-2 s on a still picture, not the
picture; utils/model/picture_motion.py). Its score, with s the similarities to every action and tau_c the threshold:

    p_c = sigmoid((s_c - tau_c) / T) * softmax(s / T)_c      (0 when rejected: not reported)

An action with a background (what the camera sees when it is not happening) is also rejected unless the window
is at least as close to the action as to the background on the recent terms: (cr + cc) for the action >= (cr + cc)
for the background (no margin; the probabilities, which hold an action for the whole window, are left out).

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


def picture_moves(steps: np.ndarray | None) -> bool:
    """Whether the picture itself moved on at least half of the recent steps (their median share is above 0);
    True when not known."""
    return steps is None or 2 * int(np.count_nonzero(steps)) >= len(steps)


def min_window_frames(rate: float, window_frames: int) -> int:
    """How many classified frames a window must hold to be taught or scored: one second of them, or the whole
    window when --window is shorter than that."""
    frames = max(1, round(MIN_WINDOW_SECONDS * rate))
    return min(frames, window_frames) if window_frames else frames


def means(examples: Examples) -> np.ndarray:
    """The three means a window is compared with, side by side: [sqrt p | unit recent | unit change]."""
    return np.concatenate([np.sqrt(examples.probabilities.mean(axis=0)), unit(unit(examples.recent_means).mean(axis=0)),
                           unit(unit(examples.changes).mean(axis=0))])


def motion_floor(examples: Examples) -> float:
    """The least motion a window of this action must show."""
    described = Description(examples.probabilities, examples.recent_means, examples.changes)
    return MIN_MOTION_SHARE * float(np.median(described.motion))


class TaughtHead:
    """Scores one window against the taught actions: every action at once, in one matrix product."""

    def __init__(self, actions: Sequence[TaughtAction], default_tau: float = DEFAULT_TAU) -> None:
        self.names = [action.name for action in actions]
        sizes = {(action.examples.dim, action.examples.probabilities.shape[1]) for action in actions}
        if len(sizes) > 1:
            raise ClassifierError(f"the taught actions have different sizes {sorted(sizes)} for one model; "
                                  "forget and teach them again")
        examples = [action.examples for action in actions]
        dim, classes = next(iter(sizes)) if actions else (0, 0)
        # Each action's three means side by side, [sqrt p | unit recent | unit change], one row per action, and
        # below them the window's three parts, each on its own row and zero elsewhere: one product of every row
        # with the window's gives every action's three terms, [actions, 3] (the Bhattacharyya coefficient, and
        # the recent features' and their change's dot products: cosines once divided by the window's lengths,
        # which the weights below do), and the window's own squared lengths, one numpy call rather than three.
        rows = np.zeros((len(actions) + 3, classes + 2 * dim), np.float32)
        if actions:
            rows[:len(actions)] = np.stack([means(e) for e in examples])
        self._rows, self._means, self._query = rows, rows[:len(actions)], rows[len(actions):]
        # The actions with a background, and for each the action's means minus the background's on the recent
        # parts (none on the probabilities): one product gives (cr + cc) for the action - for the background.
        self._with_background = np.array([i for i, a in enumerate(actions) if a.background is not None], np.intp)
        differences = [self._means[i] - means(actions[i].background.examples) for i in self._with_background]
        self._differences = np.stack(differences).astype(np.float32) if differences else None
        if self._differences is not None:
            self._differences[:, :classes] = 0.0
            self._difference_terms = np.zeros((len(differences), 3), np.float32)
            self._closer = np.zeros(len(differences), np.float32)
        self._root_probabilities = self._query[0, :classes]
        self._recent_sum = self._query[1, classes:classes + dim]
        self._change_sum = self._query[2, classes + dim:]
        self._steps = np.zeros((RECENT_FEATURES, dim), np.float32)
        self._ones = np.ones(RECENT_FEATURES, np.float32)
        self._products = np.zeros((len(actions) + 3, 3), np.float32)
        self._terms = self._products[:len(actions)]
        self._recent_square = (len(actions) + 1, 1)  # where the product puts |recent sum|^2
        self._change_square = (len(actions) + 2, 2)
        self._inverse_t = 1.0 / TEMPERATURE
        self._third = self._inverse_t / 3.0
        # [1, 1/|recent|, 1/|change|] / (3 T): the terms' weights that make similarities over T (the last two
        # are the window's, set on every frame).
        self._weights = np.full(3, self._third, np.float32)
        tau_t = np.array([default_tau if a.tau is None else a.tau for a in actions],
                         np.float32) * np.float32(self._inverse_t)  # thresholds over T, as the products
        floors = np.array([motion_floor(e) for e in examples], np.float32)
        self._lowest_tau_t = float(tau_t.min()) if actions else 0.0
        self._lowest_motion_floor = float(floors.min()) if actions else 0.0
        # What the matched path compares with, as Python floats (from float32, as the products): past the
        # products, each action is a few numbers, and for tens of actions plain floats cost less than numpy's
        # per-call overhead.
        self._tau_ts = tau_t.tolist()
        self._motion_floor_list = floors.tolist()
        self._background_row = [-1] * len(actions)  # each action's row of self._differences (-1: none)
        for row, i in enumerate(self._with_background.tolist()):
            self._background_row[i] = row
        self._recent_terms = self._terms[:, 1]
        self._scores = np.zeros(len(actions), np.float32)
        self._none = np.zeros(len(actions), np.float32)
        self._none.flags.writeable = False

    def __len__(self) -> int:
        return len(self.names)

    def similarities(self, observation: Observation) -> np.ndarray:
        """The window's similarity to each action."""
        return self._over_temperature(observation)[0] * np.float32(TEMPERATURE)

    def _over_temperature(self, observation: Observation) -> tuple[np.ndarray, float, float]:
        """The window's similarity to each action over the temperature, and the lengths of its recent features'
        sum and of their changes' sum. Sums, not means, and as few numpy calls as can be: this runs on every
        classified frame, and numpy's cost per call, not the arithmetic, is most of its time (np.dot's is lower
        than matmul's)."""
        recent = observation.recent
        k = len(recent)
        np.sqrt(observation.probabilities, out=self._root_probabilities)
        np.dot(self._ones[:k], recent, out=self._recent_sum)
        if k >= 2:
            steps = np.subtract(recent[1:], recent[:-1], out=self._steps[:k - 1])
            np.dot(self._ones[:k - 1], np.abs(steps, out=steps), out=self._change_sum)
        else:
            self._change_sum[:] = 0.0
        products = np.dot(self._rows, self._query.T, out=self._products)
        recent_norm = math.sqrt(products.item(self._recent_square))
        change_norm = math.sqrt(products.item(self._change_square))
        weights, third = self._weights, self._third
        weights[1], weights[2] = third / max(recent_norm, 1e-12), third / max(change_norm, 1e-12)
        return np.dot(self._terms, weights), recent_norm, change_norm

    def scores(self, observation: Observation) -> np.ndarray:
        """Each action's calibrated score in [0, 1]; 0 for those it rejects. Reused by the next call: do not
        write to it."""
        if not self.names:
            return self._none
        z_array, recent_norm, change_norm = self._over_temperature(observation)
        z = z_array.tolist()  # exact: float32 values compare with float32 thresholds as they did in numpy
        best = max(z)
        if best < self._lowest_tau_t:  # the usual case away from the taught actions: nothing more to do
            return self._none
        k = len(observation.recent)
        motion = (change_norm / max(k - 1, 1)) / max(recent_norm / k, 1e-12)  # the mean change / the mean's length
        if motion < self._lowest_motion_floor or not picture_moves(observation.picture_steps):
            return self._none
        # Only the actions within their threshold can be accepted: usually a few, checked one by one.
        accepted = [i for i, tau in enumerate(self._tau_ts) if z[i] >= tau]
        recent_terms = self._recent_terms.tolist()
        recent_floor = MIN_RECENT_COSINE * recent_norm  # the recent features' cosine alone
        floors = self._motion_floor_list
        accepted = [i for i in accepted if recent_terms[i] >= recent_floor and motion >= floors[i]]
        rows = self._background_row
        if self._differences is not None and any(rows[i] >= 0 for i in accepted):
            # The same weights as the similarities: 1/|recent| and 1/|change| make cosines of the dot products.
            np.dot(self._differences, self._query.T, out=self._difference_terms)
            closer = np.dot(self._difference_terms, self._weights, out=self._closer).tolist()
            accepted = [i for i in accepted if rows[i] < 0 or closer[rows[i]] >= 0.0]
        if not accepted:
            return self._none
        # sigmoid((s - tau) / T) * softmax(s / T) = e / (sum(e) * (1 + exp((tau - s) / T))), e = exp((s - best) / T),
        # in float64; neither exp can overflow (s <= best, and tau <= s for an accepted action).
        total = sum([math.exp(v - best) for v in z])
        scores, tau_ts = self._scores, self._tau_ts
        scores.fill(0.0)
        for i in accepted:
            scores[i] = math.exp(z[i] - best) / (total * (1.0 + math.exp(tau_ts[i] - z[i])))
        return scores
