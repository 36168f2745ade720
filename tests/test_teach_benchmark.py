"""The taught-actions benchmark: its report, and the levels it measures (counts of frames, not times: the cost
numbers are for people to read). The targets the head does not reach yet are checked at the level it reaches,
so that a change that loses ground fails (docs/research/teaching.md has the numbers)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import LABELS, MODEL, REPO, media


def teach_report(*args: str) -> dict:
    """The JSON report of `python -m benchmarks.teach` on the shared media with these arguments."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.teach", "--media", str(media()), "--model", str(MODEL),
                           "--labels", str(LABELS), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, "stdout must hold exactly one JSON object"
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def report() -> dict:
    return teach_report("--blocks", "1")


def test_the_targets_met_on_the_shared_clips_val_and_teach(report):
    rows, targets = report["taught"], report["targets"]
    assert rows["half"]["frames"] == 108 and rows["half"]["right_rate"] >= targets["half_right"]
    assert rows["frozen"]["frames"] == 8 * 40 and rows["frozen"]["none_rate"] >= targets["frozen_none"]
    assert rows["untaught"]["none_rate"] >= targets["untaught_none"]
    assert rows["untaught"]["shared_splits"]["worst_split_none_rate"] >= targets["untaught_none"]
    confusion = rows["half"]["confusion"]
    assert confusion["columns"] == [*confusion["rows"], "none"]
    assert sum(map(sum, confusion["matrix"])) == rows["half"]["frames"]


def test_the_targets_not_met_hold_their_measured_level(report):
    rows = report["taught"]
    assert rows["same_video"]["none_rate"] >= 0.75  # target 0.90; the window-mean head gave 0.48
    assert all(case["taught_part_found_rate"] >= 0.9 for case in rows["same_video"]["cases"].values())
    push_ups = [case["found_rate"] for name, case in rows["another_clip"]["cases"].items() if "push_ups" in name]
    assert len(push_ups) == 2 and min(push_ups) >= 0.7  # tai chi does not carry over: the model sees two actions


def test_one_shot_is_taught_from_two_seconds(report):
    assert report["settings"]["one_shot_seconds"] == 2.0
    assert set(report["one_shot"]["examples"].values()) == {6}  # 10 frames, the first 4 too short
    assert report["one_shot"]["frozen"]["none_rate"] >= report["targets"]["frozen_none"]


def test_the_cost_of_twenty_taught_actions_is_reported(report):
    cost = report["cost"]
    assert cost["taught_actions"] == 20 and cost["invoke_ms"] > 0
    assert cost["paths"]["window_matches_an_action"]["matched"]
    assert not cost["paths"]["window_matches_none"]["matched"]
    for path in cost["paths"].values():
        assert path["head_scores_ms"] > 0 and path["observe_ms"] > 0 and path["picture_step_ms"] > 0
        assert isinstance(path["taught_total_percent_of_invoke"], float)


def test_a_background_after_the_taught_part_meets_the_same_video_target(report):
    """The seconds right after each taught part as its background: left out of the judged frames, the three
    cases reach the target that the head alone misses on the same frames (82.2 % measured)."""
    row = report["taught"]["same_video_background"]
    assert row["judged_frames"] == 298
    assert row["none_rate_with"] >= report["targets"]["same_video_none"] > row["none_rate_without"]
    for case in row["cases"].values():
        assert case["none_with"] >= case["none_without"] and case["taught_part_found_rate_with"] >= 0.9


@pytest.fixture(scope="module")
def perturbed() -> dict:
    return teach_report("--perturb", "light-dim,cut")


def test_a_light_change_or_a_bumped_camera_holds_the_measured_levels(perturbed):
    """Each clip's second half looped for 20 s, perturbed at 10 s; the frozen middle frame perturbed at 5 s
    (docs/research/camera-changes.md has the figures: half 0.965 unperturbed, 0.90 dimmed, 0.96 bumped; a still
    room is none on 1.0 of its frames, dimmed or bumped too: the model's features move for 2 s after the jump, the
    picture does not, and the head asks the picture to move; without that, 0.955 dimmed and 0.69 bumped)."""
    rows = perturbed["perturb"]["taught"]
    assert list(rows) == ["none", "light-dim", "cut"] and "half" not in perturbed
    for row in rows.values():
        assert row["half_looped"]["frames"] == 8 * 50 and row["frozen"]["frames"] == 8 * 25
    assert rows["none"]["half_looped"]["found_rate"] >= perturbed["targets"]["half_right"]
    assert rows["none"]["frozen"]["none_rate"] >= perturbed["targets"]["frozen_none"]
    assert rows["light-dim"]["half_looped"]["found_rate"] >= 0.85
    assert rows["cut"]["half_looped"]["found_rate"] >= 0.9
    assert rows["light-dim"]["frozen"]["none_rate"] >= 0.95
    assert rows["cut"]["frozen"]["none_rate"] >= 0.95


def test_a_freeze_is_not_a_taught_perturbation():
    """A frozen picture is the frozen row itself: --perturb refuses it with one line, before any video is read."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.teach", "--media", str(media()), "--perturb", "freeze"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[-1].startswith("python -m benchmarks.teach: error: --perturb: unknown freeze")


def test_same_video_rows_add_each_background_with_the_step_given():
    """same_video_rows adds each background with the step a study passes (the automatic-background study's
    guards): one that keeps no background gives the row without it, the default the shipped --teach-background."""
    from benchmarks.teach import FPS, WINDOW_FRAMES, Recorder, record_same_video, same_video_rows
    from utils.model.head_window import ChangeTest
    from utils.model.labels import load_labels
    from utils.model.runtime import load_runtime
    from utils.model.stream_classifier import StreamClassifier
    from utils.model.taught import ModelIdentity

    classifier = StreamClassifier(MODEL, 1, load_runtime("auto"))
    classifier.set_window(WINDOW_FRAMES, ChangeTest.at_rate(FPS))
    videos = record_same_video(Recorder(classifier), media() / "changes", classifier.input_size)
    labels, model = load_labels(LABELS), ModelIdentity.of(MODEL)
    shipped = same_video_rows(videos, lambda frames: frames, model, labels)["same_video_background"]
    kept_out = same_video_rows(videos, lambda frames: frames, model, labels,
                               lambda action, examples, session: action)["same_video_background"]
    assert kept_out["none_rate_with"] == kept_out["none_rate_without"] == shipped["none_rate_without"]
    assert shipped["none_rate_with"] > shipped["none_rate_without"]
