"""EventTracker on synthetic score sequences: hysteresis, start and end times, one action at a time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from utils.events import END, START, Event, EventTracker
from utils.results import Prediction

T0 = datetime(2025, 1, 31, 12, 0, tzinfo=timezone.utc)
FPS = 5.0


def feed(tracker: EventTracker, labels_scores: list[tuple[str, float]]) -> list[tuple[str, Event, int]]:
    """Feeds one result per item at FPS; returns (kind, event, index of the result) for every change."""
    changes = []
    for i, (label, score) in enumerate(labels_scores):
        predictions = (Prediction(label, score), Prediction("other", 1 - score))
        for change in tracker.update(i, i / FPS, predictions, T0 + timedelta(seconds=i / FPS)):
            changes.append((change.kind, change.event, i))
    return changes


def scores(*runs: tuple[str, float, int]) -> list[tuple[str, float]]:
    """('waving hand', 0.9, 10) -> ten results of that label and score."""
    return [(label, score) for label, score, count in runs for _ in range(count)]


def test_one_low_frame_inside_an_event_does_not_split_it():
    tracker = EventTracker(["waving hand"], threshold=0.6, min_seconds=1.0, end_seconds=2.0, source="test")
    sequence = scores(("idle", 0.9, 10), ("waving hand", 0.9, 15), ("waving hand", 0.3, 1), ("idle", 0.8, 1),
                      ("waving hand", 0.95, 15), ("idle", 0.9, 20))
    changes = feed(tracker, sequence)
    assert [kind for kind, _, _ in changes] == [START, END]
    (_, start, started_at), (_, end, ended_at) = changes
    assert start.label == end.label == "waving hand" and start.id == end.id
    assert start.start == pytest.approx(10 / FPS) and start.start_frame == 10
    assert started_at == 15  # confirmed once 1 s (5 results after the first) had passed
    assert start.start_utc == T0 + timedelta(seconds=2)
    first_low = 10 + 15 + 1 + 1 + 15
    assert end.end == pytest.approx(first_low / FPS) and ended_at == first_low + 10  # 2 s below
    assert end.duration == pytest.approx((first_low - 10) / FPS)
    assert end.peak_score == pytest.approx(0.95) and end.peak_frame == 27
    assert end.reason == "ended" and end.source == "test"
    assert tracker.active is None


def test_low_for_end_seconds_ends_it_and_a_return_starts_another():
    tracker = EventTracker(["waving hand"], min_seconds=1.0, end_seconds=1.0)
    changes = feed(tracker, scores(("waving hand", 0.9, 10), ("idle", 0.9, 6), ("waving hand", 0.9, 10)))
    assert [kind for kind, _, _ in changes] == [START, END, START]
    assert changes[0][1].id != changes[2][1].id


def test_short_bursts_and_unwatched_or_weak_actions_start_nothing():
    tracker = EventTracker(["waving hand"], threshold=0.6, min_seconds=1.0)
    # 0.8 s bursts, a watched label below the threshold, an unwatched label.
    sequence = scores(("waving hand", 0.9, 5), ("idle", 0.9, 1)) * 4 + scores(("waving hand", 0.59, 20),
                                                                              ("clapping", 0.99, 20))
    assert feed(tracker, sequence) == []
    assert tracker.finish() == []


def test_another_watched_action_replaces_the_event():
    tracker = EventTracker(["waving hand", "clapping"], min_seconds=1.0, end_seconds=5.0)
    changes = feed(tracker, scores(("waving hand", 0.9, 10), ("clapping", 0.9, 10)))
    assert [(kind, event.label) for kind, event, _ in changes] == [
        (START, "waving hand"), (END, "waving hand"), (START, "clapping")]
    ended, started = changes[1][1], changes[2][1]
    assert ended.reason == "replaced"
    assert ended.end == started.start == pytest.approx(10 / FPS)  # back to back, never overlapping
    assert changes[1][2] == changes[2][2] == 15


def test_any_watches_whatever_is_top1():
    tracker = EventTracker(["any"], min_seconds=0.4, end_seconds=0.4)
    changes = feed(tracker, scores(("juggling balls", 0.9, 5), ("", 0.1, 3), ("clapping", 0.7, 5)))
    assert [(kind, event.label) for kind, event, _ in changes] == [
        (START, "juggling balls"), (END, "juggling balls"), (START, "clapping")]


def test_finish_ends_the_event_in_progress_at_the_last_result():
    tracker = EventTracker(["waving hand"], min_seconds=0.0)
    changes = feed(tracker, scores(("waving hand", 0.9, 7)))
    assert [kind for kind, _, _ in changes] == [START]  # min_seconds 0: at once
    (change,) = tracker.finish()
    assert change.kind == END and change.event.reason == "stopped"
    assert change.event.end == pytest.approx(6 / FPS)
    assert tracker.finish() == []


def test_empty_results_count_as_low():
    tracker = EventTracker(["waving hand"], min_seconds=0.0, end_seconds=0.4)
    changes = []
    for i, predictions in enumerate([(Prediction("waving hand", 0.9),), (), (), ()]):
        changes += tracker.update(i, i / FPS, predictions, T0)
    assert [c.kind for c in changes] == [START, END]


def test_records_are_the_documented_json_objects():
    tracker = EventTracker(["waving hand"], min_seconds=0.0, end_seconds=0.0, source="camera 0")
    changes = feed(tracker, scores(("waving hand", 0.9, 3), ("idle", 0.9, 1)))
    start, end = changes[0][1].record(START), changes[1][1].record(END)
    assert set(start) == {"type", "id", "label", "start", "start_utc", "peak_score", "peak_frame", "source"}
    assert set(end) == set(start) | {"end", "end_utc", "duration", "reason", "files"}
    assert start["type"] == "start" and end["type"] == "end"
    assert start["start_utc"] == "2025-01-31T12:00:00.000+00:00"
    assert end["end"] == 0.6 and end["duration"] == 0.6 and end["files"] == []
    assert datetime.fromisoformat(end["end_utc"]) == T0 + timedelta(seconds=0.6)
    assert start["id"].startswith("20250131T120000-waving-hand-")


def test_a_steady_top1_at_the_floor_starts_an_event_from_its_first_result():
    tracker = EventTracker(["waving hand"], threshold=0.6, min_seconds=1.0, end_seconds=1.0,
                           floor=0.3, floor_seconds=2.0)
    # 1.8 s at 0.4 (under floor_seconds) starts nothing; then 3 s at 0.4 starts one 2 s in, dated from its start.
    changes = feed(tracker, scores(("waving hand", 0.4, 9), ("idle", 0.9, 6), ("waving hand", 0.4, 15),
                                   ("waving hand", 0.25, 6)))
    assert [(kind, index) for kind, _, index in changes] == [(START, 25), (END, 35)]
    start, end = changes[0][1], changes[1][1]
    assert start.start == pytest.approx(15 / FPS) and start.start_frame == 15
    assert end.end == pytest.approx(30 / FPS)  # under the floor from there, for end_seconds


def test_with_a_floor_an_event_lasts_while_its_action_is_top1_at_the_floor():
    tracker = EventTracker(["waving hand"], threshold=0.6, min_seconds=1.0, end_seconds=1.0,
                           floor=0.3, floor_seconds=2.0)
    # At the threshold for 1 s, then 4 s at 0.35: one event; without the floor the 0.35 ends it after 1 s.
    sequence = scores(("idle", 0.9, 2), ("waving hand", 0.35, 2), ("waving hand", 0.9, 6),
                      ("waving hand", 0.35, 20), ("idle", 0.9, 6))
    changes = feed(tracker, sequence)
    assert [(kind, index) for kind, _, index in changes] == [(START, 9), (END, 35)]
    assert changes[0][1].start == pytest.approx(2 / FPS)  # the run at the floor began before the strong part
    assert changes[1][1].end == pytest.approx(30 / FPS)
    plain = feed(EventTracker(["waving hand"], threshold=0.6, min_seconds=1.0, end_seconds=1.0), sequence)
    assert [(kind, index) for kind, _, index in plain] == [(START, 9), (END, 15)]


def test_a_floor_above_the_threshold_is_refused():
    with pytest.raises(ValueError, match="floor"):
        EventTracker(["waving hand"], threshold=0.5, floor=0.6)


def test_with_a_hold_an_event_lasts_while_its_action_is_top1_at_the_hold():
    """A dimmed room: the action stays top-1 at 0.35; the hold keeps its event, the threshold alone ends it."""
    sequence = scores(("idle", 0.9, 2), ("waving hand", 0.9, 10), ("waving hand", 0.35, 20), ("idle", 0.9, 6))
    held = feed(EventTracker(["waving hand"], threshold=0.6, min_seconds=1.0, end_seconds=1.0, hold=0.3), sequence)
    assert [(kind, index) for kind, _, index in held] == [(START, 7), (END, 37)]
    assert held[1][1].end == pytest.approx(32 / FPS)  # from the first result the action was not top-1
    plain = feed(EventTracker(["waving hand"], threshold=0.6, min_seconds=1.0, end_seconds=1.0), sequence)
    assert [(kind, index) for kind, _, index in plain] == [(START, 7), (END, 17)]


def test_a_hold_starts_nothing_and_needs_the_action_top1():
    tracker = EventTracker(["waving hand"], threshold=0.6, min_seconds=1.0, end_seconds=1.0, hold=0.0)
    assert feed(tracker, scores(("waving hand", 0.35, 50))) == []  # steady, but never at the threshold
    # Held at any score while top-1; another top-1 for end_seconds ends it, whatever its score.
    changes = feed(tracker, scores(("waving hand", 0.9, 10), ("waving hand", 0.05, 20), ("idle", 0.1, 6)))
    assert [(kind, index) for kind, _, index in changes] == [(START, 5), (END, 35)]


def test_with_a_floor_and_a_hold_the_lower_of_the_two_holds():
    with pytest.raises(ValueError, match="hold"):
        EventTracker(["waving hand"], threshold=0.5, hold=0.6)
    sequence = scores(("waving hand", 0.9, 10), ("waving hand", 0.35, 10), ("waving hand", 0.25, 10))
    floor_first = EventTracker(["waving hand"], end_seconds=1.0, floor=0.3, hold=0.5)
    assert [(kind, index) for kind, _, index in feed(floor_first, sequence)] == [(START, 5), (END, 25)]
    hold_first = EventTracker(["waving hand"], end_seconds=1.0, floor=0.3, hold=0.2)
    assert [(kind, index) for kind, _, index in feed(hold_first, sequence)] == [(START, 5)]
    assert hold_first.active is not None  # still held at 0.25


def feed_with_second(tracker: EventTracker, runs: list[tuple[str, float, float, int]]) -> list[tuple[str, int]]:
    """(label, score, the second's score, count) runs fed at FPS; returns (kind, index of the result) per change."""
    results = [(label, score, second) for label, score, second, count in runs for _ in range(count)]
    changes = []
    for i, (label, score, second) in enumerate(results):
        predictions = (Prediction(label, score), Prediction("other", second)) if second is not None else (
            Prediction(label, score),)
        changes += [(change.kind, i) for change in tracker.update(i, i / FPS, predictions,
                                                                   T0 + timedelta(seconds=i / FPS))]
    return changes


def test_with_a_margin_a_clear_lead_counts_as_the_threshold():
    """Top-1 at 0.5 with the second at 0.1 (a lead of 0.4): the margin starts its event after min_seconds and keeps
    it going; without a margin the threshold never starts one."""
    sequence = [("idle", 0.9, 0.05, 3), ("waving hand", 0.5, 0.1, 20), ("idle", 0.9, 0.05, 10)]
    changes = feed_with_second(EventTracker(["waving hand"], min_seconds=1.0, end_seconds=1.0, margin=0.3), sequence)
    assert changes == [(START, 3 + 5), (END, 23 + 5)]
    assert feed_with_second(EventTracker(["waving hand"], min_seconds=1.0, end_seconds=1.0), sequence) == []


def test_a_close_second_or_none_at_all_is_no_lead():
    """Top-1 at 0.5 with the second at 0.45 leads by 0.05; a top-1 shown alone (--max-results 1) leads by nothing
    known, so only the threshold counts."""
    tracker = EventTracker(["waving hand"], min_seconds=1.0, end_seconds=1.0, margin=0.3)
    assert feed_with_second(tracker, [("waving hand", 0.5, 0.45, 30)]) == []
    assert feed_with_second(tracker, [("waving hand", 0.5, None, 30)]) == []
    # An event started at the threshold ends when the lead closes, as when the score falls below it.
    changes = feed_with_second(tracker, [("waving hand", 0.9, 0.05, 10), ("waving hand", 0.5, 0.4, 10)])
    assert changes == [(START, 5), (END, 15)]


def test_a_margin_outside_zero_to_the_threshold_is_refused():
    for margin in (0.0, 0.7, -0.1):
        with pytest.raises(ValueError, match="margin"):
            EventTracker(["waving hand"], threshold=0.6, margin=margin)
