"""Chooses where to show the video when --display is auto."""

from __future__ import annotations

import os

from utils.config import Config


def choose_display(config: Config, environ: dict[str, str] | None = None) -> tuple[str, str]:
    """Returns (display, reason) for the startup line."""
    env = os.environ if environ is None else environ
    if config.display != "auto":
        return config.display, "--display " + config.display
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return "window", "a desktop session is reachable (DISPLAY/WAYLAND_DISPLAY is set)"
    return "none", "no DISPLAY or WAYLAND_DISPLAY"
