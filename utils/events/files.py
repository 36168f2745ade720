"""The events folder as the web view shows it: pages of events with links, one event, deleting one, and only
the folder's own files served."""

from __future__ import annotations

import math
import re
import threading
from datetime import datetime, timezone
from pathlib import Path

from utils.events.event import utc_text
from utils.events.journal import DELETED, JOURNAL_NAME, append_record, merge_records

# Names the recorder writes (an event id and a suffix): no slashes, no "..", no hidden files.
EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
FILE_NAME = re.compile(EVENT_ID.pattern + r"\.(mp4|jpg)")
CONTENT_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg"}
URL_PREFIX = "events/"
PER_PAGE = 10
MAX_PER_PAGE = 100
GOING_ON, ENDED, UNFINISHED = "going on", "ended", "unfinished"  # an event's state, as the pages show it


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


class EventFolder:
    """The events of one folder's journal, read whole and kept until the journal changes (a Pi lists a
    10,000-event journal once, not at every page)."""

    def __init__(self, folder: Path, since: datetime | None = None) -> None:
        self.folder = folder
        self.since = since or datetime.now(timezone.utc)  # events started before it belong to an earlier run
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._events: list[dict] = []

    def events(self) -> list[dict]:
        """Every event not deleted, newest first, each with its URLs, state and local day."""
        path = self.folder / JOURNAL_NAME
        with self._lock:
            try:
                stat = path.stat()
                key = (stat.st_size, stat.st_mtime_ns)
                if key != self._key:
                    self._events = self._items(merge_records(path.read_bytes().splitlines()))
                    self._key = key
            except OSError:
                self._events, self._key = [], None
            return self._events

    def _items(self, records: list[dict]) -> list[dict]:
        items = []
        live_seen = False
        for record in records:
            if record.get("type") == DELETED:
                continue
            item = {key: record.get(key) for key in ("id", "label", "start_utc", "end_utc", "duration",
                                                     "peak_score", "reason", "source")}
            start = parse_utc(record.get("start_utc"))
            item["day"] = start.astimezone().date().isoformat() if start else None  # this computer's local day
            if record.get("end_utc") is not None:
                item["state"] = ENDED
            elif not live_seen and start is not None and start >= self.since:
                item["state"] = GOING_ON  # the newest open event of this run; older open ones lost their end
                live_seen = True
            else:
                item["state"] = UNFINISHED
            for name in record.get("files") or []:
                if isinstance(name, str) and event_file(self.folder, name):
                    item["clip" if name.endswith(".mp4") else "snapshot"] = URL_PREFIX + name
            items.append(item)
        return items

    def page(self, label: str = "", day: str = "", page: int = 1, per_page: int = PER_PAGE) -> dict:
        """What /events.json answers: one page of the events of `label` on `day` (both optional), with the
        labels and days there are to choose from."""
        events = self.events()
        chosen = [e for e in events if (not label or e["label"] == label) and (not day or e["day"] == day)]
        per_page = max(1, min(MAX_PER_PAGE, per_page))
        pages = max(1, math.ceil(len(chosen) / per_page))
        page = max(1, min(pages, page))
        return {"enabled": True, "events": chosen[(page - 1) * per_page:page * per_page], "total": len(chosen),
                "page": page, "pages": pages, "per_page": per_page,
                "labels": sorted({e["label"] for e in events if isinstance(e["label"], str)}),
                "days": sorted({e["day"] for e in events if e["day"]}, reverse=True)}

    def find(self, event_id: str) -> dict | None:
        return next((e for e in self.events() if e["id"] == event_id), None) if EVENT_ID.fullmatch(event_id) else None

    def delete(self, event_id: str) -> str | None:
        """Deletes an ended event's clip and snapshot and notes the deletion in the journal (which keeps its
        lines: it is only ever appended to). Returns why it cannot, or None when done."""
        event = self.find(event_id)
        if event is None:
            return "no such event"
        if event["state"] == GOING_ON:
            return "the event is still going on; delete it once it has ended"
        for url in (event.get("clip"), event.get("snapshot")):
            found = event_file(self.folder, url[len(URL_PREFIX):]) if url else None
            if found:
                found[0].unlink(missing_ok=True)
        append_record(self.folder / JOURNAL_NAME, {"type": DELETED, "id": event_id,
                                                   "deleted_utc": utc_text(datetime.now(timezone.utc))})
        return None


def parse_utc(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def disabled_event_list() -> dict:
    """/events.json without --event: the pages say that events are off."""
    return {"enabled": False, "events": []}
