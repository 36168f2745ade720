"""Events: watched actions with a start and an end, and what is done with them.

The tracker turns results into events (no I/O); each output is one small EventOutput: the journal
(events.jsonl), the webhook, GPIO pins (and MQTT). The recorder keeps the pre-roll and writes clips and
snapshots. utils/sinks/events.py joins them to the pipeline.
"""

from __future__ import annotations

from utils.events.event import END, START, Event
from utils.events.output import EventOutput
from utils.events.tracker import Change, EventTracker

__all__ = ["END", "START", "Change", "Event", "EventOutput", "EventTracker"]
