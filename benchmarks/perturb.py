"""What a user's camera does to a running stream that the benchmark clips never show: the light changes, the camera
is bumped, the picture freezes. Each is applied, from frame `at` on, to frames the benchmarks already make (before
any JPEG/MJPG step, so the app sees them as a camera would deliver them).

- light-dim, light-bright: a step, the lights dimmed to half, or brightened by 1.6 (clipped at white);
- light-ramp: auto-exposure or a cloud: the brightness falls to half over 3 s, then stays there;
- cut: the camera bumped: from then on an 85 % crop of the picture, 10 % of its width to the right, resized back
  (the same scene, moved and slightly closer);
- freeze: the picture stops for 10 s (a stalled camera repeats its last frame), then the footage goes on from
  where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np

PERTURBATIONS = ("light-dim", "light-bright", "light-ramp", "cut", "freeze")
DIM, BRIGHT = 0.5, 1.6
RAMP_SECONDS = 3.0
CROP, SHIFT = 0.85, 0.10
FREEZE_SECONDS = 10.0



def named_perturbations(text: str, allowed: Sequence[str] = PERTURBATIONS) -> list[str]:
    """The perturbations a --perturb value names (comma-separated, or "all" of `allowed`); ValueError with the
    sentence for the command line when one is not among `allowed`."""
    names = list(allowed) if text == "all" else text.split(",")
    if unknown := [name for name in names if name not in allowed]:
        raise ValueError(f"--perturb: unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return names

def scaled(image: np.ndarray, gain: float) -> np.ndarray:
    """The image's pixel values times `gain`, clipped to 0-255 (a light change, as an 8-bit camera clips it)."""
    if gain == 1.0:
        return image
    return np.clip(image.astype(np.float32) * gain + 0.5, 0, 255).astype(np.uint8)


def light_gain(name: str, seconds: float) -> float:
    """The brightness `seconds` after a light change starts (negative: before it)."""
    if seconds < 0:
        return 1.0
    if name == "light-dim":
        return DIM
    if name == "light-bright":
        return BRIGHT
    if name == "light-ramp":
        return 1.0 + (DIM - 1.0) * min(1.0, seconds / RAMP_SECONDS)
    raise ValueError(f"{name!r} is not a light change")


def bumped(image: np.ndarray, crop: float = CROP, shift: float = SHIFT) -> np.ndarray:
    """The picture after the camera moved: a `crop` of it, its left edge `shift` of the width right of the centred
    crop's (kept inside the picture), resized back to the image's size."""
    height, width = image.shape[:2]
    w, h = round(width * crop), round(height * crop)
    left = min(width - w, (width - w) // 2 + round(width * shift))
    top = (height - h) // 2
    return cv2.resize(image[top:top + h, left:left + w], (width, height), interpolation=cv2.INTER_LINEAR)


def perturbed(loop: Sequence[np.ndarray], count: int, at: int, name: str | None, fps: float,
              moved: Sequence[np.ndarray] | None = None) -> Iterator[np.ndarray]:
    """`count` frames of `loop` played over and over at `fps`, with the perturbation `name` from frame `at` on
    (None: none). `moved`: the loop's frames as bumped() makes them (for "cut"), when the caller made them at a
    better resolution; else they are made from `loop`."""
    if name is not None and name not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {name!r}; choose from {', '.join(PERTURBATIONS)}")
    if name == "cut" and moved is None:
        moved = [bumped(frame) for frame in loop]
    frozen = round(FREEZE_SECONDS * fps)
    for i in range(count):
        if name is None or i < at:
            yield loop[i % len(loop)]
        elif name == "cut":
            assert moved is not None
            yield moved[i % len(moved)]
        elif name == "freeze":  # the last frame before `at` held, then the footage from where it stopped
            yield loop[(at - 1 if i < at + frozen else i - frozen) % len(loop)]
        else:
            yield scaled(loop[i % len(loop)], light_gain(name, (i - at) / fps))
