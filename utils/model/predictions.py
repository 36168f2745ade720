"""Turns logits into the top-k predictions the user asked for (softmax, allow/deny, threshold)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np

from utils.errors import ClassifierError
from utils.results import Prediction


def softmax(logits: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Numerically stable softmax; subtracting the max keeps exp() from overflowing."""
    out = np.subtract(logits, logits.max(), out=out)
    np.exp(out, out=out)
    out /= out.sum()
    return out


def did_you_mean(name: str, names: Sequence[str]) -> str:
    """", did you mean 'x'?" with the (at most two) `names` closest to a misspelt `name`, case aside; "" when
    none is close."""
    folded = {known.casefold(): known for known in names}
    close = difflib.get_close_matches(name.casefold(), list(folded), n=2, cutoff=0.5)
    return f", did you mean {' or '.join(repr(folded[c]) for c in close)}?" if close else ""


def check_names(names: Sequence[str], labels: Sequence[str], what: str = "") -> None:
    """ClassifierError naming the names that are not labels, with the closest labels as suggestions."""
    known = set(labels)
    unknown = [name for name in names if name not in known]
    if unknown:
        def suggest(name: str) -> str:
            return f"{name!r}{did_you_mean(name, labels)}"

        raise ClassifierError(f"{what}{': ' if what else ''}not in the label file: "
                              + "; ".join(suggest(n) for n in unknown)
                              + " (names must match a line of the label file exactly)")


class PredictionFilter:
    """Picks at most max_results labels by score, honouring allow/deny lists and a score threshold.

    A score of 0 is never reported: it says nothing (a taught action below its threshold, see model/taught).
    """

    nothing = ""  # what the screen says when no label is reported ("": the screen's own words)

    def __init__(self, labels: Sequence[str], max_results: int = 3, score_threshold: float = 0.0,
                 allow: Sequence[str] = (), deny: Sequence[str] = ()) -> None:
        self.labels = list(labels)
        self.max_results = max_results
        self.score_threshold = score_threshold
        check_names(allow, self.labels, "--allow")
        check_names(deny, self.labels, "--deny")
        index = {label: i for i, label in enumerate(self.labels)}
        # Indices that may be reported, fixed once so each frame is a single fancy-index.
        keep = np.zeros(len(self.labels), bool)
        keep[[index[n] for n in allow] if allow else slice(None)] = True
        keep[[index[n] for n in deny]] = False
        self._candidates = np.flatnonzero(keep)
        self._candidate_labels = self._candidates.tolist()  # Python ints: cheaper to index and compare per result
        self.taught_from = len(self.labels)  # labels from this index on are actions the user taught (model/taught)
        if not self._candidates.size:
            raise ClassifierError("--allow and --deny leave no label to report (every allowed label is denied); "
                                  "drop a --deny or allow more labels")

    def __call__(self, probabilities: np.ndarray) -> tuple[Prediction, ...]:
        scores = probabilities[self._candidates]
        k = min(self.max_results, scores.size)
        if k == 0:
            return ()
        # argpartition finds the k best in O(n); only those k are sorted.
        top = np.argpartition(scores, -k)[-k:]
        top = top[np.lexsort((top, -scores[top]))]  # by score, ties in label order
        labels, candidates, taught_from = self.labels, self._candidate_labels, self.taught_from
        return tuple(
            Prediction(labels[candidates[i]], float(scores[i]), candidates[i] >= taught_from)
            for i in top if scores[i] >= self.score_threshold and scores[i] > 0)
