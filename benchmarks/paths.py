"""The files the measurements use: the project's models when downloaded, else ../shared beside the checkout."""

from __future__ import annotations

from pathlib import Path

from utils.paths import DEFAULT_LABELS, DEFAULT_MODEL, PROJECT_DIR

SHARED = PROJECT_DIR.parent / "shared"
MEDIA = SHARED / "media"
DEFAULT_CLIP = MEDIA / "carving_ice.mp4"


def model_file(default: Path) -> Path:
    """models/<name> in this checkout, else ../shared/models/<name> (a dev checkout)."""
    shared = SHARED / "models" / default.name
    return default if default.is_file() or not shared.is_file() else shared


MODEL = model_file(DEFAULT_MODEL)
LABELS = model_file(DEFAULT_LABELS)
