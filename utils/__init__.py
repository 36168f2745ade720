"""Real-time MoViNet action classification for the Raspberry Pi.

Names are re-exported lazily so stdlib-only modules (utils.model_files, run by download_models.sh
before the venv exists) import without numpy or OpenCV.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ClassifierError": "utils.errors",
    "Config": "utils.config",
    "Prediction": "utils.config",
    "Result": "utils.config",
    "StreamClassifier": "utils.stream_classifier",
    "PredictionFilter": "utils.predictions",
    "load_labels": "utils.labels",
    "load_runtime": "utils.runtime",
    "open_source": "utils.sources",
    "run": "utils.pipeline",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'utils' has no attribute {name!r}")
