"""After a run that was killed (SIGKILL, power loss): keep what it recorded and close the events it left open.

Clips are fragmented MP4 (clip.py), so a clip cut short by a kill still plays up to its last fragment: it is
renamed to its final name and kept. A snapshot is written whole or not at all, so a temporary one is junk.
An event whose start is in the journal but whose end is not is closed with an ordinary end record, "reason":
"interrupted", listing the files that survived; every output (journal, MQTT, webhook) is told as for any end.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from utils.events.disk import PARTIAL, event_file_names, final_name, is_app_file, saved_files
from utils.events.event import START, Event, parse_utc
from utils.events.journal import recent_events

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"
OPEN_EVENTS_LOOKED_AT = 20  # only the journal's last events can still be open
FRAGMENT = b"moof"          # an MP4 fragment's box: the clip holds at least one playable second
HEAD_BYTES = 256 * 1024     # the first fragment starts within this (after the file's header)


def _has_a_fragment(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return FRAGMENT in f.read(HEAD_BYTES)
    except OSError:
        return False


def keep_partial_clips(folder: Path) -> list[str]:
    """Renames the clips an earlier run left half-written to their final names when they hold video; deletes
    the other temporary files. Returns the names kept."""
    kept = []
    for path in folder.glob(f".*{PARTIAL}.*"):
        name = final_name(path.name)
        if not is_app_file(name):
            continue  # not a name the app writes: not ours to touch
        if name.endswith(".mp4") and _has_a_fragment(path) and not (folder / name).exists():
            os.replace(path, folder / name)
            kept.append(name)
            log.warning("kept %s, a clip cut short when an earlier run was stopped abruptly", name)
        else:
            path.unlink(missing_ok=True)
            log.info("removed %s, left unfinished by an earlier run", path.name)
    return kept


def _interrupted(folder: Path, record: dict) -> Event | None:
    """The ended Event of a start record with no end: its end is when its files were last written."""
    start_utc = parse_utc(record.get("start_utc"))
    if start_utc is None or not isinstance(record.get("start"), (int, float)):
        return None
    event_id = str(record["id"])
    files = saved_files(folder, event_id, event_file_names(event_id)).written
    written = [datetime.fromtimestamp((folder / name).stat().st_mtime, timezone.utc) for name in files]
    end_utc = max([start_utc, *written])
    event = Event(event_id, str(record.get("label", "")), str(record.get("source", "")), float(record["start"]),
                  int(record.get("peak_frame") or 0), start_utc, float(record.get("peak_score") or 0.0),
                  int(record.get("peak_frame") or 0), files=files)
    return event.ended(event.start + (end_utc - start_utc) / timedelta(seconds=1), end_utc, INTERRUPTED)


def close_interrupted_events(folder: Path) -> list[Event]:
    """Keeps the half-written clips of an earlier run and returns its open events, ended as "interrupted"
    with their surviving files (oldest first), for the outputs to announce."""
    keep_partial_clips(folder)
    events = []
    for record in reversed(recent_events(folder, OPEN_EVENTS_LOOKED_AT)):
        if record.get("type") == START and isinstance(record.get("id"), str):
            event = _interrupted(folder, record)
            if event is not None:
                events.append(event)
                log.warning("event %s (%s) was left open by an earlier run that stopped abruptly: closed as "
                            "interrupted, keeping %s", event.id, event.label, ", ".join(event.files) or "no files")
    return events
