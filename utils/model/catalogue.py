"""The models this project knows: file names, official URLs and sha256 hashes. Standard library only."""

from __future__ import annotations

from dataclasses import dataclass

TFHUB_URL = (
    "https://tfhub.dev/tensorflow/lite-model/movinet/{variant}/stream/kinetics-600/"
    "classification/tflite/int8/1?lite-format=tflite"
)
KAGGLE_URL = (
    "https://www.kaggle.com/api/v1/models/google/movinet/tfLite/"
    "{variant}-stream-kinetics-600-classification-tflite-int8/1/download"
)


@dataclass(frozen=True)
class ModelInfo:
    """One downloadable model: its file name and official URLs, tried in order."""

    file_name: str
    urls: tuple[str, ...]


MODELS: dict[str, ModelInfo] = {
    variant: ModelInfo(
        file_name=f"movinet_{variant}_stream_int8.tflite",
        urls=(TFHUB_URL.format(variant=variant), KAGGLE_URL.format(variant=variant)),
    )
    for variant in ("a0", "a1", "a2")
}

LABELS_FILE = "kinetics600_labels.txt"
LABELS_URL = (
    "https://raw.githubusercontent.com/tensorflow/examples/master/lite/examples/"
    "video_classification/raspberry_pi/kinetics600_label_map.txt"
)
LABELS_COUNT = 600

KNOWN_SHA256: dict[str, str] = {
    "movinet_a0_stream_int8.tflite": "6125b36e2485eeb5cc1fd6206cf5e5d70235593fbc84610d1dce97fe3aa9c2ac",
    LABELS_FILE: "8dfca4202520ea8291ce0242ef33b006d0a0772b409663c090a2876bc1978dcf",
}
# Bytes of the models with a known sha256: a copy under another name is still known by its size, so a damaged
# one (bytes changed in place) is found at load instead of giving other scores.
KNOWN_SIZES: dict[str, int] = {"movinet_a0_stream_int8.tflite": 3276048}


def known_model(file_name: str, size: int) -> str | None:
    """The catalogue's name for a model file: its own name when known, else the known model of its exact size."""
    if file_name in KNOWN_SHA256:
        return file_name
    return next((name for name, known in KNOWN_SIZES.items() if known == size), None)


def fix_command(file_name: str, force: bool) -> str:
    """The command that fetches a known model or label file (again, with force)."""
    variant = next((v for v, m in MODELS.items() if m.file_name == file_name), "a0")
    args = "" if variant == "a0" else f" {variant}"
    return f"./download_models.sh{args}{' --force' if force else ''}"
