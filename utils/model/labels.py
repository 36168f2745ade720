"""Reads the label file: one class name a line, in the order of the model's logits. Standard library only."""

from __future__ import annotations

from pathlib import Path

from utils.errors import ClassifierError
from utils.regular_file import NotAFileError, read_at_most

MAX_LABEL_BYTES = 1 << 20  # Kinetics-600's file is 9 kB; /dev/zero or a video given by mistake stops here


class LabelsError(ValueError):
    """What is wrong with a label file's content, as a phrase ("has empty lines ...")."""


def parse_labels(data: bytes) -> list[str]:
    """The labels in a label file's bytes: UTF-8 (a BOM is allowed), no empty, repeated or NUL lines."""
    if len(data) > MAX_LABEL_BYTES:
        raise LabelsError(f"is larger than {MAX_LABEL_BYTES // 1024} kB, too large for a label file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LabelsError("is not a UTF-8 text file") from None
    labels = [line.strip() for line in text.splitlines()]
    while labels and not labels[-1]:
        labels.pop()
    if not labels or any(not label for label in labels):
        raise LabelsError("has empty lines; it must hold one class name a line")
    if any("\0" in label for label in labels):
        raise LabelsError("contains NUL bytes: not a text file")
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise LabelsError(f"names {label!r} twice; each class must have its own name")
        seen.add(label)
    return labels


def read_label_bytes(path: Path) -> bytes:
    """The file's bytes, reading no more than a label file can hold (plus one byte to tell it is too big); a
    FIFO or a device (they block or never end) is refused with NotAFileError, a folder with IsADirectoryError."""
    return read_at_most(path, MAX_LABEL_BYTES)


def load_labels(path: Path) -> list[str]:
    """The labels of `path`, or a ClassifierError that names the file and what to do."""
    path = Path(path)
    try:
        data = read_label_bytes(path)
    except FileNotFoundError as e:
        raise ClassifierError(f"label file not found: {path}; run ./download_models.sh") from e
    except IsADirectoryError as e:
        raise ClassifierError(f"label file {path} is a folder; give the .txt file inside it") from e
    except NotAFileError as e:
        raise ClassifierError(f"label file {path} {e.strerror}; give the .txt file (one class name a line)") from e
    except OSError as e:
        raise ClassifierError(f"cannot read label file {path}: {e.strerror or e}") from e
    try:
        return parse_labels(data)
    except LabelsError as e:
        raise ClassifierError(f"label file {path} {e}") from e
