"""StreamClassifier with the real model, under every installed runtime."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, LABELS, MODEL, NON_STREAM_MODEL

from utils.errors import ClassifierError
from utils.model.labels import load_labels
from utils.model.stream_classifier import StreamClassifier
from utils.sources import sampled_frames

CARVING_ICE_INDEX = load_labels(LABELS).index("carving ice")


def clip_frames(path=CARVING_ICE, size=(172, 172), fps=5.0) -> list[np.ndarray]:
    """The model-ready RGB frames the app would classify from a clip at `fps`."""
    return [frame.model_rgb(size) for frame in sampled_frames(path, fps)]


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return clip_frames()


def run_all(classifier: StreamClassifier, frames) -> np.ndarray:
    for frame in frames:
        probabilities = classifier.classify(frame)
    return probabilities.copy()


def test_loads_the_stream_model(runtime):
    classifier = StreamClassifier(MODEL, num_threads=2, runtime=runtime)
    assert classifier.input_size == (172, 172)
    assert classifier.num_classes == 600
    assert classifier.runtime.name == runtime
    assert f"on {runtime}" in classifier.description and "2 threads" in classifier.description


def test_carving_ice(runtime, frames):
    probabilities = run_all(StreamClassifier(MODEL, 2, runtime), frames)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    assert probabilities.argmax() == CARVING_ICE_INDEX and probabilities.max() >= 0.9


def test_states_are_fed_back_and_reset_restarts(frames):
    classifier = StreamClassifier(MODEL, 2)
    whole = run_all(classifier, frames)
    # Without memory the last frame alone gives another answer: the states carried the clip.
    classifier.reset()
    last_only = classifier.classify(frames[-1]).copy()
    assert not np.allclose(whole, last_only, atol=1e-3)
    # After reset the stream starts over exactly as a fresh one.
    classifier.reset()
    assert np.array_equal(run_all(classifier, frames), whole)
    assert np.array_equal(run_all(StreamClassifier(MODEL, 2), frames), whole)


def test_matches_the_signature_runner_fed_every_state(runtime, frames):
    """The in-place feedback (passed-through states skipped) gives what the reference way gives: the
    signature runner called with a dict of all 43 states, its outputs becoming the next inputs."""
    from benchmarks.baseline import ExampleClassifier

    reference = ExampleClassifier(MODEL, LABELS, num_threads=2, runtime=runtime, max_results=600)
    classifier = StreamClassifier(MODEL, 2, runtime)
    labels = load_labels(LABELS)
    for frame in frames:
        expected = {c.label: c.score for c in reference.classify(frame)}
        probabilities = classifier.classify(frame)
        assert np.allclose([expected[label] for label in labels], probabilities, atol=1e-5)


def test_any_frame_size(frames):
    classifier = StreamClassifier(MODEL, 2)
    big = np.ascontiguousarray(np.kron(frames[5], np.ones((3, 4, 1), np.uint8)))  # 516x688
    assert big.shape == (516, 688, 3)
    classifier.classify(big)
    small = classifier.classify(frames[5][::2, ::2]).copy()
    assert small.shape == (600,) and np.isfinite(small).all()


def test_no_per_frame_allocation_of_input_or_states(frames):
    """The 355 kB input and 2.7 MB of states are written in place: a call allocates almost nothing.

    The bound leaves room for numpy's fixed 64 kB casting buffer (uint8 -> float32), nothing frame-sized.
    """
    classifier = StreamClassifier(MODEL, 2)
    run_all(classifier, frames[:3])
    tracemalloc.start()
    run_all(classifier, frames[3:13])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 100 * 1024, f"{peak} bytes allocated at peak over 10 frames"


def test_window_longer_than_the_clip_equals_the_unbounded_stream(frames):
    unbounded = run_all(StreamClassifier(MODEL, 2, window_frames=0), frames)
    windowed = run_all(StreamClassifier(MODEL, 2, window_frames=len(frames) + 10), frames)
    np.testing.assert_allclose(windowed, unbounded, atol=2e-4)


def test_window_forgets_what_left_it(frames):
    """Arm wrestling, then carving ice: a 5-frame window answers as if the stream began 20 frames ago.

    (Not exactly 5: the causal convolutions' own buffers reach a few frames further back.)
    """
    history = clip_frames(ARM_WRESTLING) + frames
    windowed = run_all(StreamClassifier(MODEL, 2, window_frames=5), history)
    fresh = run_all(StreamClassifier(MODEL, 2, window_frames=5), history[-20:])
    np.testing.assert_allclose(windowed, fresh, atol=1e-3)
    assert windowed.argmax() == CARVING_ICE_INDEX
    # The unbounded stream still averages the 50 frames of arm wrestling in.
    assert run_all(StreamClassifier(MODEL, 2), history).argmax() != CARVING_ICE_INDEX


def test_smoothing_calms_the_scores(frames):
    raw = StreamClassifier(MODEL, 2, window_frames=3)
    calm = StreamClassifier(MODEL, 2, window_frames=3, smoothing=0.8)
    raw_steps, calm_steps, previous_raw, previous_calm = [], [], None, None
    for frame in frames:
        r, c = raw.classify(frame).copy(), calm.classify(frame).copy()
        if previous_raw is not None:
            raw_steps.append(np.abs(r - previous_raw).sum())
            calm_steps.append(np.abs(c - previous_calm).sum())
        previous_raw, previous_calm = r, c
    assert sum(calm_steps) < 0.6 * sum(raw_steps)
    assert calm.classify(frames[-1]).argmax() == CARVING_ICE_INDEX


def test_rejects_a_model_without_states():
    with pytest.raises(ClassifierError, match="not a MoViNet stream model.*no state_"):
        StreamClassifier(NON_STREAM_MODEL, 1)
