"""The taught-actions benchmark's same-video rows read from a folder's SEGMENTS.tsv: the cases it derives (each
labelled segment taught, the `other:` segment right after it as background), `--rooms DIR` run on a real clip
through the real model, and its bad inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLEANING_POOL, LABELS, MODEL, REPO, media

from benchmarks.teach import same_video_cases

HEADER = "file\tstart_s\tend_s\tkinetics600_label\n"


def run_rooms(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.teach", "--rooms", str(folder), "--model", str(MODEL),
                           "--labels", str(LABELS)], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_the_changes_cases_are_the_parts_and_backgrounds_the_study_measured():
    cases = {c.action: c for c in same_video_cases(media() / "changes")}
    assert set(cases) == {"sipping cup", "long jump"}
    assert cases["sipping cup"].parts == [(2.75, 7.75)] and cases["sipping cup"].backgrounds == [(7.75, 9.50)]
    assert cases["long jump"].parts == [(9.75, 14.50), (22.40, 33.50)]
    assert cases["long jump"].backgrounds == [(14.50, 16.00), (33.50, 34.90)]
    assert (0.0, 2.75) in cases["sipping cup"].other and (2.75, 7.75) not in cases["sipping cup"].other


def test_rooms_runs_the_same_video_rows_with_and_without_the_background(tmp_path):
    shutil.copy(CLEANING_POOL, tmp_path / "pool.mp4")
    (tmp_path / "SEGMENTS.tsv").write_text(HEADER + "pool.mp4\t0.00\t4.00\tcleaning pool\n"
                                           "pool.mp4\t4.00\t6.00\tother: the seconds after\n"
                                           "pool.mp4\t6.00\t10.00\tother: later\n")
    done = run_rooms(tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, "stdout must hold exactly one JSON object"
    rooms = json.loads(lines[0])["rooms"]
    for stop in ("taught", "one_shot"):
        video = rooms[stop]["videos"]["pool.mp4"]
        alone = video["same_video"]["cases"]["cleaning pool (part 1)"]
        case = video["same_video_background"]["cases"]["cleaning pool (part 1)"]
        assert alone["other_frames"] == 30  # 6-10 s and 4-6 s at 5 fps
        assert case["background_seconds"] == [4.0, 6.0] and case["judged_frames"] == 20  # the background left out
        assert 0 <= case["none_without"] <= alone["other_none"] and 0 <= case["none_with"] <= 20
        assert case["taught_part_found_rate_without"] == alone["taught_part_found_rate"]
        assert rooms[stop]["same_video_background"]["judged_frames"] == 20


@pytest.mark.parametrize("segments, files, message", [
    (None, [], "SEGMENTS.tsv"),
    (HEADER + "pool.mp4\t0.00\t4.00\n", ["pool.mp4"], "line 2: needs 4 tab-separated fields"),
    (HEADER + "pool.mp4\t0.00\t4.00\tcleaning pool\n", ["pool.mp4"], "needs an 'other:' segment right after it"),
    (HEADER + "pool.mp4\t0.00\t4.00\tother: nothing taught\n", ["pool.mp4"], "names no segment with a Kinetics"),
    (HEADER + "gone.mp4\t0.00\t4.00\tcleaning pool\ngone.mp4\t4.00\t6.00\tother: after\n", [], "has no gone.mp4"),
])
def test_a_bad_rooms_folder_is_one_line_and_exit_2(tmp_path, segments, files, message):
    for name in files:
        shutil.copy(CLEANING_POOL, tmp_path / name)
    if segments is not None:
        (tmp_path / "SEGMENTS.tsv").write_text(segments)
    done = run_rooms(tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and message in done.stderr and "Traceback" not in done.stderr
