"""Generated frames with exact timestamps: a camera stand-in that needs no device."""

from __future__ import annotations

import numpy as np

from utils.sources.frame import ClosingSource, Frame


class SyntheticSource(ClosingSource):
    """Generated frames with exact timestamps: a camera stand-in that needs no device."""

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0, frames: int = 90) -> None:
        self.width, self.height, self.nominal_fps, self.frames = width, height, fps, frames
        self.description = f"synthetic {width}x{height} at {fps:g} fps, {frames} frames"
        self._index = 0
        self.closed = False

    def read(self) -> Frame | None:
        if self.closed or self._index >= self.frames:
            return None
        # A bright square sweeping over a gradient: cheap, and different every frame.
        image = np.empty((self.height, self.width, 3), np.uint8)
        image[:] = np.linspace(0, 255, self.width, dtype=np.uint8)[None, :, None]
        side = max(8, self.height // 4)
        x = (self._index * 7) % max(1, self.width - side)
        image[self.height // 3: self.height // 3 + side, x: x + side] = (0, 200, 255)
        frame = Frame(image, self._index / self.nominal_fps, self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        self.closed = True
