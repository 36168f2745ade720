"""The benchmark's yardstick: a video loop written the way the TF Lite Raspberry Pi example does it.

    python -m benchmarks.baseline --video clip.mp4        # one JSON line per classified frame

It follows tensorflow/examples lite/examples/video_classification/raspberry_pi (classify.py and
video_classifier.py) step by step: OpenCV decodes every frame; a picked frame is converted to RGB
whole, resized and scaled to float32; the signature runner is called with a dict of the 43 states
and its output dict becomes the next call's states; softmax is taken without subtracting the
max; all 600 labels are sorted with `sorted` and a lambda, wrapped in Category tuples and
filtered by the score threshold before the top ones are kept. Two changes make it comparable to
`classify.py --display none --json`: frames are picked by timestamp with the project's 5 fps
FrameSampler (the example picks by wall clock), and there is no window (no mirroring, no text,
no imshow). Imports are kept to what the loop needs, so its start-up is not charged extra.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from benchmarks.paths import LABELS, MODEL
from utils.errors import ClassifierError
from utils.model.runtime import load_runtime
from utils.sampler import FrameSampler
from utils.sources.opencv import container_timestamp


class Category(NamedTuple):
    label: str
    score: float


class ExampleClassifier:
    """The example's VideoClassifier: signature runner, states in a dict, post-processing in Python."""

    def __init__(self, model: Path, labels: Path, num_threads: int, runtime: str = "auto",
                 max_results: int = 3, score_threshold: float = 0.0) -> None:
        interpreter = load_runtime(runtime).interpreter_class(model_path=str(model), num_threads=num_threads)
        self._runner = interpreter.get_signature_runner()
        self._labels = [line.rstrip("\n") for line in Path(labels).read_text(encoding="utf-8").splitlines()]
        shape = self._runner.get_input_details()["image"]["shape"]
        self._height, self._width = int(shape[2]), int(shape[3])
        self.max_results = max_results
        self.score_threshold = score_threshold
        self.clear()

    def clear(self) -> None:
        """Zero states, one array per state input."""
        details = self._runner.get_input_details()
        self._states = {name: np.zeros(d["shape"], d["dtype"]) for name, d in details.items() if name != "image"}

    def classify(self, rgb: np.ndarray) -> list[Category]:
        resized = cv2.resize(rgb, (self._width, self._height))[np.newaxis, np.newaxis]
        image = np.float32(resized - 0) / 255
        outputs = self._runner(**self._states, image=image)
        logits = outputs.pop("logits")
        self._states = outputs
        exp = np.exp(np.squeeze(logits, axis=0))
        probabilities = exp / np.sum(exp)
        order = sorted(range(len(probabilities)), key=lambda i: probabilities[i], reverse=True)
        categories = [Category(self._labels[i], probabilities[i]) for i in order]
        categories = [c for c in categories if c.score >= self.score_threshold]
        return categories[: self.max_results]


def run(video: str, classifier: ExampleClassifier, fps: float = 5.0):
    """Decodes every frame and yields (frame index, timestamp, categories) for the frames classified."""
    capture = cv2.VideoCapture(video)
    if not capture.isOpened():
        raise ClassifierError(f"cannot open video {video}")
    sampler = FrameSampler(fps)
    nominal_fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    index = 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            timestamp = container_timestamp(capture, index, nominal_fps)
            if sampler.should_classify(timestamp):
                frame_rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
                yield index, timestamp, classifier.classify(frame_rgb)
            index += 1
    finally:
        capture.release()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.baseline", description=__doc__.splitlines()[0])
    p.add_argument("--video", required=True, help="video file")
    p.add_argument("--model", type=Path, default=MODEL)
    p.add_argument("--labels", type=Path, default=LABELS)
    p.add_argument("--runtime", default="auto", help="auto, ai-edge-litert, tflite-runtime or tensorflow")
    p.add_argument("--num-threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--fps", type=float, default=5.0, help="frames classified per second, by timestamp")
    p.add_argument("--max-results", type=int, default=3)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        classifier = ExampleClassifier(args.model, args.labels, args.num_threads, args.runtime, args.max_results)
        for index, timestamp, categories in run(args.video, classifier, args.fps):
            line = {"frame": index, "timestamp": round(timestamp, 6),
                    "results": [{"label": c.label, "score": round(float(c.score), 6)} for c in categories]}
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
    except ClassifierError as e:
        sys.stderr.write(f"benchmarks.baseline: error: {e}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
