"""FrameRing: the last few seconds of frames, JPEG-encoded, for a clip's pre-roll.

JPEG, not raw: 3 s of 640x480 at 30 fps is 83 MB raw and about 3 MB as JPEG, for about 1.5 ms of encoding a
frame on the recorder's thread (benchmarks/events.py measures both on this machine; see README).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import cv2
import numpy as np

JPEG_QUALITY = 90  # the clip is encoded again from these: keep them close to the camera's frames
MAX_FPS = 120      # the ring never holds more than seconds x this many frames


def decode(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


class FrameRing:
    """Holds (timestamp, JPEG) for the frames of the last `seconds` of stream time."""

    def __init__(self, seconds: float, quality: int = JPEG_QUALITY) -> None:
        self.seconds = seconds
        self.quality = quality
        self._frames: deque[tuple[float, bytes]] = deque(maxlen=max(1, int(seconds * MAX_FPS) + 1))
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._frames)

    def encode(self, image: np.ndarray) -> bytes | None:
        """The frame as the ring keeps it (safe on any thread)."""
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        return jpeg.tobytes() if ok else None

    def add(self, timestamp: float, image: np.ndarray) -> None:
        jpeg = self.encode(image)
        if jpeg is not None:
            self.add_jpeg(timestamp, jpeg)

    def add_jpeg(self, timestamp: float, jpeg: bytes) -> None:
        """Adds a frame already encoded by encode()."""
        if self._frames and timestamp < self._frames[-1][0]:
            self.clear()  # the clock went back (a looped file, a restarted camera): older frames do not precede
        if len(self._frames) == self._frames.maxlen:
            self.nbytes -= len(self._frames[0][1])
        self._frames.append((timestamp, jpeg))
        self.nbytes += len(self._frames[-1][1])
        while self._frames and self._frames[0][0] < timestamp - self.seconds:
            self.nbytes -= len(self._frames.popleft()[1])

    def clear(self) -> None:
        self._frames.clear()
        self.nbytes = 0

    def since(self, timestamp: float) -> Iterator[tuple[float, np.ndarray]]:
        """The frames at or after `timestamp`, decoded, oldest first."""
        for when, jpeg in list(self._frames):
            if when >= timestamp:
                yield when, decode(jpeg)

    def rate(self) -> float:
        """Frames per second over the ring (0 with fewer than two frames): for a source that does not say."""
        if len(self._frames) < 2 or self._frames[-1][0] <= self._frames[0][0]:
            return 0.0
        return (len(self._frames) - 1) / (self._frames[-1][0] - self._frames[0][0])
