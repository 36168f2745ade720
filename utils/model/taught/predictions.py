"""Taught actions reported as labels like any other: one score vector, one PredictionFilter.

The filter's labels are the model's followed by the taught names, so --score-threshold, --allow/--deny, top-k
and everything downstream (JSON, events, MQTT) treat a taught action as one more label.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from utils.model.predictions import PredictionFilter
from utils.model.taught.features import Observe
from utils.model.taught.head import TaughtHead
from utils.model.taught.store import TaughtAction
from utils.results import Prediction

NONE_OF_THEM = "none of the taught actions"


class TaughtPredictions:
    """The model's probabilities and the taught actions' scores, picked by one PredictionFilter.

    `prediction_filter` must know the model's labels followed by `names`. A name with no action yet (the one
    --teach is about to teach) scores 0 until learn() gives it one. With `only`, the model's labels keep
    score 0, and scores of 0 are never reported.
    """

    def __init__(self, prediction_filter: PredictionFilter, names: Sequence[str], actions: Sequence[TaughtAction],
                 observe: Observe, min_frames: int, only: bool = False) -> None:
        self.prediction_filter = prediction_filter
        self.names = list(names)
        self.model_labels = len(prediction_filter.labels) - len(self.names)
        if prediction_filter.labels[self.model_labels:] != self.names:
            raise ValueError("the prediction filter's labels must end with the taught names")
        self.observe = observe
        self.min_frames = min_frames
        self.only = only
        self.nothing = NONE_OF_THEM if only else ""  # what the screen says when no label is reported
        prediction_filter.taught_from = self.model_labels  # its results say which labels are taught
        self._scores = np.zeros(len(prediction_filter.labels), np.float32)
        self._model_scores, self._taught_scores = self._scores[:self.model_labels], self._scores[self.model_labels:]
        self._actions = {action.name: action for action in actions}
        self._fit()

    def _fit(self) -> None:
        taught = [name for name in self.names if name in self._actions]
        self.head = TaughtHead([self._actions[name] for name in taught])
        self._positions = self.model_labels + np.array([self.names.index(n) for n in taught], np.intp)
        self._every_name_taught = len(taught) == len(self.names)  # then the head's scores fill the taught labels
        self._any_taught = bool(taught)

    def learn(self, name: str, action: TaughtAction | None) -> None:
        """Takes a newly taught, re-taught or undone action into account from the next frame on (None: the
        action is gone; its name stays a label that scores 0)."""
        if action is None:
            self._actions.pop(name, None)
        else:
            self._actions[name] = action
        self._fit()

    def __call__(self, probabilities: np.ndarray) -> tuple[Prediction, ...]:
        if not self.only:
            self._model_scores[...] = probabilities
        observation = self.observe() if self._any_taught else None
        if observation is None or observation.frames < self.min_frames:  # scored on windows like those taught
            self._taught_scores[:] = 0.0
        elif self._every_name_taught:
            self._taught_scores[:] = self.head.scores(observation)
        else:  # the name --teach is about to teach scores 0
            self._taught_scores[:] = 0.0
            self._scores[self._positions] = self.head.scores(observation)
        return self.prediction_filter(self._scores)

