"""--json: exactly one JSON object per classified frame on stdout."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import TextIO

from utils.errors import ClassifierError
from utils.sinks.base import Command, Update

log = logging.getLogger(__name__)


def discard_output(stream: TextIO) -> None:
    """Points a stream that failed at /dev/null, so the interpreter's final flush does not fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
    except (OSError, ValueError):
        pass


class JsonSink:
    """Exactly one JSON object per classified frame on stdout, flushed so pipes see it at once."""

    needs_status = False
    wants_every_frame = False

    def __init__(self, stream: TextIO | None = None) -> None:
        stream = stream or sys.stdout
        if stream is None:  # started with stdout closed (`>&-`)
            raise ClassifierError("--json writes to stdout, but stdout is closed; send it somewhere "
                                  "(> results.jsonl, | another-program) or leave out --json")
        self.stream = stream

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
        except OSError as e:  # a full disk (> /dev/full), an I/O error: the results are being lost
            self._silence()
            raise ClassifierError(f"cannot write the JSON lines to stdout: {e.strerror or e}") from e
        return None

    def _silence(self) -> None:
        discard_output(self.stream)

    def close(self) -> None:
        pass
