"""Draws the top-k labels with score bars, the rates and the machine's state onto a BGR frame."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from utils.config import Prediction, Status

FONT = cv2.FONT_HERSHEY_DUPLEX
TEXT = (255, 255, 255)
BAR = (0, 190, 255)       # amber: the top-1 bar
BAR_OTHER = (170, 170, 170)
TRACK = (70, 70, 70)      # the empty part of a bar, so its length reads as a share of the whole
MUTED = (200, 200, 200)
# Sizes are for a 640x480 frame and scale with the frame, so a 1080p window reads the same.
BASE_WIDTH, BASE_HEIGHT = 640, 480
# Smaller frames are enlarged to this many lines before drawing: text under ~12 px cannot be read.
MIN_HEIGHT = 480
TOP_SCALE = 0.9           # the top-1 label, readable from across a room
LABEL_SCALE = 0.7
STATUS_SCALE = 0.5
MARGIN = 10


def _fit(text: str, scale: float, thickness: int, max_width: int) -> tuple[str, float]:
    """Shrinks the text down to 70 % of its size, then cuts it with '...', so it never runs off the frame."""
    for factor in (1.0, 0.9, 0.8, 0.7):
        if cv2.getTextSize(text, FONT, scale * factor, thickness)[0][0] <= max_width:
            return text, scale * factor
    scale *= 0.7
    while len(text) > 1 and cv2.getTextSize(text + "...", FONT, scale, thickness)[0][0] > max_width:
        text = text[:-1]
    return text.rstrip() + "...", scale


def _darken(image: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    """Halves the brightness of a box so white text reads on any background."""
    box = image[max(0, y0):max(0, y1), max(0, x0):max(0, x1)]
    np.right_shift(box, 1, out=box)


def status_lines(status: Status) -> list[str]:
    lines = [f"capture {status.capture_fps:4.1f} fps   classify {status.classify_fps:4.1f} fps   "
             f"{status.inference_ms:5.1f} ms"]
    machine = [f"{status.model}", f"{status.threads} threads"]
    if status.cpu_temp_c is not None:
        machine.append(f"{status.cpu_temp_c:.0f} C")
    if status.cpu_percent is not None:
        machine.append(f"CPU {status.cpu_percent:.0f}%")
    lines.append("   ".join(m for m in machine if m))
    return lines


@dataclass(frozen=True)
class _Layout:
    """Where everything goes on a frame of this size; all lengths in pixels."""

    width: int
    height: int
    rows: int          # prediction rows (at least one, for the "waiting" line)
    status_rows: int

    @property
    def unit(self) -> float:
        """Pixels per pixel of the 640x480 design; the smaller side rules, so portrait frames fit too."""
        return min(self.width / BASE_WIDTH, self.height / BASE_HEIGHT)

    def px(self, value: float) -> int:
        return max(1, round(value * self.unit))

    @property
    def margin(self) -> int:
        return max(4, self.px(MARGIN))

    def row_top(self, i: int) -> int:
        """Top of prediction row i: the top-1 row is taller than the others."""
        return self.margin + (self.px(44) + (i - 1) * self.px(36) if i else 0)

    @property
    def status_line(self) -> int:
        return self.px(22)

    @property
    def status_top(self) -> int:
        return self.height - self.margin - self.status_line * self.status_rows

    def panels(self) -> list[tuple[int, int, int, int]]:
        """The two darkened bands (x0, y0, x1, y1): predictions at the top, rates at the bottom."""
        half = self.margin // 2
        return [(0, 0, self.width, self.row_top(self.rows) + half),
                (0, self.status_top - half, self.width, self.height)]


def legible(image: np.ndarray) -> np.ndarray:
    """The frame itself, or an enlarged copy when it is too small for readable text (e.g. a 172x172 clip)."""
    height, width = image.shape[:2]
    if height >= MIN_HEIGHT:
        return image
    factor = MIN_HEIGHT / height
    return cv2.resize(image, (round(width * factor), MIN_HEIGHT), interpolation=cv2.INTER_LINEAR)


def _draw(image: np.ndarray, layout: _Layout, predictions: Sequence[Prediction], status: Status) -> None:
    """The text and bars, without the darkened panels."""
    margin, px = layout.margin, layout.px
    max_text = layout.width - 2 * margin
    for i, prediction in enumerate(predictions):
        bottom = layout.row_top(i + 1)
        bar_top, bar_bottom = bottom - px(9), bottom - px(3)
        cv2.rectangle(image, (margin, bar_top), (margin + max_text, bar_bottom), TRACK, cv2.FILLED)
        bar_width = round(max_text * min(1.0, max(0.0, prediction.score)))
        if bar_width:
            cv2.rectangle(image, (margin, bar_top), (margin + bar_width, bar_bottom), BAR if i == 0 else BAR_OTHER,
                          cv2.FILLED)
        thickness = px(2)
        size = (TOP_SCALE if i == 0 else LABEL_SCALE) * layout.unit
        text, scale = _fit(f"{prediction.label}  {prediction.score:.0%}", size, thickness, max_text)
        cv2.putText(image, text, (margin, bar_top - px(6)), FONT, scale, TEXT, thickness, cv2.LINE_AA)
    if not predictions:
        text, scale = _fit("waiting for the first result...", LABEL_SCALE * layout.unit, px(1), max_text)
        cv2.putText(image, text, (margin, layout.row_top(1) - px(12)), FONT, scale, MUTED, px(1), cv2.LINE_AA)

    for i, line in enumerate(status_lines(status)):
        text, scale = _fit(line, STATUS_SCALE * layout.unit, px(1), max_text)
        cv2.putText(image, text, (margin, layout.status_top + (i + 1) * layout.status_line - px(6)), FONT, scale,
                    TEXT, px(1), cv2.LINE_AA)


def _layout(shape: tuple[int, ...], predictions: Sequence[Prediction], status: Status) -> _Layout:
    return _Layout(shape[1], shape[0], max(1, len(predictions)), len(status_lines(status)))


def _render_layer(shape: tuple[int, ...], predictions: Sequence[Prediction],
                  status: Status) -> tuple[_Layout, np.ndarray, np.ndarray]:
    """The text and bars on black, their layout, and the flat indices of the pixels drawn."""
    layout = _layout(shape, predictions, status)
    layer = np.zeros(shape, np.uint8)
    _draw(layer, layout, predictions, status)
    flat, width = layer.reshape(-1, 3), shape[1]
    pixels = []
    for _, y0, _, y1 in layout.panels():  # full-width bands: everything is drawn inside them
        band = flat[max(0, y0) * width:max(0, y1) * width]
        # OR of the channels: numpy's any(axis=2) over a length-3 axis is ~40x slower.
        pixels.append(np.flatnonzero(band[:, 0] | band[:, 1] | band[:, 2]) + max(0, y0) * width)
    return layout, layer, np.concatenate(pixels)


class OverlayRenderer:
    """Puts the overlay on every frame for the price of two darkened bands and a masked copy.

    Text and bars are rendered onto a cached layer only when they change: a new result, or new
    rates at most every `status_interval` seconds (a human cannot read faster, and cv2.putText with
    anti-aliasing costs about half a millisecond a line, too much for every frame on a Pi).
    """

    def __init__(self, status_interval: float = 0.5) -> None:
        self.status_interval = status_interval
        self._shown_status: Status | None = None
        self._status_time = -float("inf")
        self._key: tuple | None = None
        self._layout: _Layout | None = None
        self._pixels = np.zeros(0, np.intp)              # flat indices of the drawn pixels
        self._colours = np.zeros((0, 3), np.uint8)        # and their colours

    def draw(self, image: np.ndarray, predictions: Sequence[Prediction], status: Status) -> np.ndarray:
        """Returns the frame with the overlay: drawn in place, or on an enlarged copy of a small frame."""
        image = np.ascontiguousarray(legible(image))  # the flat view below must share the frame's memory
        now = time.monotonic()
        if now - self._status_time >= self.status_interval:
            self._shown_status, self._status_time = status, now
        shown = self._shown_status or status
        # Keyed on what is shown (whole percents), so a steady result is not rendered again.
        shown_predictions = tuple((p.label, round(p.score * 100)) for p in predictions)
        key = (image.shape, shown_predictions, tuple(status_lines(shown)))
        if key != self._key:
            self._render(image.shape, predictions, shown)
            self._key = key
        assert self._layout is not None
        for box in self._layout.panels():
            _darken(image, *box)
        image.reshape(-1, 3)[self._pixels] = self._colours
        return image

    def _render(self, shape: tuple[int, ...], predictions: Sequence[Prediction], status: Status) -> None:
        self._layout, layer, self._pixels = _render_layer(shape, predictions, status)
        self._colours = layer.reshape(-1, 3)[self._pixels]


def draw_overlay(image: np.ndarray, predictions: Sequence[Prediction], status: Status) -> np.ndarray:
    """Returns the frame with the overlay: drawn in place, or on an enlarged copy of a small frame.

    No window calls, so it is testable anywhere. For video, keep one OverlayRenderer instead.
    """
    return OverlayRenderer(status_interval=0).draw(image, predictions, status)


def overlay_rgba(size: tuple[int, int], predictions: Sequence[Prediction], status: Status) -> np.ndarray:
    """The same overlay alone on a transparent RGBA canvas, for a display that shows the camera itself
    (picamera2's DRM preview) and scales this canvas over it. `size` is the video's (width, height); a small
    one is enlarged like in draw_overlay. The panels are half-transparent black, which darkens the video beneath
    as draw_overlay does."""
    width, height = size
    if height < MIN_HEIGHT:
        width, height = round(width * MIN_HEIGHT / height), MIN_HEIGHT
    layout, canvas, pixels = _render_layer((height, width, 3), predictions, status)
    alpha = np.zeros((height, width), np.uint8)
    for x0, y0, x1, y1 in layout.panels():
        alpha[max(0, y0):y1, max(0, x0):x1] = 128
    alpha.reshape(-1)[pixels] = 255
    return np.dstack([cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB), alpha])
