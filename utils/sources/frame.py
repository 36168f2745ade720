"""Frame and FrameSource: what every source delivers, and the interface the pipeline reads through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from utils.resize import shrink
from utils.sources.health import SourceHealth


@dataclass
class Frame:
    """One captured frame. `image` is BGR (what OpenCV draws and shows); timestamps are seconds."""

    image: np.ndarray
    timestamp: float
    index: int
    # A small I420 (YUV420) frame for the model, from picamera2: (height * 3/2, stride) bytes, where the
    # stride may exceed `lores_width` (the Pi 5 pads YUV420 rows to 128 bytes).
    lores: np.ndarray | None = None
    lores_width: int | None = None  # None: the rows are unpadded
    # Whether the sampler picked this frame, decided where it was read (see utils/sources/demand.py);
    # None: the pipeline's sampler decides.
    due: bool | None = None

    def model_rgb(self, size: tuple[int, int]) -> np.ndarray:
        """The frame as RGB for the model, shrunk before the colour conversion so little work is done."""
        if self.lores is not None:
            # Padded I420 is I420 of the stride's width: the U and V rows are half a stride long, as
            # OpenCV expects. So convert it whole and crop the padding off (what picamera2 advises).
            return cv2.cvtColor(self.lores, cv2.COLOR_YUV2RGB_I420)[:, : self.lores_width]
        return cv2.cvtColor(shrink(self.image, size), cv2.COLOR_BGR2RGB)


class FrameSource(Protocol):
    description: str
    nominal_fps: float  # 0 when unknown

    def read(self) -> Frame | SourceHealth | None:
        """The next frame, or None at the end of a file.

        A source that waits for its frames on another thread returns its health instead when none came in a
        short while (a stall, an outage), so the caller can show that and see a stop request.
        """

    def close(self) -> None: ...


class ClosingSource:
    """Context-manager plumbing shared by the sources: `with` closes them."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError
