"""The camera changes the benchmarks apply (benchmarks/perturb.py), on synthetic frames whose pixels say where
they came from."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.perturb import (
    BRIGHT,
    DIM,
    FREEZE_SECONDS,
    PERTURBATIONS,
    RAMP_SECONDS,
    bumped,
    light_gain,
    named_perturbations,
    perturbed,
    scaled,
)


def flat(value: int, size: int = 8) -> np.ndarray:
    return np.full((size, size, 3), value, np.uint8)


def test_a_light_change_scales_the_pixels_and_clips_at_white():
    image = np.array([[[0, 100, 200]]], np.uint8)
    assert scaled(image, DIM).tolist() == [[[0, 50, 100]]]
    assert scaled(image, BRIGHT).tolist() == [[[0, 160, 255]]]  # 320 clipped, as an 8-bit camera clips it
    assert scaled(image, 1.0) is image
    assert scaled(image, DIM).dtype == np.uint8 and image.tolist() == [[[0, 100, 200]]]  # the input is kept


def test_steps_hold_from_their_start_and_the_ramp_reaches_half_in_3_s():
    for name, level in (("light-dim", DIM), ("light-bright", BRIGHT)):
        assert light_gain(name, -0.2) == 1.0 and light_gain(name, 0.0) == level == light_gain(name, 50.0)
    assert light_gain("light-ramp", -1.0) == light_gain("light-ramp", 0.0) == 1.0
    assert light_gain("light-ramp", RAMP_SECONDS / 2) == pytest.approx(0.75)
    assert light_gain("light-ramp", RAMP_SECONDS) == light_gain("light-ramp", 60.0) == DIM
    with pytest.raises(ValueError):
        light_gain("cut", 1.0)


def test_a_bumped_camera_sees_a_shifted_closer_crop_at_the_same_size():
    height, width = 100, 200
    columns = np.tile(np.arange(width, dtype=np.uint8), (height, 1))  # each pixel holds its column (and row below)
    image = np.dstack([columns, np.tile(np.arange(height, dtype=np.uint8)[:, None], (1, width)), columns])
    moved = bumped(image)
    assert moved.shape == image.shape and moved.dtype == np.uint8
    # An 85 % crop (170 of 200 columns) whose left edge is 10 % of the width (20) right of the centred one (15),
    # kept inside the picture: columns 30-199; rows centred: 85 of 100, from row 7.
    assert abs(int(moved[50, 0, 0]) - 30) <= 1 and abs(int(moved[50, -1, 0]) - 199) <= 1
    assert abs(int(moved[0, 100, 1]) - 7) <= 1 and abs(int(moved[-1, 100, 1]) - 92) <= 1
    assert not np.array_equal(moved, image)


def test_the_loop_is_played_as_it_is_until_the_perturbation_starts():
    loop = [flat(10), flat(20), flat(30)]
    for name in (None, *PERTURBATIONS):
        frames = list(perturbed(loop, 10, 4, name, 5.0))
        assert len(frames) == 10
        assert [f[0, 0, 0] for f in frames[:4]] == [10, 20, 30, 10]
    assert [f[0, 0, 0] for f in perturbed(loop, 7, 4, None, 5.0)] == [10, 20, 30, 10, 20, 30, 10]


def test_each_perturbation_changes_the_frames_from_its_start():
    loop = [flat(100), flat(120), flat(140)]
    dim = list(perturbed(loop, 8, 4, "light-dim", 5.0))
    assert [f[0, 0, 0] for f in dim[4:]] == [60, 70, 50, 60]  # the loop goes on, at half the light
    bright = list(perturbed(loop, 6, 4, "light-bright", 5.0))
    assert [f[0, 0, 0] for f in bright[4:]] == [192, 224]
    ramp = list(perturbed(loop, 4 + 20, 4, "light-ramp", 5.0))  # 5 fps: 3 s are 15 frames
    assert ramp[4][0, 0, 0] == 120 and ramp[4 + 15][0, 0, 0] == 60 and ramp[-1][0, 0, 0] == 70
    moved = [flat(1), flat(2), flat(3)]
    assert [f[0, 0, 0] for f in perturbed(loop, 7, 4, "cut", 5.0, moved)][4:] == [2, 3, 1]
    assert np.array_equal(next(iter(perturbed([np.arange(64, dtype=np.uint8).reshape(8, 8)], 1, 0, "cut", 5.0))),
                          bumped(np.arange(64, dtype=np.uint8).reshape(8, 8)))  # made from the loop when not given


def test_a_freeze_holds_the_last_frame_then_the_footage_goes_on_from_there():
    loop = [flat(10), flat(20), flat(30)]
    fps = 0.5  # FREEZE_SECONDS is then 5 frames
    frozen = round(FREEZE_SECONDS * fps)
    frames = [f[0, 0, 0] for f in perturbed(loop, 4 + frozen + 3, 4, "freeze", fps)]
    assert frames == [10, 20, 30, 10] + [10] * frozen + [20, 30, 10]


def test_an_unknown_perturbation_is_refused():
    with pytest.raises(ValueError, match="light-dim"):
        list(perturbed([flat(1)], 3, 1, "light-flicker", 5.0))


def test_a_perturb_value_names_perturbations_or_all_of_those_allowed():
    assert named_perturbations("cut,light-dim") == ["cut", "light-dim"]
    assert named_perturbations("all", ("cut",)) == ["cut"]
    with pytest.raises(ValueError, match="--perturb: unknown freeze; choose from cut"):
        named_perturbations("freeze", ("cut",))


def test_the_frozen_benchmark_plays_the_freeze_and_the_same_time_offline():
    from benchmarks.frozen import PlayedCamera, played
    from benchmarks.long_stream import FPS, PERTURB_AT, PERTURB_SECONDS

    loop = [flat(value) for value in range(20)]
    at, frozen = PERTURB_AT * FPS, round(FREEZE_SECONDS * FPS)
    fed, away = played(loop, "fed"), played(loop, "offline")
    assert len(fed) == len(away) == len(played(loop, "none")) == PERTURB_SECONDS * FPS
    assert all(image is not None and np.array_equal(image, fed[at - 1]) for image in fed[at:at + frozen])
    assert [i for i, image in enumerate(away) if image is None] == list(range(at, at + frozen))
    assert all(np.array_equal(a, b) for a, b in zip(fed[at + frozen:], away[at + frozen:]))
    camera = PlayedCamera(away)
    items = [camera.read() for _ in range(len(away) + 1)]
    assert items[-1] is None and items[at].online is False and items[at + frozen].index == at + frozen
    assert items[at - 1].image is not away[at - 1], "each frame a buffer of its own"
