"""Area: a rectangle of the picture in fractions of its width and height, for --crop and --motion-mask.

Fractions (0..1) rather than pixels, so an area stays on the same part of the scene when the camera's
resolution changes, and the web view, the window and the small motion image all use it as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy only for the hints: the config imports this module, and the downloader the config
    import numpy as np

EXAMPLE = "0.5,0,0.5,0.4 is the right half's top 40 %"


@dataclass(frozen=True)
class Area:
    """x, y: the top-left corner; w, h: the size; all in fractions of the picture's width and height."""

    x: float
    y: float
    w: float
    h: float

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) on a picture of width x height, at least one pixel wide and high."""
        x0, y0 = min(width - 1, round(self.x * width)), min(height - 1, round(self.y * height))
        x1, y1 = max(x0 + 1, round((self.x + self.w) * width)), max(y0 + 1, round((self.y + self.h) * height))
        return x0, y0, min(width, x1), min(height, y1)

    def of(self, image: np.ndarray) -> np.ndarray:
        """The part of the image inside the area (a view, not a copy)."""
        x0, y0, x1, y1 = self.pixels(image.shape[1], image.shape[0])
        return image[y0:y1, x0:x1]

    def within(self, outer: Area) -> Area | None:
        """This area in the fractions of `outer` (e.g. a mask inside the crop), or None when they do not meet."""
        x0, y0 = max(self.x, outer.x), max(self.y, outer.y)
        x1, y1 = min(self.x + self.w, outer.x + outer.w), min(self.y + self.h, outer.y + outer.h)
        if x1 <= x0 or y1 <= y0:
            return None
        return Area((x0 - outer.x) / outer.w, (y0 - outer.y) / outer.h, (x1 - x0) / outer.w, (y1 - y0) / outer.h)

    def __str__(self) -> str:
        return f"{self.x:g},{self.y:g},{self.w:g},{self.h:g}"


WHOLE = Area(0.0, 0.0, 1.0, 1.0)


def area_numbers(text: str) -> list[str]:
    """The numbers as an area flag gives them ("0,0,0.2,0.2": x,y,w,h, four per area), read into areas by
    parse_areas once all are given; ValueError for text that holds none."""
    if not text.strip():
        raise ValueError(f"takes x,y,w,h (fractions of the picture from 0 to 1; {EXAMPLE})")
    return [part.strip() for part in text.split(",")]


def parse_crop(text: str) -> Area:
    """--crop's one area from its text, x,y,w,h; ValueError with one line for the user."""
    parts = area_numbers(text)
    if len(parts) != 4:
        raise ValueError(f"--crop takes one area, x,y,w,h (four fractions of the picture from 0 to 1), got {text}")
    return parse_areas("--crop", parts)[0]


def parse_areas(flag: str, parts: Sequence[str]) -> tuple[Area, ...]:
    """Areas from numbers as the flag gives them (x,y,w,h, four per area); ValueError with one line for the user."""
    if len(parts) % 4 or not parts:
        raise ValueError(f"{flag} takes x,y,w,h (four numbers per area, fractions of the picture from 0 to 1; "
                         f"{EXAMPLE}), got {','.join(parts) or 'nothing'}")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise ValueError(f"{flag} takes numbers (x,y,w,h as fractions of the picture from 0 to 1), "
                         f"got {','.join(parts)}") from None
    areas = tuple(Area(*numbers[i:i + 4]) for i in range(0, len(numbers), 4))
    for area in areas:
        if not (0 <= area.x < 1 and 0 <= area.y < 1 and 0 < area.w <= 1 and 0 < area.h <= 1
                and area.x + area.w <= 1 + 1e-9 and area.y + area.h <= 1 + 1e-9):
            raise ValueError(f"{flag} {area} is not inside the picture: x,y,w,h are fractions of its width and "
                             f"height (x and y from 0, w and h above 0, x+w and y+h at most 1; {EXAMPLE})")
    return areas
