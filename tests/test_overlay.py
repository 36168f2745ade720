"""The overlay on real clip frames: readable at 172x172, 640x480 and 1920x1080, never off the frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE

from utils.config import Prediction, Status
from utils.overlay import MIN_HEIGHT, draw_overlay, overlay_rgba, status_lines

PREDICTIONS = (Prediction("arm wrestling", 0.93), Prediction("shaking hands", 0.04), Prediction("headbutting", 0.01))
STATUS = Status(29.8, 5.0, 42.3, "movinet_a0_stream_int8", 4, 61.2, 87.0)


def clip_frame(path=ARM_WRESTLING, index: int = 60) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    try:
        for _ in range(index + 1):
            ok, image = capture.read()
            assert ok, f"cannot read frame {index} of {path}"
    finally:
        capture.release()
    return image


def white(image: np.ndarray) -> np.ndarray:
    return (image > 230).all(axis=2)


def amber(image: np.ndarray) -> np.ndarray:
    b, g, r = (image[..., i].astype(int) for i in range(3))
    return (b < 60) & (g > 150) & (g < 225) & (r > 230)


def text_rows(mask: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    return int(rows[0]), int(rows[-1])


@pytest.mark.parametrize("size", [(640, 480), (1920, 1080), (480, 640)])
def test_overlay_is_drawn_in_place_at_any_size(size):
    frame = cv2.resize(clip_frame(), size)
    out = draw_overlay(frame, PREDICTIONS, STATUS)
    assert out is frame
    height = size[1]
    assert white(out[: height // 4]).sum() > 200, "no label text at the top"
    assert amber(out[: height // 4]).sum() > 100, "no top-1 score bar"
    assert white(out[-height // 8:]).sum() > 100, "no status text at the bottom"


def test_text_scales_with_the_frame_so_1080p_reads_from_across_a_room():
    small = draw_overlay(cv2.resize(clip_frame(), (640, 480)), PREDICTIONS[:1], STATUS)
    large = draw_overlay(cv2.resize(clip_frame(), (1920, 1080)), PREDICTIONS[:1], STATUS)
    top, bottom = text_rows(white(small[:60, :300]))
    top_hd, bottom_hd = text_rows(white(large[:135, :675]))
    assert (bottom_hd - top_hd) / (bottom - top) == pytest.approx(2.25, rel=0.2)
    assert bottom_hd - top_hd >= 40, "the top-1 label should be at least 40 px tall on a 1080p screen"


def test_a_small_clip_is_enlarged_so_its_text_can_be_read():
    frame = clip_frame(CARVING_ICE, 30)
    assert frame.shape[:2] == (172, 172)
    out = draw_overlay(frame, PREDICTIONS, STATUS)
    assert out.shape[:2] == (MIN_HEIGHT, MIN_HEIGHT)
    top, bottom = text_rows(white(out[:60]))
    assert bottom - top >= 15


@pytest.mark.parametrize("size", [(172, 172), (640, 480), (1920, 1080)])
def test_long_labels_and_status_never_run_off_the_frame(size):
    long = (Prediction("playing with trains (model railways and the like) " * 4, 0.99), *PREDICTIONS[1:])
    status = Status(999.9, 999.9, 99999.9, "a_model_with_a_remarkably_long_file_name_" * 3, 64, 105.0, 100.0)
    frame = np.full((size[1], size[0], 3), 60, np.uint8)  # plain grey: any white pixel is text
    out = draw_overlay(frame, long, status)
    edge = max(2, out.shape[1] * 8 // 640)
    assert not white(out[:, -edge:]).any(), "text reaches the right edge"
    assert not white(out[:, :2]).any(), "text reaches the left edge"


def test_waiting_message_before_the_first_result():
    out = draw_overlay(np.full((480, 640, 3), 60, np.uint8), (), STATUS)
    assert (out[:50] > 150).all(axis=2).sum() > 100


def test_status_lines_show_rates_model_threads_temperature_and_load():
    assert status_lines(STATUS) == ["capture 29.8 fps   classify  5.0 fps    42.3 ms",
                                    "movinet_a0_stream_int8   4 threads   61 C   CPU 87%"]
    assert status_lines(Status(model="m", threads=1))[1] == "m   1 threads"  # no sensor: no temperature


def test_rgba_overlay_over_the_frame_looks_like_the_drawn_overlay():
    """The DRM preview lays overlay_rgba over the camera image; it must look like draw_overlay's result."""
    frame = cv2.resize(clip_frame(), (640, 480))
    rgba = overlay_rgba((640, 480), PREDICTIONS, STATUS)
    assert rgba.shape == (480, 640, 4) and rgba.dtype == np.uint8
    assert rgba[240, 320, 3] == 0, "the middle of the picture must stay clear"
    alpha = rgba[..., 3:].astype(float) / 255
    composite = rgba[..., 2::-1] * alpha + frame * (1 - alpha)  # RGBA -> BGR, "coverage" blending
    drawn = draw_overlay(frame.copy(), PREDICTIONS, STATUS)
    assert np.abs(composite - drawn).mean() < 2.0
    assert set(np.unique(rgba[..., 3])) >= {0, 128, 255}


def test_rgba_overlay_of_a_small_picture_is_enlarged_like_the_drawn_one():
    assert overlay_rgba((172, 172), PREDICTIONS, STATUS).shape == (MIN_HEIGHT, MIN_HEIGHT, 4)


def test_renderer_draws_what_draw_overlay_draws_and_renders_text_only_on_change(monkeypatch):
    from utils.overlay import OverlayRenderer

    frame = np.random.default_rng(3).integers(0, 256, (480, 640, 3), np.uint8)
    predictions = (Prediction("carving ice", 0.9), Prediction("chiseling stone", 0.05))
    status = Status(capture_fps=30.0, classify_fps=5.0, inference_ms=20.0, model="m", threads=4)
    expected = draw_overlay(frame.copy(), predictions, status)
    renderer = OverlayRenderer(status_interval=60)
    renders = []
    original = OverlayRenderer._render
    monkeypatch.setattr(OverlayRenderer, "_render", lambda self, *a: renders.append(1) or original(self, *a))

    first = renderer.draw(frame.copy(), predictions, status)
    assert np.array_equal(first, expected)
    # New rates within the interval: the cached text is reused (no render); a new result renders again.
    later = renderer.draw(frame.copy(), predictions, Status(capture_fps=29.0, classify_fps=5.0, model="m"))
    assert np.array_equal(later, first) and len(renders) == 1
    renderer.draw(frame.copy(), (Prediction("juggling balls", 0.7),), status)
    assert len(renders) == 2
