"""EventOutput: what every consumer of events implements (journal, webhook, GPIO, MQTT...)."""

from __future__ import annotations

from typing import Protocol

from utils.events.event import Event


class EventOutput(Protocol):
    """Told of each event twice, on the main loop: it must return at once (slow work goes to its own thread)
    and fail softly (log one warning and carry on), so a dead output never stops the classification."""

    def on_start(self, event: Event) -> None: ...

    def on_end(self, event: Event) -> None: ...

    def close(self) -> None:
        """Finishes what is pending (within a few seconds) and releases the output; safe to call twice."""
