"""What the events pages cost the app: one page of /events.json from a journal of many events, the first time
(the whole journal is parsed), again (nothing changed), and after one more event (only its lines are read);
and the login key derived at the start when there is a password.

    python benchmarks/web_events.py [--events 10000] [--repeats 5]

Prints one JSON object, times in ms (the median of --repeats).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from utils.events.event import END, START, Event  # noqa: E402
from utils.events.files import EventFolder  # noqa: E402
from utils.events.journal import JOURNAL_NAME  # noqa: E402
from utils.sinks.web_access import session_key  # noqa: E402

LABELS = ("arm wrestling", "carving ice", "juggling soccer ball")


def write_journal(folder: Path, count: int, first: int = 0) -> int:
    """Events number `first` to `first + count - 1`: their start and end lines as the app writes them, appended;
    returns the journal's size in bytes."""
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    with (folder / JOURNAL_NAME).open("a", encoding="utf-8") as f:
        for i in range(first, first + count):
            moment = start + timedelta(minutes=7 * i)
            event = Event(f"{moment:%Y%m%dT%H%M%S}-event-{i:06x}", LABELS[i % 3], "camera 0 (640x480, 30.0 fps)",
                          float(i), i, moment, 0.9, i, files=(f"e{i}.mp4", f"e{i}.jpg"))
            ended = event.ended(i + 5.0, moment + timedelta(seconds=5), "ended")
            f.write(json.dumps(event.record(START)) + "\n" + json.dumps(ended.record(END)) + "\n")
    return (folder / JOURNAL_NAME).stat().st_size


def median_ms(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        size = write_journal(folder, args.events)
        first = median_ms(lambda: EventFolder(folder).page(), args.repeats)  # a new folder: parses everything
        kept = EventFolder(folder)
        kept.page()
        again = median_ms(lambda: kept.page(label="carving ice", page=3), args.repeats)
        added = iter(range(args.events, args.events + args.repeats))
        one_more = median_ms(lambda: (write_journal(folder, 1, next(added)), kept.page()), args.repeats)
    key = median_ms(lambda: session_key("a password"), args.repeats)
    print(json.dumps({"events": args.events, "journal_bytes": size, "first_page_ms": first,
                      "page_again_ms": again, "page_after_one_more_event_ms": one_more, "login_key_ms": key}))


if __name__ == "__main__":
    main()
