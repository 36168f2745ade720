"""Taught actions on arrays and files (no model): the store's format and atomic writes, the head's scores, the merge
with the model's labels."""

from __future__ import annotations

import dataclasses
import json
import zipfile

import numpy as np
import pytest

from utils.errors import ClassifierError
from utils.model.files import usual_file_mode
from utils.model.predictions import PredictionFilter
from utils.model.taught.features import Observation, describe
from utils.model.taught.head import (
    DEFAULT_TAU,
    MIN_MOTION_SHARE,
    MIN_RECENT_COSINE,
    TEMPERATURE,
    TaughtHead,
    min_window_frames,
)
from utils.model.taught.predictions import NONE_OF_THEM, TaughtPredictions
from utils.model.taught.store import (
    ARRAYS,
    FORMAT,
    ActionStore,
    Examples,
    ModelIdentity,
    Session,
    TaughtAction,
    file_name,
    read_action,
)

MODEL = ModelIdentity("a" * 64, "movinet_a0_stream_int8.tflite")
DIM = 8  # features
CLASSES = 6


def session(examples: int = 3) -> Session:
    return Session(1.0, examples, 20, 5.0, "test")


def axis(direction: int, size: int = DIM) -> np.ndarray:
    return np.eye(size, dtype=np.float32)[direction]


def window(direction: int, moving: bool = True, moves_along: int | None = None, frames: int = 20,
           swing: float = 2.0) -> Observation:
    """A window of an action along one axis: the model's probabilities on class `direction`, the last 10 frames'
    features along that axis too, changing from frame to frame by `swing` (moving) or all the same (a frozen
    picture)."""
    along = axis(direction if moves_along is None else moves_along)
    recent = np.stack([along * (1.0 + swing * (i % 2) * moving) for i in range(10)])
    probabilities = 0.5 * axis(direction, CLASSES) + 0.5 / CLASSES
    return Observation(along, frames, probabilities, recent)


def examples_of(observations: list[Observation]) -> Examples:
    described = [describe(o) for o in observations]
    return Examples(np.stack([o.window_sum / o.frames for o in observations]),
                    np.stack([d.probabilities for d in described]),
                    np.stack([d.recent_mean for d in described]), np.stack([d.change for d in described]))


def action(name: str, direction: int, n: int = 3, tau: float | None = None, swing: float = 2.0) -> TaughtAction:
    """An action taught from n windows along one axis (with a little noise)."""
    rng = np.random.default_rng(direction)
    noisy = [Observation(o.window_sum, o.frames, o.probabilities, o.recent + 0.05 * rng.random(o.recent.shape,
                                                                                               np.float32))
             for o in [window(direction, swing=swing)] * n]
    return TaughtAction(name, MODEL, examples_of(noisy), np.zeros(n, np.int32), (session(n),), tau)


def test_a_saved_action_reads_back_and_teaching_again_adds_a_session(tmp_path):
    store = ActionStore(tmp_path / "actions")
    store.add("wave hello", MODEL, action("x", 0).examples, session())
    again = store.add("wave hello", MODEL, action("x", 0, n=2).examples, session(2))
    back = store.read("wave hello")
    assert back is not None and len(back.examples) == 5 and len(back.sessions) == 2
    assert back.session_of_example.tolist() == [0, 0, 0, 1, 1]
    for name, array in back.examples.arrays().items():
        assert np.array_equal(array, again.examples.arrays()[name])
    assert back.model == MODEL and back.tau is None
    assert [p.name for p in store.files()] == ["wave hello.npz"]


def test_the_file_is_plain_arrays_with_json_metadata(tmp_path):
    store = ActionStore(tmp_path)
    path = store.write(action("café bar", 1))
    with np.load(path, allow_pickle=False) as arrays:
        assert set(arrays.files) == ARRAYS
        assert arrays["window_means"].shape == (3, DIM) and arrays["probabilities"].shape == (3, CLASSES)
        assert arrays["changes"].dtype == np.float32 and arrays["sessions"].dtype == np.int32
        meta = json.loads(arrays["meta"].tobytes().decode())
    assert meta["format"] == FORMAT and meta["name"] == "café bar" and meta["dim"] == DIM
    assert meta["model"] == {"sha256": "a" * 64, "file": "movinet_a0_stream_int8.tflite"}
    assert meta["tau"] is None and meta["sessions"][0]["window_frames"] == 20
    assert path.name == "caf%C3%A9 bar.npz" == file_name("café bar")
    assert path.stat().st_mode & 0o777 == usual_file_mode()  # like any new file (a service may read it), not 0600


def test_reading_an_action_reads_the_archives_index_once(tmp_path, monkeypatch):
    store = ActionStore(tmp_path)
    store.write(action("wave", 0))
    reads = []
    real = zipfile.ZipFile._RealGetContents  # where CPython's zipfile reads the central directory

    def counted(archive):
        reads.append(archive)
        return real(archive)

    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", counted)
    assert len(read_action(store.path("wave")).examples) == 3
    assert len(reads) == 1


def test_a_write_that_fails_leaves_the_old_file_whole(tmp_path, monkeypatch):
    store = ActionStore(tmp_path)
    path = store.write(action("wave", 0))
    before = path.read_bytes()

    def full_disk(file, array, **options):  # the first array's write fails halfway
        file.write(b"half an array")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", full_disk)
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
    scores = head.scores(window(0))
    assert scores[0] > 0.9 and scores[1] == 0.0 and scores.sum() <= 1.0
    assert not head.scores(window(5)).any()  # far from both: none of them
    # Exactly at its threshold a lone action scores one half.
    similarity = float(TaughtHead([action("a", 0)]).similarities(window(0))[0])
    at_tau = TaughtHead([dataclasses.replace(action("a", 0), tau=similarity - 1e-4)])
    assert at_tau.scores(window(0))[0] == pytest.approx(0.5, abs=0.01)


def reference_scores(actions: list[TaughtAction], observation: Observation) -> np.ndarray:
    """The head's formula (head.py's docstring), one action at a time, in plain numpy."""
    def unit_mean(rows: np.ndarray) -> np.ndarray:
        mean = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).mean(axis=0)
        return mean / np.linalg.norm(mean)

    seen = describe(observation)
    similarity, recent_cosine, floors = [], [], []
    for a in actions:
        bc = float(np.sqrt(seen.probabilities) @ np.sqrt(a.examples.probabilities.mean(axis=0)))
        cr = float(seen.recent_mean @ unit_mean(a.examples.recent_means) / np.linalg.norm(seen.recent_mean))
        cc = float(seen.change @ unit_mean(a.examples.changes) / max(np.linalg.norm(seen.change), 1e-12))
        similarity.append((bc + cr + cc) / 3)
        recent_cosine.append(cr)
        floors.append(MIN_MOTION_SHARE * np.median(np.linalg.norm(a.examples.changes, axis=1)
                                                   / np.linalg.norm(a.examples.recent_means, axis=1)))
    s, tau = np.array(similarity), np.array([DEFAULT_TAU if a.tau is None else a.tau for a in actions])
    accepted = (s >= tau) & (np.array(recent_cosine) >= MIN_RECENT_COSINE) & (seen.motion >= np.array(floors))
    share = np.exp(s / TEMPERATURE) / np.exp(s / TEMPERATURE).sum()
    return np.where(accepted, share / (1 + np.exp((tau - s) / TEMPERATURE)), 0.0)


def test_every_action_is_scored_at_once_as_the_formula_says():
    actions = [action("a", 0), action("a again", 0, n=5), action("b", 1), action("a, strict", 0, tau=0.99),
               action("c", 2, tau=0.3)]
    head = TaughtHead(actions)
    for observation in (window(0), window(1), window(0, moves_along=2), window(0, moving=False), window(5)):
        expected = reference_scores(actions, observation)
        assert head.scores(observation) == pytest.approx(expected, abs=1e-5)
    assert (reference_scores(actions, window(0)) > 0).sum() == 3  # three taught alike share the score


def test_a_still_picture_of_the_action_is_not_the_action():
    head = TaughtHead([action("a", 0)])
    assert head.scores(window(0))[0] > 0.9
    assert head.scores(window(0, moving=False))[0] == 0.0  # same probabilities and features, nothing moves


def test_features_that_move_on_a_still_picture_are_not_the_action():
    """After a bump or a light step the model's features move for 1-2 s while the picture stands still: the head
    takes the picture's own steps (picture_motion.py) and rejects the window unless at least half of them move."""
    head = TaughtHead([action("a", 0)])
    moving = window(0)
    jumped = np.zeros(9, np.float32)
    jumped[2] = 0.9  # the jump, then a still picture
    assert head.scores(moving._replace(picture_steps=jumped))[0] == 0.0
    half = np.where(np.arange(9) % 2 == 0, 0.1, 0.0).astype(np.float32)  # 5 of 9 steps move
    assert head.scores(moving._replace(picture_steps=half))[0] > 0.9
    assert head.scores(moving._replace(picture_steps=half[1:]))[0] > 0.9  # 4 of 8: the median is above 0
    assert head.scores(moving._replace(picture_steps=half[1:-1]))[0] == 0.0  # 3 of 7
    assert head.scores(moving)[0] > 0.9  # not known: the features alone decide


def test_each_action_holds_the_window_to_its_own_motion_floor():
    """Motion 0.57 (a swing of 0.8 on a mean of 1.4): below the floor of an action taught swinging by 4 (0.67),
    above that of one taught swinging by 0.5 (0.2); the rest of the two alike."""
    actions = [action("big", 0, swing=4.0), action("small", 0, swing=0.5)]
    observation = window(0, swing=0.8)
    expected = reference_scores(actions, observation)
    assert expected[0] == 0.0 and expected[1] > 0.0
    assert TaughtHead(actions).scores(observation) == pytest.approx(expected, abs=1e-5)


def test_what_moves_now_must_look_like_the_action():
    """The window still holds the action (its probabilities say so), but the last 2 s move like something else."""
    head = TaughtHead([action("a", 0)])
    assert head.scores(window(0, moves_along=4))[0] == 0.0


def test_an_action_can_keep_its_own_threshold():
    head = TaughtHead([action("strict", 0, tau=1.01), action("lenient", 0)])  # 1.01: above any similarity
    scores = head.scores(window(0))
    assert scores[0] == 0.0 and scores[1] > 0.0


def test_the_last_session_can_be_undone(tmp_path):
    store = ActionStore(tmp_path)
    store.add("wave", MODEL, action("x", 0).examples, session())
    store.add("wave", MODEL, action("x", 1, n=2).examples, session(2))
    before, _ = store.remove_last_session("wave")
    assert before is not None and len(before.examples) == 3 and len(before.sessions) == 1
    assert len(store.read("wave").examples) == 3
    assert store.remove_last_session("wave") == (None, False) and store.read("wave") is None  # its only session: gone
    with pytest.raises(ClassifierError, match="no taught action 'wave'"):
        store.remove_last_session("wave")


def test_an_action_taught_by_an_earlier_version_is_refused_with_one_line(tmp_path):
    meta = json.dumps({"format": "pi-action-classifier/taught-action/1", "name": "wave"}).encode()
    np.savez(tmp_path / "wave.npz", examples=np.zeros((3, DIM), np.float32), sessions=np.zeros(3, np.int32),
             meta=np.frombuffer(meta, np.uint8))
    with pytest.raises(ClassifierError, match="taught by an earlier version, which kept no motion: remove it"):
        read_action(tmp_path / "wave.npz")
    assert (tmp_path / "wave.npz").exists()  # nothing lost


def test_the_windows_scored_hold_a_second():
    assert min_window_frames(5.0, 20) == 5 and min_window_frames(5.0, 3) == 3 and min_window_frames(30.0, 0) == 30


class Windows:
    """Stands in for the classifier's observer: the window it returns can be changed by the test."""

    def __init__(self, observation: Observation) -> None:
        self.observation = observation

    def __call__(self) -> Observation:
        return self.observation


LABELS = ["abseiling", "carving ice", "juggling"]
KINETICS = np.array([0.1, 0.7, 0.2], np.float32)


def merged(only: bool = False, names=("wave",), actions=None, **options) -> tuple[TaughtPredictions, Windows]:
    embedding = Windows(window(0))
    prediction_filter = PredictionFilter([*LABELS, *names], **options)
    actions = [action("wave", 0)] if actions is None else actions
    return TaughtPredictions(prediction_filter, names, actions, embedding, min_frames=5, only=only), embedding


def test_a_taught_action_is_one_more_label():
    predictions, embedding = merged()
    assert [(p.label, p.taught) for p in predictions(KINETICS)] == [
        ("wave", True), ("carving ice", False), ("juggling", False)]
    embedding.observation = window(3)  # not the taught action
    assert [p.label for p in predictions(KINETICS)] == ["carving ice", "juggling", "abseiling"]


def test_only_reports_taught_actions_and_says_none():
    predictions, embedding = merged(only=True)
    assert [p.label for p in predictions(KINETICS)] == ["wave"] and predictions.nothing == NONE_OF_THEM
    embedding.observation = window(3)
    assert predictions(KINETICS) == ()


def test_threshold_allow_and_deny_apply_to_taught_actions():
    assert [p.label for p in merged(allow=["wave"])[0](KINETICS)] == ["wave"]
    assert "wave" not in [p.label for p in merged(deny=["wave"])[0](KINETICS)]
    assert [p.label for p in merged(score_threshold=0.8)[0](KINETICS)] == ["wave"]


def test_short_windows_are_not_scored_and_a_new_action_counts_once_learned():
    predictions, embedding = merged(only=True, actions=[])
    assert predictions(KINETICS) == ()  # "wave" is to be taught (--teach) but has no examples yet
    predictions.learn("wave", action("wave", 0))
    embedding.observation = window(0, frames=4)  # under a second of video in the window
    assert predictions(KINETICS) == ()
    embedding.observation = window(0, frames=5)
    assert [(p.label, p.taught) for p in predictions(KINETICS)] == [("wave", True)]
    predictions.learn("wave", None)  # its only session undone
    assert predictions(KINETICS) == ()


def test_zero_scores_are_never_reported():
    reported = PredictionFilter(["a", "b", "c"], max_results=3)(np.array([0.6, 0.0, 0.4], np.float32))
    assert [p.label for p in reported] == ["a", "c"]
