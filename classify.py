#!/usr/bin/env python3
"""Live action recognition on a Raspberry Pi camera (or a USB camera, a video file, a stream) with MoViNet.

    python classify.py                                   # Pi camera, shown on the monitor
    python classify.py --video clip.mp4 --display none --json
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from utils.config import DISPLAYS, RUNTIMES, Config
from utils.errors import ClassifierError

__version__ = "1.0.0"
PROG = "classify.py"


class ArgumentParser(argparse.ArgumentParser):
    """Bad flags end in one line on stderr (not the whole usage) and exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _number(kind, minimum, what: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < minimum or value != value:  # value != value catches NaN
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value
    return parse


positive_int = _number(int, 1, "a whole number of 1 or more")
non_negative_int = _number(int, 0, "a whole number of 0 or more")
non_negative_float = _number(float, 0.0, "a number of 0 or more")


def probability(text: str) -> float:
    value = non_negative_float(text)
    if value > 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1")
    return value


def label_list(text: str) -> list[str]:
    """'carving ice,juggling balls' -> two names (Kinetics labels contain no commas)."""
    return [name.strip() for name in text.split(",") if name.strip()]


class VersionAction(argparse.Action):
    """--version also names the runtime that would be used, found only when asked."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="show the version and the TFLite runtime, then exit")

    def __call__(self, parser, namespace, values, option_string=None):
        import cv2
        import numpy

        from utils.runtime import load_runtime
        try:
            runtime = str(load_runtime("auto"))
        except ClassifierError as e:
            runtime = f"none ({e})"
        print(f"{PROG} {__version__} (runtime {runtime}, OpenCV {cv2.__version__}, numpy {numpy.__version__})")
        parser.exit(0)


def build_parser() -> ArgumentParser:
    defaults = Config()
    p = ArgumentParser(
        prog=PROG, description="Recognise actions live from a camera or a video with a MoViNet stream model.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    model = p.add_argument_group("model")
    model.add_argument("--model", type=Path, default=defaults.model, help="MoViNet stream .tflite model")
    model.add_argument("--labels", "--label", type=Path, default=defaults.labels,
                       help="label file, one class name a line")
    model.add_argument("--runtime", choices=RUNTIMES, default="auto",
                       help="TFLite runtime; auto tries ai-edge-litert, tflite-runtime, tensorflow")
    model.add_argument("--num-threads", "--numThreads", type=positive_int, default=defaults.num_threads,
                       help="CPU threads for inference (default: all cores)")
    model.add_argument("--window", type=non_negative_float, default=defaults.window_seconds, metavar="SECONDS",
                       dest="window_seconds",
                       help="remember only the last SECONDS of video, so a new action shows quickly "
                            "even after hours; 0 = the model's unbounded memory")
    results = p.add_argument_group("results")
    results.add_argument("--max-results", "--maxResults", type=positive_int, default=defaults.max_results,
                         help="how many labels to show")
    results.add_argument("--score-threshold", "--scoreThreshold", type=probability,
                         default=defaults.score_threshold, help="hide labels scoring below this (0..1)")
    results.add_argument("--allow", type=label_list, action="extend", default=[], metavar="LABELS",
                         help="only report these labels (comma-separated exact names; repeatable)")
    results.add_argument("--deny", type=label_list, action="extend", default=[], metavar="LABELS",
                         help="never report these labels (comma-separated exact names; repeatable)")
    results.add_argument("--smoothing", type=probability, default=defaults.smoothing,
                         help="smooth the scores over time (0 = off, 0.7 = calm); must be below 1")
    source = p.add_argument_group("source (default: the Pi camera, else USB camera 0)")
    source.add_argument("--camera-id", "--cameraId", type=non_negative_int, default=None,
                        help="USB/V4L2 camera number (/dev/videoN) read through OpenCV")
    source.add_argument("--video", default=None, help="video file or RTSP/HTTP URL instead of a camera")
    source.add_argument("--width", "--frameWidth", type=positive_int, default=defaults.width, help="camera width")
    source.add_argument("--height", "--frameHeight", type=positive_int, default=defaults.height,
                        help="camera height")
    source.add_argument("--fps", type=non_negative_float, default=defaults.fps,
                        help="frames classified per second, chosen by frame timestamp; 0 = every frame")
    source.add_argument("--realtime", action="store_true", help="play video files at their own speed")
    output = p.add_argument_group("output")
    output.add_argument("--display", choices=DISPLAYS, default=defaults.display,
                        help="where to show the video: auto finds the screen (also over SSH)")
    output.add_argument("--fullscreen", action="store_true", help="start the window full screen (key f toggles)")
    output.add_argument("--web", action="store_true",
                        help="also serve the live view to a browser (what --display web does alone)")
    output.add_argument("--web-host", default=defaults.web_host,
                        help="address the web view listens on; 0.0.0.0 lets other computers in")
    output.add_argument("--web-port", type=positive_int, default=defaults.web_port, help="port of the web view")
    output.add_argument("--json", action="store_true",
                        help="print one JSON object per classified frame on stdout (logs go to stderr)")
    p.add_argument("--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action=VersionAction)
    return p


def config_from_args(args: argparse.Namespace) -> Config:
    options = vars(args).copy()
    for key in ("verbose", "version"):
        options.pop(key, None)
    options["allow"] = tuple(options["allow"])
    options["deny"] = tuple(options["deny"])
    return Config(**options)


def install_signal_handlers(stop: threading.Event) -> None:
    """Ctrl-C and SIGTERM finish the current frame and close the camera and window; a second one forces."""
    def handle(signum, _frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s",
                        stream=sys.stderr)
    stop = threading.Event()
    install_signal_handlers(stop)
    try:
        from utils.pipeline import run  # after parsing, so --help and flag errors are instant

        run(config_from_args(args), stop)
    except ClassifierError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
