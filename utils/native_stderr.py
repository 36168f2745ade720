"""Keeps what native libraries (TFLite, OpenCV, FFmpeg) print out of the user's terminal, and says what
happened when one of them crashes the process."""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import TextIO

log = logging.getLogger(__name__)

# Where our own messages and crash reports go once the CLI has moved them off fd 2 (None until then), and the
# prefix of its error lines.
_messages_fd: int | None = None
_error_prefix = ""


def separate_native_stderr(show_native: bool, error_prefix: str) -> TextIO:
    """For the CLI: our messages go to the real stderr (a duplicate of fd 2), and fd 2 itself, where C and C++
    code writes (FFmpeg's "[h264 @ 0x...] error while decoding", OpenCV's warnings), goes to /dev/null unless
    `show_native` (--verbose). A native crash is still reported there, by faulthandler.

    Also reopens a closed fd 0, 1 or 2 on /dev/null: with stderr closed (`2>&-`) the next file opened would
    get fd 2 and receive whatever is written to it. Returns the stream for our messages, and makes it sys.stderr.
    `error_prefix` ("classify.py: error: ") starts the line explain_a_crash prints.
    """
    global _messages_fd, _error_prefix
    closed = [fd for fd in (0, 1, 2) if not _is_open(fd)]
    null = os.open(os.devnull, os.O_RDWR)  # takes the lowest closed one of 0-2 itself, if any
    for fd in closed:
        if fd != null:
            os.dup2(null, fd)
    if 2 in closed:  # the user threw stderr away: so do we, and the exit code still tells
        messages: TextIO = open(os.devnull, "w")  # lives as long as the process
    else:
        messages = os.fdopen(os.dup(2), "w", buffering=1, errors="backslashreplace")
    if not show_native:
        os.dup2(null, 2)
    if null > 2:
        os.close(null)
    faulthandler.enable(messages)
    sys.stderr = messages
    _messages_fd, _error_prefix = messages.fileno(), error_prefix
    return messages


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[list[str]]:
    """Captures what the runtime's C++ code writes to fd 2 and logs it at DEBUG.

    TFLite prints lines like "INFO: Created TensorFlow Lite XNNPACK delegate" straight to fd 2,
    which would break the promise that stderr holds only our own messages. The captured lines are
    also yielded so a load error can quote them.
    """
    if sys.stderr is not None:
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


@contextlib.contextmanager
def explain_a_crash(message: str) -> Iterator[None]:
    """When the process dies inside the block (a segfault in native code), `message` is printed after
    faulthandler's report.

    Nothing can run in a process after a segfault, so a forked watcher waits for the block to end: when the
    pipe closes without the all-clear byte, the process died first, and the watcher prints `message`. Only
    after separate_native_stderr() (the CLI): a library or a test process is left alone.
    """
    if _messages_fd is None or not hasattr(os, "fork"):
        yield
        return
    read_end, write_end = os.pipe()
    watcher = os.fork()
    if watcher == 0:  # the watcher: only system calls, then out
        try:
            os.close(write_end)
            if not os.read(read_end, 1):
                os.write(_messages_fd, f"{_error_prefix}{message}\n".encode(errors="replace"))
        finally:
            os._exit(0)
    os.close(read_end)
    try:
        yield
    finally:
        os.write(write_end, b"k")
        os.close(write_end)
        os.waitpid(watcher, 0)
