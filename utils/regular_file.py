"""Opening a file the user names: only a regular file, read up to a bound. Standard library only.

A FIFO blocks until a writer comes, /dev/zero and /dev/urandom never end: the file is opened without
blocking (O_NONBLOCK: a FIFO's open returns at once) and refused by what fstat says it is, so nothing is
read from what is not a file, and no check-then-open race lets a file be swapped for a FIFO in between.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotAFileError(OSError):
    """The path is a pipe, a socket or a device; `what` says which in the user's words."""

    def __init__(self, path: str | os.PathLike[str], what: str) -> None:
        super().__init__(errno.EINVAL, f"is {what}, not a file", str(path))
        self.what = what


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """The file at `path` opened for reading; IsADirectoryError for a folder, NotAFileError for anything else
    that is not a regular file, the usual OSError (FileNotFoundError, PermissionError) otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    handle = os.open(path, flags)
    try:
        mode = os.fstat(handle).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
        if not stat.S_ISREG(mode):
            raise NotAFileError(path, "a pipe or a device")
        return os.fdopen(handle, "rb")
    except BaseException:
        os.close(handle)
        raise


def read_at_most(path: str | os.PathLike[str], limit: int) -> bytes:
    """The start of a regular file: at most `limit` + 1 bytes, so a caller can tell a file that is too big."""
    with open_regular(Path(path)) as f:
        return f.read(limit + 1)
