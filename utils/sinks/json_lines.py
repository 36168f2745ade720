"""--json: exactly one JSON object per classified frame on stdout."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import TextIO

from utils.sinks.base import Command, Update

log = logging.getLogger(__name__)


class JsonSink:
    """Exactly one JSON object per classified frame on stdout, flushed so pipes see it at once."""

    needs_status = False

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def write(self, update: Update) -> Command | None:
        if not (update.is_new and update.result):
            return None
        try:
            self.stream.write(json.dumps(update.result.as_dict()) + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):  # the reader went away (e.g. `| head`): nothing left to do
            log.warning("stdout was closed; stopping")
            self._silence()
            return Command.QUIT
        return None

    def _silence(self) -> None:
        # Point stdout at /dev/null so the interpreter's final flush does not raise again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        pass
