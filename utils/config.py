"""Config, Prediction and Result: the typed values passed between the stages."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from utils.errors import ClassifierError

DISPLAYS = ("auto", "window", "drm", "web", "none")
RUNTIMES = ("auto", "ai-edge-litert", "tflite-runtime", "tensorflow")


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float


@dataclass(frozen=True)
class Result:
    """One classified frame. Timestamps are in seconds of the source's clock."""

    frame: int
    timestamp: float
    inference_ms: float
    predictions: tuple[Prediction, ...]

    def as_dict(self) -> dict:
        return {
            "frame": self.frame,
            "timestamp": round(self.timestamp, 6),
            "inference_ms": round(self.inference_ms, 3),
            "results": [{"label": p.label, "score": round(p.score, 6)} for p in self.predictions],
        }


@dataclass(frozen=True)
class Config:
    """Everything a run needs; built once by classify.py and passed down."""

    model: Path = Path("models/movinet_a0_stream_int8.tflite")
    labels: Path = Path("models/kinetics600_labels.txt")
    runtime: str = "auto"
    num_threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_results: int = 3
    score_threshold: float = 0.0
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    camera_id: int | None = None
    video: str | None = None
    width: int = 640
    height: int = 480
    fps: float = 5.0
    realtime: bool = False
    window_seconds: float = 4.0
    smoothing: float = 0.0
    display: str = "auto"
    fullscreen: bool = False
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    web: bool = False  # the web view beside any --display
    json: bool = False

    def __post_init__(self) -> None:
        checks = [
            (self.num_threads >= 1, f"--num-threads must be at least 1, got {self.num_threads}"),
            (self.max_results >= 1, f"--max-results must be at least 1, got {self.max_results}"),
            (0.0 <= self.score_threshold <= 1.0,
             f"--score-threshold must be between 0 and 1, got {self.score_threshold}"),
            (self.width > 0 and self.height > 0, f"--width/--height must be positive, got {self.width}x{self.height}"),
            (self.fps >= 0, f"--fps must be 0 (every frame) or positive, got {self.fps}"),
            (self.window_seconds >= 0, f"--window must be 0 (unbounded) or positive, got {self.window_seconds}"),
            (0.0 <= self.smoothing < 1.0, f"--smoothing must be in [0, 1), got {self.smoothing}"),
            (self.display in DISPLAYS, f"--display must be one of {', '.join(DISPLAYS)}, got {self.display!r}"),
            (self.runtime in RUNTIMES, f"--runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}"),
            (0 < self.web_port < 65536, f"--web-port must be 1..65535, got {self.web_port}"),
            (self.camera_id is None or self.camera_id >= 0, f"--camera-id must be 0 or more, got {self.camera_id}"),
            (self.camera_id is None or self.video is None, "give either --camera-id or --video, not both"),
        ]
        for ok, message in checks:
            if not ok:
                raise ClassifierError(message)


@dataclass(frozen=True)
class Status:
    """What the overlay and status line show beside the predictions."""

    capture_fps: float = 0.0
    classify_fps: float = 0.0
    inference_ms: float = 0.0
    model: str = ""
    threads: int = 0
    cpu_temp_c: float | None = None
    cpu_percent: float | None = None
