"""Draws the top-k labels with score bars, the rates and the machine's state onto a BGR frame."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from utils.config import Prediction, Status

FONT = cv2.FONT_HERSHEY_DUPLEX
TEXT = (255, 255, 255)
BAR = (0, 190, 255)       # amber: the top-1 bar
BAR_OTHER = (150, 150, 150)
MUTED = (200, 200, 200)
# Sizes are for a 480-line frame and scale with the frame, so a 1080p window reads the same.
BASE_HEIGHT = 480
LABEL_SCALE = 0.75
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


def draw_overlay(image: np.ndarray, predictions: Sequence[Prediction], status: Status) -> np.ndarray:
    """Draws in place and returns the image; no window calls, so it is testable anywhere."""
    height, width = image.shape[:2]
    unit = height / BASE_HEIGHT
    thickness = max(1, round(2 * unit))
    margin = max(4, round(MARGIN * unit))
    max_text = width - 2 * margin

    # Predictions: one row each, a bar as long as the score under the text.
    row = round(34 * unit)
    panel_bottom = margin + row * max(1, len(predictions)) + margin // 2
    _darken(image, 0, 0, width, panel_bottom)
    for i, prediction in enumerate(predictions):
        top = margin + i * row
        bar_width = int(max_text * min(1.0, max(0.0, prediction.score)))
        cv2.rectangle(image, (margin, top + row - round(7 * unit)), (margin + bar_width, top + row - round(3 * unit)),
                      BAR if i == 0 else BAR_OTHER, cv2.FILLED)
        text, scale = _fit(f"{prediction.label}  {prediction.score:.2f}", LABEL_SCALE * unit, thickness, max_text)
        cv2.putText(image, text, (margin, top + row - round(12 * unit)), FONT, scale, TEXT, thickness, cv2.LINE_AA)
    if not predictions:
        cv2.putText(image, "waiting for the first result...", (margin, margin + row - round(12 * unit)),
                    FONT, LABEL_SCALE * unit * 0.8, MUTED, thickness, cv2.LINE_AA)

    # Rates and the machine along the bottom.
    small = max(1, round(unit))
    line_height = round(22 * unit)
    lines = status_lines(status)
    top = height - margin - line_height * len(lines)
    _darken(image, 0, top - margin // 2, width, height)
    for i, line in enumerate(lines):
        text, scale = _fit(line, STATUS_SCALE * unit, small, max_text)
        cv2.putText(image, text, (margin, top + (i + 1) * line_height - round(6 * unit)), FONT, scale, TEXT,
                    small, cv2.LINE_AA)
    return image
