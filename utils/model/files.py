"""Checks that a model or label file is complete and the right one, before a runtime touches it.

Standard library only: the downloader runs these checks before the venv exists.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable
from pathlib import Path

from utils.model.catalogue import KNOWN_SHA256, LABELS_COUNT, fix_command, known_model
from utils.model.labels import LabelsError, parse_labels, read_label_bytes

# The header, root table and one subgraph alone take more than this.
MIN_TFLITE_BYTES = 64


class ModelFileError(Exception):
    """A model or label file is missing or unusable; the message says which and what to do."""


def check_tflite_file(path: str | os.PathLike[str]) -> None:
    """Raises ModelFileError unless `path` looks like a complete TFLite model.

    Checks the TFL3 identifier, that every weight buffer of the flatbuffer lies inside the file (catches
    truncation), and the sha256 of a catalogue model, known by its file name or, renamed, by its size (hashing
    A0's 3.3 MB takes 8 ms, measured on a 2-core x86_64 PC: no cache needed).
    """
    _check(Path(path), "model file", tflite_problem, known_model)


def check_labels_file(path: str | os.PathLike[str]) -> None:
    """Raises ModelFileError unless `path` holds 600 labels (and the known sha256)."""
    _check(Path(path), "label file", labels_problem, lambda name, size: name)


def _check(path: Path, kind: str, problem_of: Callable[[Path, str | None], str | None],
           catalogue_name: Callable[[str, int], str | None]) -> None:
    if not path.is_file():
        if path.exists():  # stat only: a FIFO is never opened
            what = "a folder" if path.is_dir() else "a pipe or a device"
            raise ModelFileError(f"{kind} {path} is {what}, not a file; give the file itself")
        raise ModelFileError(f"{kind} not found: {path}; run {fix_command(path.name, force=False)}")
    try:
        known = catalogue_name(path.name, path.stat().st_size) or path.name
        problem = problem_of(path, KNOWN_SHA256.get(known))
    except OSError as e:  # not readable by this user, an I/O error
        raise ModelFileError(f"cannot read {kind} {path}: {e.strerror or e}; check its permissions (ls -l)") from e
    if problem:
        copy = "" if known == path.name else f" (a copy of {known}, by its size)"
        raise ModelFileError(f"{path}{copy} is {problem}; run {fix_command(known, force=True)}")


def looks_like_html(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        text.startswith(b"<") and b"<html" in text
    )


def usual_file_mode() -> int:
    """The mode open() would give a new file (0o666 less the umask); mkstemp's files are 0600."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tflite_problem(path: Path, sha256: str | None) -> str | None:
    """Returns what is wrong with the TFLite file at `path` ("an HTML page, ..."), or None."""
    data = path.read_bytes()
    if looks_like_html(data[:1024]):
        return "an HTML page, not a TFLite model (a failed download?)"
    if not data:
        return "empty (a failed download?)"
    if len(data) >= 8 and data[4:8] != b"TFL3":
        return "not a TFLite model (no TFL3 identifier at bytes 4..8)"
    if len(data) < MIN_TFLITE_BYTES:
        return f"too small to be a TFLite model ({len(data)} bytes; truncated?)"
    problem = _flatbuffer_problem(data)
    if problem:
        return problem
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        return f"not the expected file (sha256 differs from the known {sha256[:12]}...; truncated or corrupt?)"
    return None


def _flatbuffer_problem(data: bytes) -> str | None:
    """Walks the Model table far enough to tell a truncated file: its buffers must fit inside.

    Flatbuffers are written back to front, so the weights sit at the end of the file and a
    cut-off download leaves buffer data pointing past the end.
    """
    size = len(data)

    def read(fmt: str, pos: int) -> int:
        if pos < 0 or pos + struct.calcsize(fmt) > size:
            raise struct.error(f"offset {pos} outside the file")
        return struct.unpack_from(fmt, data, pos)[0]

    def u32(pos: int) -> int:
        return read("<I", pos)

    def field(table: int, index: int) -> int | None:
        """Absolute position of field `index` of the table at `table`, None when absent."""
        vtable = table - read("<i", table)
        vtable_size = read("<H", vtable)
        entry = 4 + 2 * index
        if entry + 2 > vtable_size:
            return None
        offset = read("<H", vtable + entry)
        return table + offset if offset else None

    def vector(pos: int) -> tuple[int, int]:
        """(start, length) of the vector referenced by the uoffset at `pos`."""
        start = pos + u32(pos)
        return start + 4, u32(start)

    def tables(pos: int) -> list[int]:
        """Positions of the tables in the vector at `pos`, each checked to lie inside the file."""
        start, count = vector(pos)
        items = [start + 4 * i + u32(start + 4 * i) for i in range(count)]
        for table in items:
            vtable = table - read("<i", table)
            read("<B", table + read("<H", vtable + 2) - 1)  # the table's last inline byte
        return items

    truncated = "a truncated or corrupt TFLite model (its data runs past the end of the file)"
    try:
        model = u32(0)
        subgraphs = field(model, 2)  # Model.subgraphs
        if subgraphs is None or not tables(subgraphs):
            return "not a usable TFLite model (it has no subgraph)"
        operator_codes = field(model, 1)  # Model.operator_codes: written first, so last in the file
        if operator_codes is not None:
            tables(operator_codes)
        buffers = field(model, 4)  # Model.buffers
        for buffer in tables(buffers) if buffers is not None else []:
            data_field = field(buffer, 0)  # Buffer.data
            if data_field is not None:
                data_start, length = vector(data_field)
                if data_start + length > size:
                    return truncated
            offset_field = field(buffer, 1)  # Buffer.offset (models over 2 GB)
            size_field = field(buffer, 2)  # Buffer.size
            if offset_field is not None and size_field is not None:
                offset = read("<Q", offset_field)
                length = read("<Q", size_field)
                if offset > 1 and offset + length > size:
                    return truncated
    except struct.error:
        return truncated
    return None


def labels_problem(path: Path, sha256: str | None) -> str | None:
    """Returns what is wrong with the label file at `path`, or None."""
    data = read_label_bytes(path)
    if looks_like_html(data[:1024]):
        return "an HTML page, not a label file (a failed download?)"
    try:
        labels = parse_labels(data)
    except LabelsError as e:
        return f"not a usable label file (it {e})"
    if len(labels) != LABELS_COUNT:
        return f"not a Kinetics-600 label file ({len(labels)} non-empty lines, expected {LABELS_COUNT})"
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        return f"not the expected label file (sha256 differs from the known {sha256[:12]}...)"
    return None
