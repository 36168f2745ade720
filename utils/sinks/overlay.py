"""Draws the top-k labels with score bars, the rates and the machine's state onto a BGR frame."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import cv2
import numpy as np

from utils.areas import Area
from utils.results import Prediction
from utils.sinks.base import Status, Update, rate_texts

Colour = tuple[int, int, int]  # BGR, as OpenCV draws

FONT = cv2.FONT_HERSHEY_DUPLEX
TEXT = (255, 255, 255)
BAR = (0, 190, 255)       # amber: the top-1 bar
BAR_OTHER = (170, 170, 170)
TRACK = (70, 70, 70)      # the empty part of a bar, so its length reads as a share of the whole
MUTED = (200, 200, 200)
MASK = (60, 60, 230)      # red: --motion-mask, where nothing counts as motion (also dimmed)
CROP = (90, 220, 90)      # green: --crop, the part that is classified
# Sizes are for a 640x480 frame and scale with the frame, so a 1080p window reads the same.
BASE_WIDTH, BASE_HEIGHT = 640, 480
# Smaller frames are enlarged to this many lines before drawing: text under ~12 px cannot be read.
MIN_HEIGHT = 480
# ... but never wider than this: a 16384x8 video would otherwise become a 983040x480 frame (1.4 GB).
MAX_ENLARGED_WIDTH = 3840
WAITING = "waiting for the first result..."
TOP_SCALE = 0.9           # the top-1 label, readable from across a room
LABEL_SCALE = 0.7
STATUS_SCALE = 0.5
MARGIN = 10


@lru_cache(maxsize=512)  # a label is fitted once, not for every result
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
    rates = rate_texts(status, aligned=True)
    lines = ["   ".join(rates) if rates else "measuring the rates..."]
    machine = [f"{status.model}", f"{status.threads} threads"]
    if status.cpu_temp_c is not None:
        machine.append(f"{status.cpu_temp_c:.0f} C")
    if status.cpu_percent is not None:
        machine.append(f"CPU {status.cpu_percent:.0f}%")
    lines.append("   ".join(m for m in machine if m))
    return lines


def idle_text(status: Status) -> str:
    """What stands in for the results while there are none: the camera's outage, or that they are coming."""
    return status.source.describe() or WAITING


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
        """The darkened bands (x0, y0, x1, y1): predictions at the top, rates at the bottom (if shown)."""
        half = self.margin // 2
        top = (0, 0, self.width, min(self.height, self.row_top(self.rows) + half))
        if not self.status_rows:  # the compact overlay
            return [top]
        return [top, (0, max(0, self.status_top - half), self.width, self.height)]


def legible(image: np.ndarray) -> np.ndarray:
    """The frame itself, or an enlarged copy when it is too small for readable text (e.g. a 172x172 clip)."""
    height, width = image.shape[:2]
    factor = min(MIN_HEIGHT / height, MAX_ENLARGED_WIDTH / width)
    if factor <= 1:
        return image
    return cv2.resize(image, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_LINEAR)


@dataclass(frozen=True, eq=False)
class _Sprite:
    """A text rendered once by cv2.putText on black and cropped to its ink.

    (`left`, `top`) is the crop's top-left corner relative to putText's origin, so a sprite lands exactly where
    putText would have drawn the text.
    """

    patch: np.ndarray  # BGR
    mask: np.ndarray   # uint8, OpenCV's mask type: 1 where putText drew
    left: int
    top: int

    @property
    def width(self) -> int:
        return int(self.patch.shape[1])

    @cached_property
    def rgba(self) -> np.ndarray:
        """The patch for an RGBA canvas: RGB and opaque (only the masked pixels are copied)."""
        return np.dstack([self.patch[..., ::-1], np.full(self.mask.shape, 255, np.uint8)])


# A few hundred small sprites: the labels, 101 scores per row size, the status lines. Status lines change at
# most every status_interval; least-recently-used eviction keeps the labels and scores that keep coming back.
@lru_cache(maxsize=512)
def _sprite(text: str, scale: float, thickness: int, colour: Colour) -> _Sprite:
    (width, height), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    # Generous padding: strokes, anti-aliasing and glyphs such as "(" reach past getTextSize's box. It is
    # cropped away below, so it costs nothing per frame.
    pad = height // 2 + 2 * thickness + 2
    canvas = np.zeros((height + baseline + 2 * pad, width + 2 * pad, 3), np.uint8)
    cv2.putText(canvas, text, (pad, pad + height), FONT, scale, colour, thickness, cv2.LINE_AA)
    # OR of the channels: numpy's any(axis=2) over a length-3 axis is ~40x slower.
    drawn = (canvas[..., 0] | canvas[..., 1] | canvas[..., 2]) != 0
    rows, cols = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
    if not rows.size:  # blank text
        return _Sprite(np.zeros((0, 0, 3), np.uint8), np.zeros((0, 0), np.uint8), 0, 0)
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    patch, mask = canvas[y0:y1, x0:x1].copy(), drawn[y0:y1, x0:x1].astype(np.uint8)
    patch.flags.writeable = mask.flags.writeable = False  # shared by every frame and renderer
    return _Sprite(patch, mask, int(x0) - pad, int(y0) - pad - height)


def _paste(image: np.ndarray, patch: np.ndarray, mask: np.ndarray, x: int, y: int) -> None:
    """Copies a sprite's drawn pixels with its top-left corner at (x, y), clipped to the image.

    Clipped by hand: a negative start would wrap around to the other side of the image.
    """
    height, width = image.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + patch.shape[1], width), min(y + patch.shape[0], height)
    if x0 >= x1 or y0 >= y1:
        return
    rows, cols = slice(y0 - y, y1 - y), slice(x0 - x, x1 - x)
    # OpenCV's masked copy writes into the view of the frame, ~50x faster than np.copyto(where=mask[..., None]).
    cv2.copyTo(patch[rows, cols], mask[rows, cols], image[y0:y1, x0:x1])


@dataclass(frozen=True)
class _Scene:
    """What the overlay shows on a frame of one size: built when that changes, painted on every frame."""

    layout: _Layout
    bars: tuple[tuple[tuple[int, int], tuple[int, int], Colour], ...]  # filled rectangles, drawn in order
    sprites: tuple[tuple[_Sprite, int, int], ...]                       # each with its top-left corner

    def paint(self, image: np.ndarray) -> None:
        """Draws in place on a BGR frame, or on an RGBA canvas (4 channels) that is laid over the video."""
        rgba = image.shape[2] == 4
        for x0, y0, x1, y1 in self.layout.panels():
            if rgba:
                image[y0:y1, x0:x1, 3] = 128  # half-transparent black darkens the video as _darken does
            else:
                _darken(image, x0, y0, x1, y1)
        for top_left, bottom_right, colour in self.bars:  # a few microseconds each: not worth caching
            cv2.rectangle(image, top_left, bottom_right, (*colour[::-1], 255) if rgba else colour, cv2.FILLED)
        for sprite, x, y in self.sprites:
            _paste(image, sprite.rgba if rgba else sprite.patch, sprite.mask, x, y)


def _shown(predictions: Sequence[Prediction]) -> tuple[tuple[str, int], ...]:
    """The predictions as shown: labels and whole percents, so a steady result is not laid out again."""
    return tuple((f"{p.label} (taught)" if p.taught else p.label, min(100, max(0, round(p.score * 100))))
                 for p in predictions)


def _build_scene(shape: tuple[int, int], predictions: Sequence[tuple[str, int]], lines: Sequence[str],
                 idle: str = WAITING, notice: str = "") -> _Scene:
    """Lays out the (label, percent) rows and the status lines on a frame of this (height, width); `idle` is
    shown in place of the rows while there are none; a notice (the teaching countdown) takes the first row,
    above the predictions."""
    first = 1 if notice else 0  # the row of the first prediction
    layout = _Layout(shape[1], shape[0], max(1, first + len(predictions)), len(lines))
    margin, px = layout.margin, layout.px
    track = layout.width - 2 * margin  # the bars and the text share this width
    right = margin + track             # the bars' last column
    bars: list[tuple[tuple[int, int], tuple[int, int], Colour]] = []
    sprites: list[tuple[_Sprite, int, int]] = []

    def text_at(text: str, scale: float, thickness: int, colour: Colour, x: int, y: int) -> None:
        """Where putText would draw it: (x, y) is the start of the baseline."""
        sprite = _sprite(text, scale, thickness, colour)
        sprites.append((sprite, x + sprite.left, y + sprite.top))

    for i, (label, percent) in enumerate(predictions):
        row = first + i
        bottom = layout.row_top(row + 1)
        bar_top, bar_bottom = bottom - px(9), bottom - px(3)
        bars.append(((margin, bar_top), (right, bar_bottom), TRACK))
        filled = round(track * percent / 100)
        if filled:
            bars.append(((margin, bar_top), (margin + filled, bar_bottom), BAR if i == 0 else BAR_OTHER))
        thickness, row_scale = px(2), (TOP_SCALE if row == 0 else LABEL_SCALE) * layout.unit
        baseline = bar_top - px(6)
        # The score ends where the bar's track ends, so the scores line up. The label gets the room "100%"
        # leaves, the same for every score: its sprite is reused and it never runs into the score.
        score = _sprite(f"{percent}%", row_scale, thickness, TEXT)
        sprites.append((score, right + 1 - score.width, baseline + score.top))
        room = track - cv2.getTextSize("100%", FONT, row_scale, thickness)[0][0] - px(12)
        text, scale = _fit(label, row_scale, thickness, room)
        text_at(text, scale, thickness, TEXT, margin, baseline)
    if notice:
        text, scale = _fit(notice, TOP_SCALE * layout.unit, px(2), track)
        text_at(text, scale, px(2), BAR, margin, layout.row_top(1) - px(12))
    elif not predictions:
        text, scale = _fit(idle, LABEL_SCALE * layout.unit, px(1), track)
        text_at(text, scale, px(1), MUTED, margin, layout.row_top(1) - px(12))

    for i, line in enumerate(lines):
        text, scale = _fit(line, STATUS_SCALE * layout.unit, px(1), track)
        text_at(text, scale, px(1), TEXT, margin, layout.status_top + (i + 1) * layout.status_line - px(6))
    return _Scene(layout, tuple(bars), tuple(sprites))


def draw_areas(image: np.ndarray, crop: Area | None, mask: Sequence[Area]) -> None:
    """Outlines --crop and dims and outlines each --motion-mask area, labelled, so they can be set by eye;
    in place, on a BGR frame or an RGBA canvas."""
    if crop is None and not mask:
        return
    height, width = image.shape[:2]
    layout = _Layout(width, height, 1, 0)
    rgba = image.shape[2] == 4
    boxes = [(area, MASK, "no motion") for area in mask] + ([(crop, CROP, "classified")] if crop else [])
    for area, colour, name in boxes:
        x0, y0, x1, y1 = area.pixels(width, height)
        if colour == MASK:
            if rgba:
                image[y0:y1, x0:x1, 3] = np.maximum(image[y0:y1, x0:x1, 3], 96)
            else:
                _darken(image, x0, y0, x1, y1)
        cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), (*colour[::-1], 255) if rgba else colour, layout.px(2))
        sprite = _sprite(name, STATUS_SCALE * layout.unit, layout.px(1), colour)
        _paste(image, sprite.rgba if rgba else sprite.patch, sprite.mask, x0 + layout.px(6), y0 + layout.px(6))


# How much of the frame the overlay covers: all rows and the status lines (about 40 % of a 640x480 frame with
# 3 results), the top-1 row alone (about 12 %), or nothing.
FULL, COMPACT, OFF = "full", "compact", "off"
MODES = (FULL, COMPACT, OFF)


class OverlayRenderer:
    """Puts the overlay on every frame for the price of two darkened bands, a few rectangles and small copies.

    The text comes from cached sprites (cv2.putText with anti-aliasing costs about 0.3 ms a line, too much for
    every result on a Pi), so a new result only looks up its labels and scores. The rates are shown anew at
    most every `status_interval` seconds, as a human cannot read faster.
    """

    def __init__(self, status_interval: float = 0.5, mode: str = FULL) -> None:
        self.status_interval = status_interval
        self.mode = mode
        self._shown_status: Status | None = None
        self._status_time = -float("inf")
        self._key: tuple | None = None
        self._scene: _Scene | None = None

    def draw(self, image: np.ndarray, predictions: Sequence[Prediction], status: Status) -> np.ndarray:
        """Returns the frame with the overlay: drawn in place, or on an enlarged copy of a small frame."""
        image = np.ascontiguousarray(legible(image))  # OpenCV draws in place only on contiguous memory
        now = time.monotonic()
        if now - self._status_time >= self.status_interval:
            self._shown_status, self._status_time = status, now
        if self.mode == OFF:
            return image
        height, width = image.shape[:2]
        lines = tuple(status_lines(self._shown_status or status)) if self.mode == FULL else ()
        shown = _shown(predictions if self.mode == FULL else predictions[:1])
        key = ((height, width), shown, lines, idle_text(status), status.notice)
        if self._scene is None or key != self._key:
            self._scene, self._key = _build_scene(*key), key
        draw_areas(image, status.crop, status.mask)  # under the text panels, which stay readable
        self._scene.paint(image)
        return image


    def next_mode(self) -> str:
        """Full, compact, off, and round again (the window's o key); returns the new mode."""
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        return self.mode


BANNER_GAP = "    "  # between the hints of one banner line: where a line too long for the frame is broken


def banner_lines(lines: Sequence[str], layout: _Layout) -> list[tuple[str, float]]:
    """The banner's lines as drawn (text, scale) on a frame of this layout: a line too long even at the
    smallest size is broken between its hints rather than cut, so no key's hint loses its end."""
    def fit(text: str) -> tuple[str, float]:
        return _fit(text, LABEL_SCALE * layout.unit, layout.px(1), layout.width - 2 * layout.margin)

    drawn = []
    for line in lines:
        parts = line.split(BANNER_GAP)
        while parts:
            taken = len(parts)  # the most parts that fit whole (one part alone is cut if it must be)
            while taken > 1 and fit(BANNER_GAP.join(parts[:taken]))[0] != BANNER_GAP.join(parts[:taken]):
                taken -= 1
            drawn.append(fit(BANNER_GAP.join(parts[:taken])))
            parts = parts[taken:]
    return drawn


def draw_banner(image: np.ndarray, lines: Sequence[str]) -> None:
    """Draws lines of text on a darkened band across the lower middle of the frame (in place): the window's
    key help and what a key did, clear of the overlay's panels."""
    if not lines:
        return
    layout = _Layout(image.shape[1], image.shape[0], 1, 0)
    margin, px = layout.margin, layout.px
    fitted = banner_lines(lines, layout)
    step = px(28)
    bottom = layout.height - margin - px(22) * 2 - margin  # above the status lines
    top = max(0, bottom - step * len(fitted) - margin)
    _darken(image, 0, top, layout.width, bottom)
    for i, (text, scale) in enumerate(fitted):
        sprite = _sprite(text, scale, px(1), TEXT)
        _paste(image, sprite.patch, sprite.mask, margin + sprite.left, top + margin // 2 + (i + 1) * step - px(8)
               + sprite.top)


class Annotator:
    """Draws the overlay on an update's frame once, however many sinks show it (they share one Annotator)."""

    def __init__(self, renderer: OverlayRenderer | None = None) -> None:
        self.renderer = renderer or OverlayRenderer()
        self._update: Update | None = None
        self._image: np.ndarray | None = None

    def draw(self, update: Update) -> np.ndarray:
        if update is not self._update or self._image is None:
            predictions = update.result.predictions if update.result else ()
            self._image = self.renderer.draw(update.frame.image, predictions, update.status)
            self._update = update
        return self._image


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
    canvas = np.zeros((height, width, 4), np.uint8)
    draw_areas(canvas, status.crop, status.mask)
    _build_scene((height, width), _shown(predictions), status_lines(status), idle_text(status),
                 status.notice).paint(canvas)
    return canvas
