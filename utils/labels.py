"""Reads the label file: one class name a line, in the order of the model's logits."""

from __future__ import annotations

from pathlib import Path

from utils.errors import ClassifierError


def load_labels(path: Path) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ClassifierError(f"label file not found: {path}; run ./download_models.sh") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ClassifierError(f"cannot read label file {path}: {e}") from e
    labels = [line.strip() for line in text.splitlines()]
    while labels and not labels[-1]:
        labels.pop()
    if not labels or any(not label for label in labels):
        raise ClassifierError(f"label file {path} has empty lines; it must hold one class name a line")
    return labels
