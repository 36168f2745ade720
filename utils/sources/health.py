"""SourceHealth: whether a live source is delivering frames that move, for every output that reports an outage."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class SourceHealth:
    """Online, or offline since `offline_since` (wall-clock seconds, time.time()): while it is being reopened, or,
    `frozen`, while its picture repeats the same frame (utils/sources/frozen.py)."""

    offline_since: float | None = None
    frozen: bool = False

    @property
    def online(self) -> bool:
        return self.offline_since is None

    @property
    def since_text(self) -> str:
        """The local time the outage began, HH:MM:SS ("" while online)."""
        return "" if self.offline_since is None else time.strftime("%H:%M:%S", time.localtime(self.offline_since))

    def describe(self) -> str:
        """"camera offline since 12:03:04; retrying", "camera picture frozen since 12:03:04; waiting for it to
        move", or "" while online."""
        if self.online:
            return ""
        if self.frozen:
            return f"camera picture frozen since {self.since_text}; waiting for it to move"
        return f"camera offline since {self.since_text}; retrying"

    def as_dict(self) -> dict:
        """For JSON outputs (the web view, MQTT)."""
        return {"online": self.online, "offline_since": self.offline_since, "frozen": self.frozen,
                "message": self.describe()}


ONLINE = SourceHealth()


@runtime_checkable
class ReportsHealth(Protocol):
    """A source that can go offline and come back (a reconnecting camera or stream)."""

    health: SourceHealth
