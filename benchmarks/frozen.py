"""A camera whose picture freezes: the events and window restarts it causes, with and without the app's check.

    python -m benchmarks.frozen --clips shared,val --threads 1 > frozen.json

Each clip is looped for 2 minutes at 5 fps with benchmarks/perturb.py's freeze at 60 s (the last frame repeated,
bit for bit, for 10 s, then the footage from where it stopped) and played as a live camera through the app's own
loop in process (utils/pipeline.build_pipeline, with `--event` for the clip's own action), four ways:

- none: no freeze (what the clip does by itself);
- fed: the freeze, with the frozen-picture check off: every repeated frame reaches the model (the app before it);
- checked: the freeze, with the app's check (utils/sources/frozen.py);
- offline: the camera away for the same 10 s, sending nothing (the outage the check is meant to mirror).

Per run: the clip's events (stream seconds), whether one ended within 30 s after the freeze (not at the stream's
end), the changes of action the window's test found within 20 s after it, and the stream's fresh starts after an
outage. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import perturb  # noqa: E402
from benchmarks.long_stream import (  # noqa: E402
    CHANGE_LOGGED,
    CHANGE_WITHIN,
    CLIP_SETS,
    FPS,
    PERTURB_AT,
    PERTURB_SECONDS,
    clip_frames,
    clip_set,
    ends_near,
)
from benchmarks.paths import LABELS, MODEL  # noqa: E402
from utils.config import Config  # noqa: E402
from utils.pipeline import build_pipeline, change_test, fresh_start, load_classifier, window_frames  # noqa: E402
from utils.sinks.events import make_event_sink  # noqa: E402
from utils.sources.frame import Frame  # noqa: E402
from utils.sources.health import SourceHealth  # noqa: E402

WAYS = ("none", "fed", "checked", "offline")


class PlayedCamera:
    """Prepared frames as a live camera delivers them: stamped at 5 fps as they arrive, each a buffer of its own;
    a None is a moment when no frame came (the outage a reconnecting source reports)."""

    live = True
    nominal_fps = float(FPS)
    description = "a played camera"

    def __init__(self, frames: list[np.ndarray | None]) -> None:
        self._items = self._play(frames)
        self.timestamp = 0.0  # of the latest frame: when the window's test logs a change

    def _play(self, frames: list[np.ndarray | None]) -> Iterator[Frame | SourceHealth]:
        away = SourceHealth(offline_since=1.0)
        for index, image in enumerate(frames):
            self.timestamp = index / FPS
            yield away if image is None else Frame(image.copy(), self.timestamp, index)

    def read(self) -> Frame | SourceHealth | None:
        return next(self._items, None)

    def close(self) -> None:
        pass


class Counter(logging.Handler):
    """The stream times of the window's restarts (a change of action) and of the fresh starts after an outage."""

    def __init__(self, camera: PlayedCamera) -> None:
        super().__init__(logging.DEBUG)
        self.camera = camera
        self.changes: list[float] = []
        self.resets: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if CHANGE_LOGGED.match(message):
            self.changes.append(self.camera.timestamp)
        elif message == "stream reset":
            self.resets.append(self.camera.timestamp)


def played(loop: list[np.ndarray], way: str) -> list[np.ndarray | None]:
    """The frames of one way of playing the clip (see the module's docstring)."""
    count, at = PERTURB_SECONDS * FPS, PERTURB_AT * FPS
    frames: list[np.ndarray | None] = list(perturb.perturbed(loop, count, at, None if way == "none" else "freeze",
                                                             FPS))
    if way == "offline":
        frozen = round(perturb.FREEZE_SECONDS * FPS)
        frames[at:at + frozen] = [None] * frozen
    return frames


def run(label: str, frames: list[np.ndarray | None], check: bool, threads: int, folder: Path) -> dict:
    """One run through the app's loop: the clip's events, the window's changes and the fresh starts (seconds)."""
    config = Config.from_options(model=MODEL, labels=LABELS, num_threads=threads, event=(label,),
                                 events_dir=folder, display="none")
    classifier, prediction_filter = load_classifier(config)
    camera = PlayedCamera(frames)
    classifier.set_window(window_frames(config, camera), change_test(config, camera), fresh_start(config, camera))
    events = make_event_sink(config.events, camera.description, camera.nominal_fps, live=True)
    counter = Counter(camera)
    loggers = [logging.getLogger(name) for name in ("utils.model.stream_classifier", "utils.pipeline")]
    for logger in loggers:
        logger.addHandler(counter)
        logger.setLevel(logging.DEBUG)
    try:
        pipeline = build_pipeline(config, classifier, prediction_filter, None, camera, [events])
        if not check:
            pipeline.frozen = None  # the app before the check: every frame reaches the model
        pipeline.run()
    finally:
        events.close()
        for logger in loggers:
            logger.removeHandler(counter)
    at, end = float(PERTURB_AT), len(frames) / FPS
    ours = [[round(e.start, 1), round(e.end or end, 1)] for e in events.events if e.label == label]
    return {"events": ours, "ends_near": sum(ends_near(e_end, at, end) for _, e_end in ours),
            "changes_near": sum(at <= t < at + CHANGE_WITHIN for t in counter.changes),
            "changes": [round(t, 1) for t in counter.changes], "resets": [round(t, 1) for t in counter.resets],
            "classified": pipeline.classified}


def summary(runs: list[dict]) -> dict:
    return {"clips": len(runs),
            "clips_with_ends_near": sum(r["ends_near"] > 0 for r in runs),
            "clips_split": sum(len(r["events"]) > 1 for r in runs),
            "events": sum(len(r["events"]) for r in runs),
            "changes_near": sum(r["changes_near"] for r in runs),
            "clips_with_changes_near": sum(r["changes_near"] > 0 for r in runs),
            "resets": sum(len(r["resets"]) for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default="shared",
                        help=f"comma-separated, of: {', '.join(CLIP_SETS)} (as benchmarks.long_stream)")
    parser.add_argument("--threads", type=int, default=1, help="the model's threads")
    args = parser.parse_args()
    try:
        clips = clip_set(args.clips)
    except ValueError as e:
        parser.error(str(e))
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().handlers[0].setLevel(logging.WARNING)  # the counter's DEBUG records stay out of stderr
    report: dict = {"fps": FPS, "seconds": PERTURB_SECONDS, "frozen_at": PERTURB_AT,
                    "frozen_seconds": perturb.FREEZE_SECONDS, "clips": {}}
    with tempfile.TemporaryDirectory() as folder:
        for label, path in clips.items():
            loop = clip_frames(path)
            report["clips"][label] = runs = {}
            for way in WAYS:
                runs[way] = run(label, played(loop, way), way == "checked", args.threads, Path(folder) / label / way)
            print(f"{label}: " + "; ".join(f"{way} {r['events']}, {r['changes_near']} changes"
                                           for way, r in runs.items()), file=sys.stderr)
    sets = {"all": list(clips), **{name: [label for label in CLIP_SETS[name]() if label in clips]
                                   for name in args.clips.split(",")}}
    report["summary"] = {name: {way: summary([report["clips"][label][way] for label in labels]) for way in WAYS}
                         for name, labels in sets.items() if labels}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
