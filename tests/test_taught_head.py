"""Taught actions on arrays and files (no model): the store's format and atomic writes, the head's scores, the merge
with the model's labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from utils.errors import ClassifierError
from utils.model.files import usual_file_mode
from utils.model.predictions import PredictionFilter
from utils.model.taught.head import DEFAULT_TAU, TaughtHead, min_window_frames
from utils.model.taught.predictions import NONE_OF_THEM, TaughtPredictions
from utils.model.taught.store import FORMAT, ActionStore, ModelIdentity, Session, TaughtAction, file_name, read_action

MODEL = ModelIdentity("a" * 64, "movinet_a0_stream_int8.tflite")
DIM = 8


def session(examples: int = 3) -> Session:
    return Session(1.0, examples, 20, 5.0, "test")


def action(name: str, direction: int, n: int = 3, tau: float | None = None) -> TaughtAction:
    """An action whose examples point (noisily) along one axis."""
    rng = np.random.default_rng(direction)
    examples = np.eye(DIM, dtype=np.float32)[direction] + 0.05 * rng.random((n, DIM), np.float32)
    return TaughtAction(name, MODEL, examples, np.zeros(n, np.int32), (session(n),), tau)


def test_a_saved_action_reads_back_and_teaching_again_adds_a_session(tmp_path):
    store = ActionStore(tmp_path / "actions")
    store.add("wave hello", MODEL, action("x", 0).examples, session())
    again = store.add("wave hello", MODEL, action("x", 0, n=2).examples, session(2))
    back = store.read("wave hello")
    assert back is not None and len(back.examples) == 5 and len(back.sessions) == 2
    assert back.session_of_example.tolist() == [0, 0, 0, 1, 1]
    assert np.array_equal(back.examples, again.examples) and back.model == MODEL and back.tau is None
    assert [p.name for p in store.files()] == ["wave hello.npz"]


def test_the_file_is_plain_arrays_with_json_metadata(tmp_path):
    store = ActionStore(tmp_path)
    path = store.write(action("café bar", 1))
    with np.load(path, allow_pickle=False) as arrays:
        assert set(arrays.files) == {"examples", "sessions", "meta"}
        assert arrays["examples"].dtype == np.float32 and arrays["sessions"].dtype == np.int32
        meta = json.loads(arrays["meta"].tobytes().decode())
    assert meta["format"] == FORMAT and meta["name"] == "café bar" and meta["dim"] == DIM
    assert meta["model"] == {"sha256": "a" * 64, "file": "movinet_a0_stream_int8.tflite"}
    assert meta["tau"] is None and meta["sessions"][0]["window_frames"] == 20
    assert path.name == "caf%C3%A9 bar.npz" == file_name("café bar")
    assert path.stat().st_mode & 0o777 == usual_file_mode()  # like any new file (a service may read it), not 0600


def test_a_write_that_fails_leaves_the_old_file_whole(tmp_path, monkeypatch):
    store = ActionStore(tmp_path)
    path = store.write(action("wave", 0))
    before = path.read_bytes()

    def full_disk(file, **arrays):
        file.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(ClassifierError, match="cannot save the taught action .*No space left on device"):
        store.add("wave", MODEL, action("x", 0).examples, session())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wave.npz"]  # no temporary file left behind


def test_a_file_under_another_name_is_refused(tmp_path):
    path = ActionStore(tmp_path).write(action("wave", 0))
    path.rename(tmp_path / "jump.npz")
    with pytest.raises(ClassifierError, match="holds the action 'wave', which belongs in wave.npz"):
        read_action(tmp_path / "jump.npz")


def test_another_models_action_cannot_be_taught_more(tmp_path):
    store = ActionStore(tmp_path)
    store.write(action("wave", 0))
    other = ModelIdentity("b" * 64, "movinet_a2_stream_int8.tflite")
    with pytest.raises(ClassifierError, match="taught with another model, movinet_a0_stream_int8.tflite"):
        store.add("wave", other, action("x", 0).examples, session())


def test_scores_are_calibrated_and_none_below_the_threshold():
    head = TaughtHead([action("a", 0), action("b", 1)])
    scores = head.scores(np.eye(DIM, dtype=np.float32)[0])
    assert scores[0] > 0.9 and scores[1] == 0.0 and scores.sum() <= 1.0
    assert not head.scores(np.eye(DIM, dtype=np.float32)[5]).any()  # far from both: none of them
    # Exactly at the threshold a lone action scores one half.
    one = TaughtHead([action("a", 0)])
    mean = one._means[0]
    orthogonal = np.eye(DIM, dtype=np.float32)[7] - mean * mean[7]
    at_tau = DEFAULT_TAU * mean + np.sqrt(1 - DEFAULT_TAU**2) * orthogonal / np.linalg.norm(orthogonal)
    assert one.cosines(at_tau)[0] == pytest.approx(DEFAULT_TAU, abs=1e-5)
    assert one.scores(at_tau + 1e-4 * mean)[0] == pytest.approx(0.5, abs=0.01)


def test_an_action_can_keep_its_own_threshold():
    embedding = np.eye(DIM, dtype=np.float32)[0] + np.eye(DIM, dtype=np.float32)[1]  # cosine 0.7 to each
    head = TaughtHead([action("strict", 0, tau=0.9), action("lenient", 1)])
    assert head.scores(embedding)[0] == 0.0 and head.scores(embedding)[1] > 0.0


def test_the_windows_scored_hold_a_second():
    assert min_window_frames(5.0, 20) == 5 and min_window_frames(5.0, 3) == 3 and min_window_frames(30.0, 0) == 30


class Embeddings:
    def __init__(self, vector: np.ndarray, frames: int = 20) -> None:
        self.vector, self.frames = vector, frames

    def __call__(self) -> tuple[np.ndarray, int]:
        return self.vector, self.frames


LABELS = ["abseiling", "carving ice", "juggling"]
KINETICS = np.array([0.1, 0.7, 0.2], np.float32)


def merged(only: bool = False, names=("wave",), actions=None, **options) -> tuple[TaughtPredictions, Embeddings]:
    embedding = Embeddings(np.eye(DIM, dtype=np.float32)[0])
    prediction_filter = PredictionFilter([*LABELS, *names], **options)
    actions = [action("wave", 0)] if actions is None else actions
    return TaughtPredictions(prediction_filter, names, actions, embedding, min_frames=5, only=only), embedding


def test_a_taught_action_is_one_more_label():
    predictions, embedding = merged()
    assert [p.label for p in predictions(KINETICS)] == ["wave", "carving ice", "juggling"]
    embedding.vector = np.eye(DIM, dtype=np.float32)[3]  # not the taught action
    assert [p.label for p in predictions(KINETICS)] == ["carving ice", "juggling", "abseiling"]


def test_only_reports_taught_actions_and_says_none():
    predictions, embedding = merged(only=True)
    assert [p.label for p in predictions(KINETICS)] == ["wave"] and predictions.nothing == NONE_OF_THEM
    embedding.vector = np.eye(DIM, dtype=np.float32)[3]
    assert predictions(KINETICS) == ()


def test_threshold_allow_and_deny_apply_to_taught_actions():
    assert [p.label for p in merged(allow=["wave"])[0](KINETICS)] == ["wave"]
    assert "wave" not in [p.label for p in merged(deny=["wave"])[0](KINETICS)]
    assert [p.label for p in merged(score_threshold=0.8)[0](KINETICS)] == ["wave"]


def test_short_windows_are_not_scored_and_a_new_action_counts_once_learned():
    predictions, embedding = merged(only=True, actions=[])
    assert predictions(KINETICS) == ()  # "wave" is to be taught (--teach) but has no examples yet
    predictions.learn(action("wave", 0))
    embedding.frames = 4  # under a second of video in the window
    assert predictions(KINETICS) == ()
    embedding.frames = 5
    assert [p.label for p in predictions(KINETICS)] == ["wave"]


def test_zero_scores_are_never_reported():
    reported = PredictionFilter(["a", "b", "c"], max_results=3)(np.array([0.6, 0.0, 0.4], np.float32))
    assert [p.label for p in reported] == ["a", "c"]
