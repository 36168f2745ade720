"""The fresh stream of --fresh-start with the real model: it never changes what the main stream says unless it
takes over, it takes over at a change of action, and its extra invokes stay within the bound a frame.

The delays over every pair and triple of clips are measured in docs/research/short-actions.md.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, CLEANING_POOL, LABELS, MODEL

from utils.model.fresh_start import FrameRing, FreshRun, FreshStart
from utils.model.head_window import ChangeTest
from utils.model.labels import load_labels
from utils.model.stream_classifier import StreamClassifier
from utils.sources import sampled_frames

NAMES = load_labels(LABELS)


def clip_frames(path, frames: int) -> list[np.ndarray]:
    """The model-ready frames of a clip at 5 fps, looped to `frames`."""
    once = [frame.model_rgb((172, 172)) for frame in sampled_frames(path, 5.0)]
    return [once[i % len(once)] for i in range(frames)]


@pytest.fixture(scope="module")
def classifier() -> StreamClassifier:
    return StreamClassifier(MODEL, num_threads=1)


def top1s(classifier: StreamClassifier, frames) -> list[str]:
    return [NAMES[int(np.argmax(classifier.classify(frame)))] for frame in frames]


def test_a_fresh_stream_that_does_not_take_over_changes_nothing(classifier):
    """Its invokes run on the same interpreter: the main stream's states, head and logits must come back."""
    frames = clip_frames(CARVING_ICE, 60)
    classifier.set_window(60, ChangeTest())
    alone = [classifier.classify(frame).copy() for frame in frames]
    classifier.set_window(60, ChangeTest(), FreshStart(suspect=0.0))  # suspects every frame it may
    beside = [classifier.classify(frame).copy() for frame in frames]
    counts = classifier.fresh_counts
    assert counts["started"] >= 2 and counts["invokes"] > 0 and counts["adopted"] == 0, counts
    assert all(np.array_equal(a, b) for a, b in zip(alone, beside))


def test_at_a_change_of_action_the_fresh_stream_takes_over(classifier):
    """Carving ice for 20 s, then arm wrestling: the fresh stream, started from the frame where the features
    jump, takes over when the change test fires, and names arm wrestling no later than the window alone
    (measured: 9 frames, the window alone 10)."""
    frames = clip_frames(CARVING_ICE, 100) + clip_frames(ARM_WRESTLING, 40)
    classifier.set_window(60, ChangeTest())
    alone = top1s(classifier, frames).index("arm wrestling", 100) - 100
    fresh = FreshStart()
    classifier.set_window(60, ChangeTest(), fresh)
    tops = top1s(classifier, frames)
    with_fresh = tops.index("arm wrestling", 100) - 100
    counts = classifier.fresh_counts
    assert counts["adopted"] == 1 and tops[99] == "carving ice", counts
    assert with_fresh <= alone, (with_fresh, alone)
    assert tops[-20:] == ["arm wrestling"] * 20
    assert 0 < counts["peak"] <= fresh.per_frame


def test_where_the_main_stream_is_ahead_it_wins_the_race(classifier):
    """Arm wrestling for 20 s, then cleaning pool: the main stream names cleaning pool 3 frames in, a fresh
    stream only 5 frames in (measured). Without a race the fresh stream takes over and is as slow as it is; with
    one, the main stream moves on to the new action first, so the fresh stream is dropped and, from then on, what
    is shown is the main stream's own."""
    frames = clip_frames(ARM_WRESTLING, 100) + clip_frames(CLEANING_POOL, 60)

    def delay(fresh: FreshStart | None) -> tuple[int, dict, list[np.ndarray]]:
        # seen off, as the race was measured: with it, arm wrestling's loop cut one frame before the switch is no
        # change, and the test fires one frame later, when the main stream is already on cleaning pool.
        classifier.set_window(60, ChangeTest(seen=0), fresh)
        shown = [classifier.classify(frame).copy() for frame in frames]
        tops = [NAMES[int(np.argmax(p))] for p in shown]
        return tops.index("cleaning pool", 100) - 100, dict(classifier.fresh_counts), shown

    alone, _, main_shown = delay(None)
    at_once, at_once_counts, _ = delay(FreshStart(race=0))
    raced, counts, shown = delay(FreshStart(race=20))
    assert at_once_counts["adopted"] >= 1 and at_once > alone, (at_once, alone, at_once_counts)
    assert counts["outraced"] >= 1 and counts["adopted"] == 0, counts
    assert raced == alone
    assert all(np.array_equal(a, b) for a, b in zip(main_shown[-20:], shown[-20:]))


def test_the_frame_ring_replays_the_last_frames_oldest_first():
    ring = FrameRing(6, (1,))
    for value in range(8):
        ring.add(np.array([value], np.uint8))
    assert [int(f[0]) for f in ring.last(3)] == [5, 6, 7]
    assert [int(f[0]) for f in ring.last(3, stride=2)] == [3, 5, 7]
    assert [int(f[0]) for f in ring.last(9)] == [2, 3, 4, 5, 6, 7]  # no more than the ring holds


def test_the_lengths_are_seconds_at_the_classified_rate():
    at_10 = FreshStart.at_rate(10.0)
    assert (at_10.replay, at_10.watch, at_10.per_frame) == (2 * FreshStart().replay, 2 * FreshStart().watch,
                                                            FreshStart().per_frame)
    with pytest.raises(ValueError):
        FreshStart(per_frame=1)  # it could never catch up with the camera


def racing_run(old: int = 0, top1: int = 1, score: float = 0.9) -> FreshRun:
    """A caught-up fresh stream past the change test, naming `top1` with `score`; the main stream showed `old`."""
    run = FreshRun(first=0, old_top1=old, states=[], queue=deque(), confirmed=True)
    run.top1, run.score = top1, score
    return run


def test_a_race_keeps_the_stream_that_names_a_new_action_first():
    """Labels are unknown at run time: the fresh stream wins when the main stream comes round to its action or the
    race ends with it still naming a new one; the main stream wins when it moves on to another action first."""
    fresh = FreshStart(race=3)
    run = racing_run()
    assert [run.race_winner(fresh, 0) for _ in range(3)] == [None, None, None]  # the main stream still names `old`
    assert run.race_winner(fresh, 0) == "fresh"  # the bound: it takes over as without a race
    assert racing_run().race_winner(fresh, 1) == "fresh"  # both name its action
    assert racing_run().race_winner(fresh, 2) == "main"  # the main stream names another new action first
    not_ready = racing_run(score=0.2)
    assert not_ready.race_winner(fresh, 2) is None and not_ready.raced == -1  # no race before it is ready
    assert racing_run().race_winner(FreshStart(race=0), 2) == "fresh"  # race 0: it takes over at once
