"""Picks the TFLite interpreter: ai-edge-litert, then tflite-runtime, then tensorflow.lite."""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from typing import Any

from utils.errors import ClassifierError

# Preference order: ai-edge-litert is the maintained runtime with XNNPACK; tflite-runtime 2.14 is the
# last legacy wheel (and the only one on 32-bit Pi OS); full TensorFlow is the heavy last resort.
_MODULES = {
    "ai-edge-litert": ("ai_edge_litert.interpreter", "ai-edge-litert"),
    "tflite-runtime": ("tflite_runtime.interpreter", "tflite-runtime"),
    "tensorflow": ("tensorflow", "tensorflow"),
}
PREFERENCE = tuple(_MODULES)


@dataclass(frozen=True)
class Runtime:
    name: str
    version: str
    interpreter_class: Any

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def _installed(distribution: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _import(name: str) -> Runtime:
    module_name, distribution = _MODULES[name]
    module = importlib.import_module(module_name)
    interpreter_class = module.lite.Interpreter if name == "tensorflow" else module.Interpreter
    # The package's own __version__ where it has one (importlib.metadata costs 9 ms at every start).
    package = importlib.import_module(module_name.split(".")[0])
    version = getattr(package, "__version__", None) or _installed(distribution)
    return Runtime(name, version, interpreter_class)


def load_runtime(preferred: str = "auto") -> Runtime:
    """Returns the requested runtime, or the first importable one for "auto"."""
    names = PREFERENCE if preferred == "auto" else (preferred,)
    problems = []
    for name in names:
        try:
            return _import(name)
        except ImportError as e:  # a broken install (e.g. numpy ABI mismatch) also lands here
            problems.append(f"{name}: {e}")
    if preferred == "auto":
        raise ClassifierError(
            "no TFLite runtime could be imported (" + "; ".join(problems) + "); run ./setup.sh")
    raise ClassifierError(f"runtime {preferred} could not be imported ({problems[0]}); "
                          "install it or use --runtime auto")


def installed_runtimes() -> list[str]:
    """Names of the runtimes that import here, in preference order."""
    found = []
    for name in PREFERENCE:
        try:
            _import(name)
        except ImportError:
            continue
        found.append(name)
    return found

