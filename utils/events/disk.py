"""The events folder's size bound (--events-max-mb): the oldest clips and snapshots go first, the journal stays.

Only the app's own files count and are ever deleted: their names are event ids (20250131T120000-waving-hand-
3fa2c1.mp4), a pattern no camera or phone uses, so a folder that also holds the user's photos and videos is safe.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Container, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PARTIAL = ".partial"            # in the names of files still being written: ".<id>.partial.mp4"
# An event id (tracker.event_id: UTC time, the action's slug, 6 random hex digits), and one with a suffix.
EVENT_ID = re.compile(r"\d{8}T\d{6}-[a-z0-9-]{1,40}-[0-9a-f]{6}")
APP_FILE = re.compile(EVENT_ID.pattern + r"\.(mp4|jpg)")
OTHER_MEDIA = (".mp4", ".jpg", ".jpeg", ".png", ".mov", ".mkv", ".avi", ".heic", ".webm")


def is_app_file(name: str) -> bool:
    """True for a clip or snapshot this app wrote (by its name); the user's own files never match."""
    return APP_FILE.fullmatch(name) is not None


def warn_about_other_media(folder: Path) -> list[str]:
    """One warning when the events folder also holds media the app did not write; returns their names."""
    others = sorted(p.name for p in folder.iterdir()
                    if p.suffix.lower() in OTHER_MEDIA and not p.name.startswith(".") and not is_app_file(p.name))
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        log.warning("--events-dir %s also holds %d files the app did not write (%s): they are left alone and not "
                    "counted in --events-max-mb; a folder of its own is tidier", folder, len(others), shown)
    return others


def partial_name(name: str) -> str:
    """The temporary name a file is written under before it is renamed to `name` (hidden, same suffix)."""
    stem, dot, suffix = name.rpartition(".")
    return f".{stem}{PARTIAL}{dot}{suffix}"


def final_name(partial: str) -> str:
    """The inverse of partial_name: ".<id>.partial.mp4" -> "<id>.mp4" ("" for any other name)."""
    stem, dot, suffix = partial.rpartition(".")
    if not (partial.startswith(".") and stem.endswith(PARTIAL)):
        return ""
    return f"{stem[1:-len(PARTIAL)]}{dot}{suffix}"


def event_file_names(event_id: str, clip_suffix: str = ".mp4") -> tuple[str, str]:
    """(clip, snapshot): the names of an event's files, as the recorder writes them."""
    return event_id + clip_suffix, event_id + ".jpg"


@dataclass(frozen=True)
class Saved:
    """What became of an event's files: `written` exist in the folder, `lost` could not be written."""

    event_id: str
    written: tuple[str, ...]
    lost: tuple[str, ...]


def saved_files(folder: Path, event_id: str, names: Sequence[str], begun: Container[str] = ()) -> Saved:
    """Which of an event's files `names` exist in `folder` (written); of the others, those whose writing
    `begun` are lost, and those never begun (a clip that got no frame) are neither."""
    written = tuple(name for name in names if (folder / name).is_file())
    return Saved(event_id, written, tuple(name for name in names if name not in written and name in begun))


def enforce_budget(folder: Path, max_bytes: float) -> list[str]:
    """Deletes whole events (clip and snapshot), oldest first, until their files fit in `max_bytes`; the newest
    event is always kept, and files the app did not write are neither counted nor touched. Returns the names
    deleted."""
    groups: dict[str, list[tuple[float, int, Path]]] = {}
    for path in folder.iterdir():
        if is_app_file(path.name) and path.is_file():
            try:
                stat = path.stat()
            except OSError:
                continue  # deleted meanwhile
            groups.setdefault(path.stem, []).append((stat.st_mtime, stat.st_size, path))
    total = sum(size for files in groups.values() for _, size, _ in files)
    deleted: list[str] = []
    for stem in sorted(groups, key=lambda s: min(m for m, _, _ in groups[s]))[:-1]:
        if total <= max_bytes:
            break
        for _, size, path in groups[stem]:
            try:
                path.unlink()
            except OSError as e:
                log.warning("cannot delete %s to keep --events-max-mb: %s", path, e.strerror or e)
                continue
            total -= size
            deleted.append(path.name)
    if deleted:
        log.info("deleted the oldest event files (%s) to stay within --events-max-mb", ", ".join(deleted))
    return deleted
