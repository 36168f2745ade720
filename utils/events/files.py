"""The events folder as the web view shows it: pages of events with links, one event, deleting one, and only
the folder's own files served."""

from __future__ import annotations

import math
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

from utils.events.disk import EVENT_ID, is_app_file
from utils.events.event import parse_utc, utc_text
from utils.events.journal import DELETED, JOURNAL_NAME, append_record, merge_lines

CONTENT_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg"}
URL_PREFIX = "events/"
PER_PAGE = 10
MAX_PER_PAGE = 100
GOING_ON, ENDED, UNFINISHED = "going on", "ended", "unfinished"  # an event's state, as the pages show it
SHOWN = ("id", "label", "start_utc", "end_utc", "duration", "peak_score", "reason", "source")  # of each record


def event_file(folder: Path | None, name: str) -> tuple[Path, str] | None:
    """(path, content type) of an event's clip or snapshot in `folder`, or None: unknown names, other folders
    and anything that is not a plain file in it are refused."""
    if folder is None or not is_app_file(name):
        return None
    path = folder / name
    try:
        if path.resolve().parent != folder.resolve() or not path.is_file():
            return None
    except OSError:
        return None
    return path, CONTENT_TYPES[path.suffix]


NO_SUCH_EVENT = "no such event"  # what delete() answers for an id the journal does not have


class EventFolder:
    """The events of one folder's journal, kept between requests. The journal is only ever appended to, so a
    change reads only the lines added since (the first page of a 10,000-event journal is read whole once)."""

    def __init__(self, folder: Path, since: datetime | None = None) -> None:
        self.folder = folder
        now = datetime.now(timezone.utc)
        # Events started before it belong to an earlier run; milliseconds, as the journal writes times.
        self.since = since or now.replace(microsecond=now.microsecond // 1000 * 1000)
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._read = 0  # bytes of the journal merged so far: up to the end of its last complete line
        self._records: dict[str, dict] = {}
        self._shown: dict[str, tuple[int, dict]] = {}  # id -> (its record's key count, what the pages show)
        self._events: list[dict] = []

    def events(self) -> list[dict]:
        """Every event not deleted, newest first, each with its URLs, state and local day."""
        path = self.folder / JOURNAL_NAME
        with self._lock:
            try:
                stat = path.stat()
                key = (stat.st_size, stat.st_mtime_ns)
                if key != self._key:
                    self._merge_new_lines(path, stat.st_size)
                    present = {entry.name for entry in os.scandir(self.folder) if entry.is_file()}
                    self._events = self._items(list(reversed(self._records.values())), present)
                    self._key = key
            except OSError:
                self._events, self._key, self._read, self._records, self._shown = [], None, 0, {}, {}
            return self._events

    def _merge_new_lines(self, path: Path, size: int) -> None:
        if size < self._read:  # a new journal (the old one was removed): read it from its start
            self._read, self._records, self._shown = 0, {}, {}
        with path.open("rb") as f:
            f.seek(self._read)
            added = f.read(size - self._read)
        complete = added.rfind(b"\n") + 1  # a line still being written is read once it is whole
        merge_lines(added[:complete].splitlines(), self._records)
        self._read += complete

    def _items(self, records: list[dict], present: set[str]) -> list[dict]:
        """The pages' view of the journal's events; `present` are the folder's file names (one listing, not a
        look-up per file: a journal of 10,000 events names 20,000 files)."""
        items = []
        live_seen = False
        for record in records:
            if record.get("type") == DELETED:
                continue
            known = self._shown.get(record["id"])
            if known is None or known[0] != len(record):  # new, or a later line (end, deletion) added keys
                known = len(record), {**{key: record.get(key) for key in SHOWN}, "day": local_day(record)}
                self._shown[record["id"]] = known
            item = dict(known[1])
            if record.get("end_utc") is not None:
                item["state"] = ENDED
            elif not live_seen and (start := parse_utc(record.get("start_utc"))) and start >= self.since:
                item["state"] = GOING_ON  # the newest open event of this run; older open ones lost their end
                live_seen = True
            else:
                item["state"] = UNFINISHED
            for name in record.get("files") or []:
                if isinstance(name, str) and name in present and is_app_file(name):
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
            return NO_SUCH_EVENT
        if event["state"] == GOING_ON:
            return "the event is still going on; delete it once it has ended"
        for url in (event.get("clip"), event.get("snapshot")):
            found = event_file(self.folder, url[len(URL_PREFIX):]) if url else None
            if found:
                found[0].unlink(missing_ok=True)
        append_record(self.folder / JOURNAL_NAME, {"type": DELETED, "id": event_id,
                                                   "deleted_utc": utc_text(datetime.now(timezone.utc))})
        return None


def local_day(record: dict) -> str | None:
    """The local day (on this computer) of an event's start, e.g. "2025-02-01" for 2025-01-31T23:30Z in Berlin."""
    start = parse_utc(record.get("start_utc"))
    return start.astimezone().date().isoformat() if start else None


def disabled_event_list() -> dict:
    """/events.json without --event: the pages say that events are off."""
    return {"enabled": False, "events": []}
