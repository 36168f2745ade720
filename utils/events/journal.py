"""events.jsonl: one JSON object per event start and end, appended and synced to disk off the main loop."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from utils.errors import ClassifierError
from utils.events.event import END, START, Event
from utils.events.outage import Outage
from utils.events.worker import BackgroundWorker
from utils.paths import folder_write_problem

JOURNAL_NAME = "events.jsonl"
TAIL_BYTES = 256 * 1024  # the recent events are read from the end of the journal only
DELETED = "deleted"  # the type of the line that says an event was deleted (from the web view)


def _cannot_write(folder: Path, why: object) -> ClassifierError:
    return ClassifierError(f"cannot write to --events-dir {folder}: {why}; choose a folder this user can write to")


def check_writable_folder(folder: Path) -> None:
    """ClassifierError unless the events folder is writable or can be made there, found without creating
    anything: the run checks it before it starts, and a start that fails later leaves no folder behind."""
    if (problem := folder_write_problem(folder)) is not None:
        raise _cannot_write(folder, problem)
    journal = folder / JOURNAL_NAME  # appended to: a folder that takes new files is not enough
    if journal.exists() and not (journal.is_file() and os.access(journal, os.W_OK)):
        why = os.strerror(errno.EISDIR if journal.is_dir() else errno.EACCES)
        raise ClassifierError(f"cannot write to the events journal {journal}: {why}; let this user write it, or "
                              "choose another --events-dir")


def writable_folder(folder: Path) -> Path:
    """Makes the events folder and checks that files can be written in it; ClassifierError if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise _cannot_write(folder, e.strerror or e) from e
    return folder


class Journal:
    """Appends each event's start and end object to events.jsonl and fsyncs it, on its own thread."""

    def __init__(self, folder: Path) -> None:
        self.path = writable_folder(folder) / JOURNAL_NAME
        self._outage = Outage(f"events journal {self.path}", "events are not saved until it can be written")
        self._worker: BackgroundWorker[dict] = BackgroundWorker("events-journal", self._append, maxsize=1000)

    def on_start(self, event: Event) -> None:
        self._worker.submit(event.record(START))

    def on_end(self, event: Event) -> None:
        self._worker.submit(event.record(END))

    def _append(self, record: dict) -> None:
        try:
            append_record(self.path, record)
        except OSError as e:
            self._outage.failed(e.strerror or e)
        else:
            self._outage.ok()

    def close(self) -> None:
        self._worker.close()


def append_record(path: Path, record: dict) -> None:
    """Appends one JSON line and syncs it: the line survives a power cut right after it. One write() in append
    mode, so the app's journal thread and the web view's deletions never interleave within a line."""
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def recent_events(folder: Path, limit: int = 20) -> list[dict]:
    """The last `limit` events of the journal, newest first, each the start object updated by its end object.

    Reads only the journal's tail and skips lines that are not JSON (a line cut by a power loss).
    """
    path = folder / JOURNAL_NAME
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - TAIL_BYTES))
            lines = f.read().splitlines()
    except OSError:
        return []
    return list(reversed(merge_lines(lines).values()))[:limit]


def merge_lines(lines: list[bytes], events: dict[str, dict] | None = None) -> dict[str, dict]:
    """Journal lines merged into `events` (id -> the start object updated by its later objects, oldest first;
    a new dict when None), which is returned. Lines that are not JSON objects with an id (a line cut by a power
    loss) are skipped."""
    events = {} if events is None else events
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            events.setdefault(record["id"], {}).update(record)
    return events
