"""The events folder's size bound (--events-max-mb): the oldest clips and snapshots go first, the journal stays."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

EVENT_FILES = (".mp4", ".jpg")  # what an event leaves besides its lines in events.jsonl
PARTIAL = ".partial"            # in the names of files still being written: ".<id>.partial.mp4"


def partial_name(name: str) -> str:
    """The temporary name a file is written under before it is renamed to `name` (hidden, same suffix)."""
    stem, dot, suffix = name.rpartition(".")
    return f".{stem}{PARTIAL}{dot}{suffix}"


def remove_partials(folder: Path) -> None:
    """Deletes files left half-written by a run that was killed (SIGKILL, power loss)."""
    for path in folder.glob(f".*{PARTIAL}.*"):
        path.unlink(missing_ok=True)
        log.info("removed %s, left unfinished by an earlier run", path.name)


def enforce_budget(folder: Path, max_bytes: float) -> list[str]:
    """Deletes whole events (clip and snapshot), oldest first, until their files fit in `max_bytes`; the newest
    event is always kept. Returns the names deleted."""
    groups: dict[str, list[tuple[float, int, Path]]] = {}
    for path in folder.iterdir():
        if path.suffix in EVENT_FILES and not path.name.startswith(".") and path.is_file():
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
