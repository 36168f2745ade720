"""The events folder as the web view shows it: recent events with links, and only its own files served."""

from __future__ import annotations

import re
from pathlib import Path

from utils.events.journal import recent_events

# Names the recorder writes (an event id and a suffix): no slashes, no "..", no hidden files.
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\.(mp4|jpg)")
CONTENT_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg"}
URL_PREFIX = "events/"


def event_file(folder: Path | None, name: str) -> tuple[Path, str] | None:
    """(path, content type) of an event's clip or snapshot in `folder`, or None: unknown names, other folders
    and anything that is not a plain file in it are refused."""
    if folder is None or not FILE_NAME.fullmatch(name):
        return None
    path = folder / name
    try:
        if path.resolve().parent != folder.resolve() or not path.is_file():
            return None
    except OSError:
        return None
    return path, CONTENT_TYPES[path.suffix]


def recent_event_list(folder: Path | None, limit: int = 10) -> dict:
    """What /events.json answers: {"enabled", "events": [...]}, each event with the URLs of its existing files."""
    if folder is None:
        return {"enabled": False, "events": []}
    events = []
    for record in recent_events(folder, limit):
        item = {key: record.get(key) for key in ("id", "label", "start_utc", "end_utc", "duration", "peak_score")}
        for name in record.get("files") or []:
            if isinstance(name, str) and event_file(folder, name):
                item["clip" if name.endswith(".mp4") else "snapshot"] = URL_PREFIX + name
        events.append(item)
    return {"enabled": True, "events": events}
