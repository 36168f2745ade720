"""The event-rule study's replay (benchmarks/event_rule.py): it must give the app's own events on a kept run,
judge a triple's event as long_stream does, and choose only among rules without more false events."""

from __future__ import annotations

import json

import pytest
from conftest import ARM_WRESTLING, CARVING_ICE

from benchmarks.event_rule import (
    DEFAULT_RULE,
    Result,
    choose,
    grid,
    measure_loops,
    measure_perturb,
    measure_triples,
    read_run,
    replay,
    triple_fault,
)
from benchmarks.long_stream import FPS, PERTURB_AT, SHORT_SECONDS, clip_frames, top1_and_events, write_video
from utils.results import Prediction


def test_a_kept_run_replayed_gives_the_apps_own_events(tmp_path):
    video, kept = tmp_path / "triple.avi", tmp_path / "run.jsonl"
    a, b = clip_frames(ARM_WRESTLING), clip_frames(CARVING_ICE)
    write_video(video, [(a, 8), (b, 8), (a, 8)])
    tops, events = top1_and_events(video, [], ["carving ice"], keep=kept)
    results = read_run(kept)
    assert [r.predictions[0].label for r in results] == tops and len(tops) == 24 * FPS
    assert events, "carving ice made no event: nothing to compare"
    replayed = replay(results, ["carving ice"], DEFAULT_RULE)
    assert [(e.label, pytest.approx(e.start), pytest.approx(e.end)) for e in replayed] == [
        (e["label"], e["start"], e["end"]) for e in events]


def triple(b_scores: list[float]) -> list[Result]:
    """A, B, A of SHORT_SECONDS each at FPS: A top-1 at 0.9, then B top-1 at these scores (then at 0.9)."""
    part = SHORT_SECONDS * FPS
    scores = [("a", 0.9)] * part + [("b", s) for s in b_scores] + [("b", 0.9)] * (part - len(b_scores)) + \
        [("a", 0.9)] * part
    return [Result(i, i / FPS, (Prediction(label, score),)) for i, (label, score) in enumerate(scores)]


def test_a_triple_is_judged_by_its_first_fault():
    late = triple([0.45] * 15)  # B top-1 at once, but under the threshold for 3 s
    assert triple_fault(late, replay(late, ["b"], DEFAULT_RULE), "a", "b") == "late start"
    floor = {**DEFAULT_RULE, "floor": 0.3, "floor_seconds": 2.0}
    assert triple_fault(late, replay(late, ["b"], floor), "a", "b") is None
    split = triple([0.9] * 20 + [0.2] * 15)  # 3 s low in the middle of B
    assert triple_fault(split, replay(split, ["b"], DEFAULT_RULE), "a", "b") == "split"
    assert triple_fault(split, replay(split, ["b"], {**DEFAULT_RULE, "end_seconds": 4.0}), "a", "b") is None


def test_the_rule_with_more_false_events_than_the_defaults_is_not_chosen():
    def run(rule: dict, right: int, false: int) -> dict:
        triples = {f"a:b{i}": {"fault": None if i < right else "late start", "announced_after": 1.0,
                               "false_any": []} for i in range(10)}
        loops = {"a": {"false": [], "false_any": [["x", 0.0, 1.0]] * false}}
        return {"rule": rule, "triples": triples, "loops": loops}
    runs = [run(DEFAULT_RULE, 5, 1), run({**DEFAULT_RULE, "threshold": 0.3}, 9, 2),
            run({**DEFAULT_RULE, "threshold": 0.5}, 7, 1), run({**DEFAULT_RULE, "threshold": 0.4}, 7, 0)]
    assert choose(runs)["rule"] == {**DEFAULT_RULE, "threshold": 0.5}  # 0.4 ties on right; 0.5 is closer


def keep(path, results: list[Result]) -> None:
    """Results as classify.py --json writes them (what long_stream --keep saves)."""
    path.write_text("".join(json.dumps({"frame": r.frame, "timestamp": r.timestamp, "results": [
        {"label": p.label, "score": p.score} for p in r.predictions]}) + "\n" for r in results))


def test_named_actions_watched_count_false_events_on_triples_and_loops(tmp_path):
    """--watch: a wrong guess "c" held at 0.4 for 3 s in A is a false event with "c" watched, under a floor only;
    A and B (on a triple) and the clip's own label (on a loop) are never its false events."""
    run = triple([0.9] * 20)
    guess = [Result(r.frame, r.timestamp, (Prediction("c", 0.4),)) if 10 <= r.frame < 25 else r for r in run]
    (tmp_path / "triples").mkdir()
    keep(tmp_path / "triples" / "a-b-a.default.jsonl", guess)
    floor = {**DEFAULT_RULE, "floor": 0.3, "floor_seconds": 2.0}
    assert measure_triples(tmp_path / "triples", DEFAULT_RULE, ["a", "b", "c"])["a:b"]["false_named"] == []
    assert measure_triples(tmp_path / "triples", floor, ["a", "b", "c"])["a:b"]["false_named"] == [["c", 2.0, 5.0]]
    assert "false_named" not in measure_triples(tmp_path / "triples", floor)["a:b"]
    (tmp_path / "loops").mkdir()
    keep(tmp_path / "loops" / "a-b.default.jsonl", guess + [Result(i, i / FPS, (Prediction("b", 0.9),))
                                                           for i in range(len(guess), len(guess) + 150)])
    loop = measure_loops(tmp_path / "loops", floor, ["a", "c", "d"])["a"]
    assert loop["false"] == [["c", 2.0, 5.0]] and loop["own"] == 3  # a, interrupted by c and by b


def test_a_dimmed_run_ends_its_event_under_the_threshold_and_a_hold_keeps_it(tmp_path):
    """--perturb: the action stays top-1 but at 0.4 from PERTURB_AT on; the defaults end its event within
    SHARE_SECONDS of the change, a hold at 0.3 keeps one event to the end."""
    count, at = 120 * int(FPS), PERTURB_AT * int(FPS)
    keep(tmp_path / "a.light-dim.default.jsonl",
         [Result(i, i / FPS, (Prediction("a", 0.9 if i < at else 0.4),)) for i in range(count)])
    keep(tmp_path / "a.none.default.jsonl", [Result(i, i / FPS, (Prediction("a", 0.9),)) for i in range(count)])
    plain = measure_perturb(tmp_path, DEFAULT_RULE)["a"]
    assert plain["light-dim"]["ended_near"] and not plain["none"]["ended_near"]
    held = measure_perturb(tmp_path, {**DEFAULT_RULE, "hold": 0.3})["a"]["light-dim"]
    assert not held["ended_near"] and not held["split"] and len(held["events"]) == 1


def test_a_margin_rule_starts_a_modest_but_clear_b_on_time_and_the_higher_of_equal_margins_is_chosen():
    """B top-1 at 0.5 for 3 s, its second at 0.1: a late start with the defaults, right with margin 0.3; a margin
    at or above the threshold is not a rule of the grid; among equal margins' results the higher margin wins."""
    late = triple([0.5] * 15)
    late = [Result(r.frame, r.timestamp, (*r.predictions, Prediction("x", 0.1))) for r in late]
    margin = {**DEFAULT_RULE, "margin": 0.3}
    assert triple_fault(late, replay(late, ["b"], DEFAULT_RULE), "a", "b") == "late start"
    assert triple_fault(late, replay(late, ["b"], margin), "a", "b") is None
    rules = grid([0.6], [1.0], [2.0], [], [], margins=[0.3, 0.6])
    assert rules == [DEFAULT_RULE, margin]

    def run(rule: dict, right: int) -> dict:
        triples = {f"a:b{i}": {"fault": None if i < right else "late start", "announced_after": 1.0,
                               "false_any": []} for i in range(10)}
        return {"rule": rule, "triples": triples, "loops": {"a": {"false": [], "false_any": []}}}
    runs = [run(DEFAULT_RULE, 5), run({**DEFAULT_RULE, "margin": 0.2}, 8), run(margin, 8)]
    assert choose(runs)["rule"] == margin
