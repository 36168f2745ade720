"""The taught-actions benchmark (its protocols on the benchmarks' eight clips): its report, and the accuracy
targets it measures (counts of frames, not times: the cost numbers are for people to read)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import LABELS, MODEL, REPO, media


@pytest.fixture(scope="module")
def report() -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.teach", "--clips", str(media()), "--model", str(MODEL),
                           "--labels", str(LABELS), "--blocks", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, "stdout must hold exactly one JSON object"
    return json.loads(lines[0])


@pytest.mark.parametrize("name", ["half", "one_shot"])
def test_the_targets_are_met_on_the_eight_clips(report, name):
    result, targets = report["protocols"][name], report["targets"]
    assert result["clips"] == 8 and result["frames_scored"] == 108
    assert result["frames_right_rate"] >= targets["frames_right"]
    assert result["open_set"]["splits"] == 70
    assert result["open_set"]["worst_split_none_rate"] >= targets["open_set_none"]
    confusion = result["confusion"]
    assert confusion["columns"] == [*confusion["rows"], "none"]
    assert sum(map(sum, confusion["matrix"])) == result["frames_scored"]


def test_one_shot_is_taught_from_two_seconds(report):
    assert report["settings"]["one_shot_seconds"] == 2.0
    assert set(report["protocols"]["one_shot"]["examples"].values()) == {6}  # 10 frames, the first 4 too short


def test_the_cost_of_twenty_taught_actions_is_reported(report):
    cost = report["cost"]
    assert cost["taught_actions"] == 20 and cost["invoke_ms"] > 0
    assert cost["paths"]["window_matches_an_action"]["matched"]
    assert not cost["paths"]["window_matches_none"]["matched"]
    for path in cost["paths"].values():
        assert path["head_scores_ms"] > 0 and path["embedding_ms"] > 0
        assert isinstance(path["taught_total_percent_of_invoke"], float)
