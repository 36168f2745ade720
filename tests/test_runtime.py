"""Runtime choice: ai-edge-litert, then tflite-runtime, then tensorflow.lite."""

from __future__ import annotations

import sys

import pytest

from utils.errors import ClassifierError
from utils.model.runtime import PREFERENCE, installed_runtimes, load_runtime

BLOCK = {  # a None entry in sys.modules makes that import fail, as if not installed
    "ai-edge-litert": ["ai_edge_litert", "ai_edge_litert.interpreter"],
    "tflite-runtime": ["tflite_runtime", "tflite_runtime.interpreter"],
    "tensorflow": ["tensorflow"],
}


def block(monkeypatch, *names: str) -> None:
    for name in names:
        for module in BLOCK[name]:
            monkeypatch.setitem(sys.modules, module, None)


def test_preference_order():
    assert PREFERENCE == ("ai-edge-litert", "tflite-runtime", "tensorflow")
    assert load_runtime().name == installed_runtimes()[0]


def test_falls_back_when_the_preferred_one_is_missing(monkeypatch):
    if "tflite-runtime" not in installed_runtimes():
        pytest.skip("tflite-runtime is not installed here (it has no wheel for this Python)")
    block(monkeypatch, "ai-edge-litert")
    runtime = load_runtime("auto")
    assert runtime.name == "tflite-runtime" and runtime.version.startswith("2.")


def test_none_installed_is_one_clear_error(monkeypatch):
    block(monkeypatch, *PREFERENCE)
    with pytest.raises(ClassifierError, match="no TFLite runtime could be imported.*run ./setup.sh"):
        load_runtime("auto")
    with pytest.raises(ClassifierError, match="runtime tensorflow could not be imported"):
        load_runtime("tensorflow")
