"""Softmax and the top-k filter, on arrays (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import LABELS

from utils.errors import ClassifierError
from utils.model.labels import load_labels
from utils.model.predictions import PredictionFilter, softmax

NAMES = ["a", "b", "c", "d", "e"]


def test_softmax_is_stable_for_huge_logits():
    probabilities = softmax(np.array([1000.0, 999.0, -1000.0], np.float32))
    assert np.all(np.isfinite(probabilities))
    assert probabilities.sum() == pytest.approx(1.0)
    assert probabilities[0] / probabilities[1] == pytest.approx(np.e, rel=1e-4)


def test_softmax_writes_into_the_given_buffer():
    out = np.empty(3, np.float32)
    assert softmax(np.array([0.0, 1.0, 2.0], np.float32), out=out) is out


def test_top_k_sorted_by_score_ties_in_label_order():
    scores = np.array([0.1, 0.3, 0.3, 0.2, 0.1], np.float32)
    result = PredictionFilter(NAMES, max_results=3)(scores)
    assert [(p.label, p.score) for p in result] == [("b", pytest.approx(0.3)), ("c", pytest.approx(0.3)),
                                                    ("d", pytest.approx(0.2))]


def test_threshold_allow_deny():
    scores = np.array([0.05, 0.5, 0.25, 0.15, 0.05], np.float32)
    assert [p.label for p in PredictionFilter(NAMES, 5, score_threshold=0.2)(scores)] == ["b", "c"]
    assert [p.label for p in PredictionFilter(NAMES, 5, allow=["a", "d"])(scores)] == ["d", "a"]
    assert [p.label for p in PredictionFilter(NAMES, 2, deny=["b"])(scores)] == ["c", "d"]
    # Both lists: the allowed names minus the denied ones.
    assert [p.label for p in PredictionFilter(NAMES, 5, allow=["a", "b", "c"], deny=["b"])(scores)] == ["c", "a"]



@pytest.mark.parametrize("allow, deny", [(["a"], ["a"]), ([], NAMES)])
def test_lists_that_leave_no_label_are_an_error_not_silence(allow, deny):
    with pytest.raises(ClassifierError, match="leave no label to report"):
        PredictionFilter(NAMES, 3, allow=allow, deny=deny)


def test_more_results_than_labels():
    assert len(PredictionFilter(NAMES, max_results=50)(np.full(5, 0.2, np.float32))) == 5


def test_unknown_names_are_rejected_with_a_suggestion():
    with pytest.raises(ClassifierError, match="--allow: not in the label file: 'x'; 'clappin', did you mean 'clap"):
        PredictionFilter(load_labels(LABELS), allow=["x", "clappin"])
    with pytest.raises(ClassifierError, match="--deny: not in the label file: 'clappin', did you mean 'clapping'"):
        PredictionFilter(load_labels(LABELS), allow=["clapping"], deny=["clappin"])


def test_label_file(tmp_path):
    labels = load_labels(LABELS)
    assert len(labels) == 600 and labels[0] == "abseiling" and "carving ice" in labels
    bad = tmp_path / "labels.txt"
    bad.write_text("a\n\nb\n")
    with pytest.raises(ClassifierError, match="empty lines"):
        load_labels(bad)
    with pytest.raises(ClassifierError, match="not found"):
        load_labels(tmp_path / "missing.txt")
