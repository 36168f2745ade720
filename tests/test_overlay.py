"""The overlay on real clip frames: readable at 172x172, 640x480 and 1920x1080, never off the frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE

from utils.results import Prediction
from utils.sinks import overlay
from utils.sinks.base import Status, rate_texts
from utils.sinks.overlay import MIN_HEIGHT, OverlayRenderer, draw_overlay, overlay_rgba, status_lines

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
    margin = round(overlay.MARGIN * min(out.shape[1] / 640, out.shape[0] / 480))
    assert not white(out[:, -margin + 1:]).any(), "text reaches into the right margin"
    assert not white(out[:, :margin - 1]).any(), "text reaches into the left margin"


def test_waiting_message_before_the_first_result():
    out = draw_overlay(np.full((480, 640, 3), 60, np.uint8), (), STATUS)
    assert (out[:50] > 150).all(axis=2).sum() > 100


def test_status_lines_show_rates_model_threads_temperature_and_load():
    assert status_lines(STATUS) == ["classify  5.0 fps    42.3 ms   capture 29.8 fps",
                                    "movinet_a0_stream_int8   4 threads   61 C   CPU 87%"]
    assert status_lines(Status(model="m", threads=1))[1] == "m   1 threads"  # no sensor: no temperature


def test_the_overlay_and_the_terminal_show_the_same_rates():
    status = Status(capture_fps=30.0, classify_fps=12.5, inference_ms=4.0)
    assert rate_texts(status) == ["classify 12.5 fps", "4.0 ms", "capture 30.0 fps"]  # the terminal's parts
    assert status_lines(status)[0] == "classify 12.5 fps     4.0 ms   capture 30.0 fps"  # the same, aligned
    assert rate_texts(Status(capture_fps=30.0)) == ["capture 30.0 fps"]  # no "0.0 fps" for what is not measured


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


def test_renderer_draws_what_draw_overlay_draws_and_lays_out_only_on_change(monkeypatch):
    frame = np.random.default_rng(3).integers(0, 256, (480, 640, 3), np.uint8)
    predictions = (Prediction("carving ice", 0.9), Prediction("chiseling stone", 0.05))
    status = Status(capture_fps=30.0, classify_fps=5.0, inference_ms=20.0, model="m", threads=4)
    expected = draw_overlay(frame.copy(), predictions, status)
    renderer = OverlayRenderer(status_interval=60)
    builds = []
    original = overlay._build_scene
    monkeypatch.setattr(overlay, "_build_scene", lambda *a: builds.append(1) or original(*a))

    first = renderer.draw(frame.copy(), predictions, status)
    assert np.array_equal(first, expected)
    # New rates within the interval: the scene is reused; a new result is laid out again.
    later = renderer.draw(frame.copy(), predictions, Status(capture_fps=29.0, classify_fps=5.0, model="m"))
    assert np.array_equal(later, first) and len(builds) == 1
    # 90.2 % shows as 90 % like 90 %: nothing to lay out again.
    renderer.draw(frame.copy(), (Prediction("carving ice", 0.902), Prediction("chiseling stone", 0.05)), status)
    assert len(builds) == 1
    renderer.draw(frame.copy(), (Prediction("juggling balls", 0.7),), status)
    assert len(builds) == 2


@pytest.mark.parametrize(("scale", "thickness"), [(0.5, 1), (0.9, 2), (2.0, 5)])
def test_a_sprite_draws_exactly_what_puttext_draws(scale, thickness):
    text = "jQ|(gy) [x_]{/} 'hi' 100%"  # glyphs that reach past getTextSize's box
    expected = np.zeros((200, 1400, 3), np.uint8)
    cv2.putText(expected, text, (40, 120), overlay.FONT, scale, overlay.TEXT, thickness, cv2.LINE_AA)
    sprite = overlay._sprite(text, scale, thickness, overlay.TEXT)
    pasted = np.zeros_like(expected)
    overlay._paste(pasted, sprite.patch, sprite.mask, 40 + sprite.left, 120 + sprite.top)
    assert np.array_equal(pasted, expected)
    assert sprite.mask.shape == sprite.patch.shape[:2]
    assert np.array_equal(sprite.mask != 0, sprite.patch.any(axis=2)), "the mask is the drawn pixels"


@pytest.mark.parametrize(("x", "y"), [(-7, -5), (-30, 10), (50, -20), (90, 55), (95, 62), (-200, 0), (0, 70)])
def test_a_sprite_is_clipped_to_the_image_and_never_wraps_around(x, y):
    """Pasting into a small image must give what pasting into a larger one and cropping gives."""
    sprite = overlay._sprite("clipped 42%", 0.9, 2, overlay.TEXT)
    small = np.full((64, 100, 3), 60, np.uint8)
    large = np.full((64 + 200, 100 + 400, 3), 60, np.uint8)
    overlay._paste(small, sprite.patch, sprite.mask, x, y)
    overlay._paste(large, sprite.patch, sprite.mask, x + 200, y + 100)
    assert np.array_equal(small, large[100:164, 200:300])


def top_row_band(image: np.ndarray) -> slice:
    """The rows of the top-1 prediction: from the top down to its amber bar."""
    return slice(0, int(np.flatnonzero(amber(image).any(axis=1))[0]))


@pytest.mark.parametrize("size", [(640, 480), (1920, 1080), (480, 640)])
def test_the_score_ends_at_the_bar_and_the_label_starts_at_the_margin(size):
    width, height = size
    unit = min(width / 640, height / 480)
    margin = round(overlay.MARGIN * unit)
    predictions = (Prediction("arm wrestling", 0.93), Prediction("headbutting", 0.05))
    out = draw_overlay(np.full((height, width, 3), 60, np.uint8), predictions, STATUS)
    band = top_row_band(out)
    columns = np.flatnonzero(white(out[band]).any(axis=0))
    bar_end = width - margin  # the track's last column
    assert bar_end - 3 * unit <= columns[-1] <= bar_end, "the score is not right-aligned to the bar's end"
    assert margin <= columns[0] <= margin + 4 * unit, "the label does not start at the margin"
    gaps = np.flatnonzero(np.diff(columns) > 20 * unit)
    assert len(gaps) == 1, "label and score should be two blocks with room between them"
    # The second row's score ends in the same column: scores line up whatever their width.
    second = np.flatnonzero(white(out[band.stop + round(8 * unit):band.stop + round(38 * unit)]).any(axis=0))
    assert abs(second[-1] - columns[-1]) <= 2 * unit


@pytest.mark.parametrize("size", [(640, 480), (1920, 1080), (480, 640)])
def test_a_long_label_is_cut_and_never_reaches_the_score(size):
    width, height = size
    frame = np.full((height, width, 3), 60, np.uint8)
    long = draw_overlay(frame.copy(), (Prediction("playing with trains and model railways " * 3, 0.87),), STATUS)
    alone = draw_overlay(frame.copy(), (Prediction("", 0.87),), STATUS)  # the score and nothing else
    score_left = np.flatnonzero(white(alone[top_row_band(alone)]).any(axis=0))[0]
    label = np.flatnonzero((long != alone).any(axis=2).any(axis=0))
    assert label.size and label[0] < width // 4, "no label drawn"
    unit = min(width / 640, height / 480)
    assert label[-1] < score_left - 6 * unit, "the label runs into the score"
    assert label[-1] > score_left - 80 * unit, "the cut label should fill the room beside the score"


def test_a_new_score_renders_one_sprite_and_a_new_renderer_none():
    predictions = list(PREDICTIONS)
    frame = np.zeros((480, 640, 3), np.uint8)
    renderer = OverlayRenderer(status_interval=60)
    overlay._sprite.cache_clear()
    renderer.draw(frame.copy(), predictions, STATUS)
    first = overlay._sprite.cache_info().misses
    assert first == 2 * len(predictions) + len(status_lines(STATUS)), "a label, a score and the status lines"
    predictions[0] = Prediction("arm wrestling", 0.61)
    renderer.draw(frame.copy(), predictions, STATUS)
    assert overlay._sprite.cache_info().misses == first + 1, "only the new score is rendered"
    predictions[1:] = [Prediction("headbutting", 0.04), Prediction("shaking hands", 0.01)]  # seen, in other rows
    renderer.draw(frame.copy(), predictions, STATUS)
    assert overlay._sprite.cache_info().misses == first + 1
    draw_overlay(frame.copy(), PREDICTIONS, STATUS)  # a new renderer reuses the sprites as well
    assert overlay._sprite.cache_info().misses == first + 1


@pytest.mark.parametrize("size", [(64, 48), (24, 600), (480, 640), (1920, 1080), (3000, 480)])
def test_drawing_never_writes_outside_the_image(size):
    width, height = size
    guard = 50
    long = (Prediction("a label far too long for any frame " * 3, 1.0), *PREDICTIONS[1:])
    buffer = np.full((height + 2 * guard, width, 3), 60, np.uint8)
    frame = buffer[guard:guard + height]  # whole rows: contiguous, so drawn in place with guards around
    out = draw_overlay(frame, long, STATUS)
    assert (buffer[:guard] == 60).all() and (buffer[-guard:] == 60).all(), "drawn outside the frame"
    assert out.shape[0] == max(height, MIN_HEIGHT)
    assert (out is frame) == (height >= MIN_HEIGHT)
    assert white(out).any()
    assert overlay_rgba(size, long, STATUS).shape == (*out.shape[:2], 4)


@pytest.mark.parametrize("size", [(640, 480), (480, 640), (1920, 1080)])
def test_rgba_overlay_alpha_and_colours_match_the_drawn_overlay(size):
    width, height = size
    rgba = overlay_rgba(size, PREDICTIONS, STATUS)
    alpha = rgba[..., 3]
    on_black = draw_overlay(np.zeros((height, width, 3), np.uint8), PREDICTIONS, STATUS)
    drawn = on_black.any(axis=2)  # darkening black leaves it black: what is left is text and bars
    background = np.array([200, 50, 120], np.uint8)  # no text or bar has this colour
    untouched = (draw_overlay(np.full((height, width, 3), background), PREDICTIONS, STATUS) == background).all(axis=2)
    assert np.array_equal(alpha == 255, drawn), "text and bars are opaque"
    assert np.array_equal(alpha == 0, untouched), "outside the panels is clear"
    assert np.array_equal(alpha == 128, ~drawn & ~untouched), "the panels are half-transparent black"
    assert np.array_equal(rgba[drawn][:, :3], on_black[drawn][:, ::-1]), "the same colours, as RGB"
    assert not rgba[~drawn][:, :3].any()
    pixels = {tuple(p) for p in rgba[drawn].tolist()}
    expected = {(*overlay.TEXT, 255), (*overlay.BAR[::-1], 255), (*overlay.TRACK[::-1], 255)}
    assert expected <= pixels, "white text, amber and grey bars, as RGB"


def test_an_outage_takes_the_place_of_the_results():
    """What the window shows while the camera is away: the outage where the labels were, on a dark frame."""
    from utils.sources.health import SourceHealth

    dark = np.zeros((480, 640, 3), np.uint8)
    waiting = draw_overlay(dark.copy(), (), STATUS)
    offline = draw_overlay(dark.copy(), (), Status(source=SourceHealth(offline_since=0.0)))
    def ink(image: np.ndarray) -> int:  # text pixels in the first result's row
        return int((image[:60] > 150).all(axis=2).sum())

    assert ink(offline) > ink(waiting) > 0, "a longer line than 'waiting for the first result...'"
    assert overlay.idle_text(Status(source=SourceHealth(offline_since=0.0))).startswith("camera offline since ")
    assert overlay.idle_text(STATUS) == overlay.WAITING


@pytest.mark.parametrize("size", [(640, 480), (340, 256), (320, 240)])
def test_the_window_key_help_is_whole_on_small_frames(size):
    """The key help (h) on the Pi camera's 640x480 and smaller: every key's hint is drawn whole, none cut with
    '...' (the second line used to end in "h: hide the...")."""
    from utils.sinks.window import KEY_HELP

    drawn = [text for text, _ in overlay.banner_lines(KEY_HELP, overlay._Layout(*size, 1, 0))]
    assert not any(text.endswith("...") for text in drawn), drawn
    hints = [hint for line in KEY_HELP for hint in line.split("    ")]
    assert [hint for text in drawn for hint in text.split("    ")] == hints
