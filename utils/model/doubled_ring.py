"""A ring kept twice over: row i and row i + capacity hold the same value, so the newest k rows are always one
slice of it (a view, no copy), however the ring has wrapped. For what runs on every classified frame."""

from __future__ import annotations

import numpy as np


def newest(ring: np.ndarray, written: int, k: int) -> np.ndarray:
    """The last k of the `written` rows put into `ring` (fewer when fewer were written), oldest first: a view."""
    capacity = len(ring) // 2
    k = min(k, written, capacity)
    end = (written - 1) % capacity + capacity + 1  # one past the newest, in the second copy
    return ring[end - k:end]
