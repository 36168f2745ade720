"""Shrinking frames to the model's size: close to INTER_AREA's averaging, at bilinear's cost."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import DATA

from utils.resize import shrink


@pytest.mark.parametrize("size", [(340, 256), (426, 240), (640, 480), (1920, 1080), (172, 172), (100, 90)])
def test_shrink_averages_like_inter_area(size):
    """A fine pattern (1-pixel stripes) must come out grey, as an average does; sampling it would alias."""
    width, height = size
    stripes = np.zeros((height, width, 3), np.uint8)
    stripes[:, ::2] = 255
    small = shrink(stripes, (172, 172))
    assert small.shape == (172, 172, 3)
    if width >= 2 * 172:
        assert abs(float(small.mean()) - 127.5) < 3 and float(small.std()) < 20  # grey, not stripes


def test_shrink_of_a_real_frame_is_close_to_inter_area():
    frame = cv2.imread(str(DATA / "juggling_soccer_ball_frame.png"))  # 640x360, a real frame (tests/data/SOURCES.md)
    assert frame.shape == (360, 640, 3)
    area = cv2.resize(frame, (172, 172), interpolation=cv2.INTER_AREA).astype(np.int16)
    linear = cv2.resize(frame, (172, 172), interpolation=cv2.INTER_LINEAR).astype(np.int16)
    shrunk_off, linear_off = (float(np.abs(image - area).mean()) for image in (shrink(frame, (172, 172)), linear))
    assert shrunk_off < 3.0 and shrunk_off < 0.7 * linear_off, (shrunk_off, linear_off)


def test_shrink_writes_into_dst_and_leaves_a_right_sized_frame_alone():
    frame = np.random.default_rng(0).integers(0, 255, (344, 344, 3), np.uint8)
    dst = np.empty((172, 172, 3), np.uint8)
    assert shrink(frame, (172, 172), dst=dst) is dst
    np.testing.assert_array_equal(dst, cv2.resize(frame, (172, 172), interpolation=cv2.INTER_LINEAR))
    same = frame[:172, :172]
    assert shrink(same, (172, 172)) is same
