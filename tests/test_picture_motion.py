"""Whether the picture itself moves (utils/model/picture_motion.py), on synthetic frames: a still room, a person
moving, a light step and a bumped camera."""

from __future__ import annotations

import numpy as np

from benchmarks.perturb import bumped
from utils.model.picture_motion import PictureSteps, changed_share, thumbnail


def room(seed: int = 0, size: int = 172) -> np.ndarray:
    """A textured RGB room: blocks of random grey levels, as walls and furniture."""
    blocks = np.random.default_rng(seed).integers(40, 200, (size // 4, size // 4, 1), dtype=np.uint8)
    return np.repeat(np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1), 3, axis=2)


def with_person(image: np.ndarray, x: int) -> np.ndarray:
    """The room with a dark 40x60 figure whose left edge is at column x."""
    out = image.copy()
    out[60:120, x:x + 40] = 10
    return out


def dimmed(image: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def steps_of(frames: list[np.ndarray]) -> np.ndarray:
    picture = PictureSteps(64)
    for frame in frames:
        picture.add(frame)
    return picture.recent(len(frames) - 1).copy()


def test_a_still_room_does_not_move():
    assert changed_share(thumbnail(room()), thumbnail(room())) == 0.0
    assert steps_of([room()] * 10).tolist() == [0.0] * 9


def test_a_person_moving_moves_part_of_the_picture_even_dimmed():
    frames = [with_person(room(), 20 + 8 * i) for i in range(10)]
    shares = steps_of(frames)
    assert (shares > 0).all() and (shares < 0.3).all()  # some of the picture, not all of it
    assert (steps_of([dimmed(f, 0.5) for f in frames]) > 0).all()  # the level follows the brightness


def test_a_light_step_or_a_bump_moves_the_picture_once():
    still = room()
    for changed in (dimmed(still, 0.5), dimmed(still, 1.6), bumped(still)):
        shares = steps_of([still] * 5 + [changed] * 5)
        assert shares[4] > 0.5  # the step into the changed picture: most of it
        assert shares[[0, 1, 2, 3, 5, 6, 7, 8]].tolist() == [0.0] * 8  # still before and after


def test_the_steps_are_the_newest_oldest_first_and_a_reset_forgets_them():
    picture = PictureSteps(4)
    frames = [with_person(room(), 10 * i) for i in range(7)] + [with_person(room(), 60)] * 2
    for frame in frames:
        picture.add(frame)
    expected = [changed_share(thumbnail(a), thumbnail(b)) for a, b in zip(frames, frames[1:])]
    assert picture.recent(4).tolist() == np.float32(expected[-4:]).tolist()
    assert picture.recent(2).tolist() == np.float32(expected[-2:]).tolist()
    picture.reset()
    assert len(picture.recent(4)) == 0
    picture.add(frames[0])
    assert len(picture.recent(4)) == 0  # a step needs two frames
