"""Routes what native libraries (TFLite, OpenCV) print on fd 2 into our log."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

log = logging.getLogger(__name__)


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[list[str]]:
    """Captures what the runtime's C++ code writes to fd 2 and logs it at DEBUG.

    TFLite prints lines like "INFO: Created TensorFlow Lite XNNPACK delegate" straight to fd 2,
    which would break the promise that stderr holds only our own messages. The captured lines are
    also yielded so a load error can quote them.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    lines: list[str] = []
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(capture.read().decode(errors="replace").splitlines())
            for line in lines:
                log.debug("native: %s", line)
