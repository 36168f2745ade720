"""Event: one watched action from its start to its end, and the JSON objects that announce it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone

START = "start"
END = "end"


def utc_text(moment: datetime) -> str:
    """ISO 8601 with milliseconds and the zone, e.g. 2025-01-31T12:00:00.123+00:00."""
    return moment.isoformat(timespec="milliseconds")


def parse_utc(text: object) -> datetime | None:
    """A journal's time (utc_text's form) back as an aware datetime (one without a zone is UTC); None if it is not
    one."""
    try:
        moment = datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Event:
    """A watched action. Times in seconds of the source's clock, like the frame lines' `timestamp`.

    `start` is the first frame of the run that qualified; `end` the first frame of the low run that ended it
    (or the last frame seen, when the app stopped). `files` are names inside the events folder.
    """

    id: str
    label: str
    source: str
    start: float
    start_frame: int
    start_utc: datetime
    peak_score: float
    peak_frame: int
    end: float | None = None
    end_utc: datetime | None = None
    # Why it ended: "ended", "replaced" (another watched action), "stopped", or "interrupted" (the app was
    # killed or lost power during it; closed at the next start).
    reason: str | None = None
    files: tuple[str, ...] = ()  # the files that exist when the end is announced
    lost: tuple[str, ...] = ()   # the files that could not be written (a full disk, a read-only folder)

    @property
    def duration(self) -> float | None:
        return None if self.end is None else max(0.0, self.end - self.start)

    def ended(self, end: float, end_utc: datetime, reason: str) -> Event:
        return dataclasses.replace(self, end=end, end_utc=end_utc, reason=reason)

    def record(self, kind: str) -> dict:
        """The JSON object of events.jsonl (and of the webhook and MQTT): "start" or "end"."""
        data: dict = {"type": kind, "id": self.id, "label": self.label, "start": round(self.start, 6),
                      "start_utc": utc_text(self.start_utc), "peak_score": round(self.peak_score, 6),
                      "peak_frame": self.peak_frame, "source": self.source}
        if kind == END:
            data.update(end=round(self.end or 0.0, 6), end_utc=utc_text(self.end_utc or self.start_utc),
                        duration=round(self.duration or 0.0, 6), reason=self.reason, files=list(self.files))
            if self.lost:
                data["lost"] = list(self.lost)
        return data
