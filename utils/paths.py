"""Where the project's own files are: defaults resolve against the project folder, not the working directory.

Standard library only: the model downloader imports it before the venv exists.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_DIR / "models"
DEFAULT_MODEL = MODELS_DIR / "movinet_a0_stream_int8.tflite"
DEFAULT_LABELS = MODELS_DIR / "kinetics600_labels.txt"
DEFAULT_EVENTS_DIR = PROJECT_DIR / "events"  # events.jsonl, clips and snapshots
DEFAULT_ACTIONS_DIR = PROJECT_DIR / "actions"  # the actions the user taught (--teach)


def shown(path: Path, base: Path | None = None) -> str:
    """A path as the user finds it from the folder the app runs in (`base`, default the working directory):
    below it, relative ("models/x.tflite" in the project folder); elsewhere, as given (the project's own files
    in full, so that "actions/x.npz" never points to a folder of that name where the user is)."""
    try:
        return str(Path(path).relative_to(Path.cwd() if base is None else base))
    except (ValueError, OSError):  # OSError: the working directory was removed
        return str(path)


def where_looked(path: Path) -> str:
    """For a relative `path` that is not there: the folder it was looked for in, and the project's file of that
    name when there is one (the app run from another folder with a path from the project folder); else ""."""
    try:
        folder = Path.cwd()
    except OSError:  # the working directory was removed
        return ""
    if Path(path).is_absolute():
        return ""
    in_project = PROJECT_DIR / path
    found = f"; it is in the project folder: give {in_project}" if in_project.exists() else ""
    return f" (looked for in {folder}){found}"


def folder_write_problem(folder: Path) -> str | None:
    """Why files cannot be written in `folder` (made where missing), or None; found without creating anything,
    so that a run can refuse before it starts and leave nothing behind."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return os.strerror(errno.ENOTDIR)
    if not os.access(existing, os.W_OK | os.X_OK):
        return os.strerror(errno.EROFS if os.statvfs(existing).f_flag & os.ST_RDONLY else errno.EACCES)
    return None
