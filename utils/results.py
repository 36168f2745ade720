"""Prediction and Result: what the model side hands to the sinks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float
    taught: bool = False  # an action the user taught, not one of the model's labels


@dataclass(frozen=True)
class Result:
    """One classified frame. Timestamps are in seconds of the source's clock."""

    frame: int
    timestamp: float
    inference_ms: float
    predictions: tuple[Prediction, ...]
    # With the motion gate: True when nothing moved, so the model was not run (no predictions, no action);
    # None without a gate, and then the JSON has no "still" key, as before.
    still: bool | None = None

    def as_dict(self) -> dict:
        gate = {} if self.still is None else {"still": self.still}
        return {
            "frame": self.frame,
            "timestamp": round(self.timestamp, 6),
            "inference_ms": round(self.inference_ms, 3),
            "results": [{"label": p.label, "score": round(p.score, 6), **({"taught": True} if p.taught else {})}
                        for p in self.predictions],
            **gate,
        }
