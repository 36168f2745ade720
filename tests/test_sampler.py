"""The timestamp sampler: rate by source time, not by sleeping."""

from __future__ import annotations

from utils.sampler import FrameSampler


def picked(sampler: FrameSampler, timestamps) -> list[float]:
    return [t for t in timestamps if sampler.should_classify(t)]


def test_thirty_fps_to_five():
    times = [i / 30 for i in range(300)]
    chosen = picked(FrameSampler(5), times)
    assert len(chosen) == 50
    assert chosen[:3] == [0.0, 6 / 30, 12 / 30]


def test_rate_holds_for_an_irregular_clock():
    # A camera with jitter: 25 fps +- 8 ms, for 60 s -> 300 picks, within one.
    import random
    rng = random.Random(1)
    times = [i / 25 + rng.uniform(-0.008, 0.008) for i in range(25 * 60)]
    assert abs(len(picked(FrameSampler(5), times)) - 300) <= 1


def test_slow_source_gives_every_frame():
    times = [i / 3 for i in range(30)]
    assert len(picked(FrameSampler(5), times)) == 30


def test_fps_zero_gives_every_frame():
    assert len(picked(FrameSampler(0), [0.0, 0.0, 0.01, 0.02])) == 4


def test_gap_and_clock_going_back_restart_the_grid():
    sampler = FrameSampler(5)
    assert picked(sampler, [0.0, 0.1, 0.2]) == [0.0, 0.2]
    assert sampler.should_classify(60.0)       # after a long gap: at once
    assert not sampler.should_classify(60.1)   # and then on a new grid
    assert sampler.should_classify(60.2)
    assert sampler.should_classify(0.0)        # a looped file starts over
    assert not sampler.should_classify(0.1)


def test_reset():
    sampler = FrameSampler(5)
    assert sampler.should_classify(1.0)
    assert not sampler.should_classify(1.05)
    sampler.reset()
    assert sampler.should_classify(1.06)
