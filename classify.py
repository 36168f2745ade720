#!/usr/bin/env python3
"""Live action recognition on a Raspberry Pi camera (or a USB camera, a video file, a stream) with MoViNet.

    python classify.py                                   # Pi camera, shown on the monitor
    python classify.py --video clip.mp4 --display none --json
    python classify.py --teach "my dog on the sofa"          # teach an action from the next 5 s of the camera
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys

from utils import __version__
from utils.areas import area_numbers
from utils.cli_help import EXAMPLES, HelpFormatter, spaced_path, with_suggestions
from utils.config import (
    BOUNDS,
    DEFAULT_TEACH_SECONDS,
    DISPLAYS,
    RUNTIMES,
    TAUGHT_MODES,
    Config,
    flag,
    gpio_pin,
    label_list,
    non_empty_path,
    web_origins,
)
from utils.errors import ClassifierError
from utils.heap import keep_heap_compact
from utils.native_stderr import separate_native_stderr
from utils.stop import Stop

PROG = "classify.py"


class ArgumentParser(argparse.ArgumentParser):
    """Bad flags end in one line on stderr (not the whole usage), naming the closest flag to a misspelt one, and
    exit 2."""

    argv: list[str] = []

    def parse_known_args(self, args=None, namespace=None):
        self.argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def print_help(self, file=None):
        """--help: into a closed or full stdout it is one line and exit 2, as --version (argparse would exit 0)."""
        if file is not None:
            super().print_help(file)
        else:
            print_and_exit(self, self.format_help().rstrip("\n"))

    def error(self, message: str):
        if (found := re.match(r"argument ([\w/-]+): expected one argument$", message)):
            # argparse takes a value that starts with '-' (other than a plain negative number) for a flag
            spellings, argv = found[1].split("/"), self.argv
            if any(a in spellings and b.startswith("-") and b.split("=")[0] not in self._option_string_actions
                   for a, b in zip(argv, argv[1:])):
                message += f"; a value that starts with '-' goes after '=': {spellings[0]}=-..."
        message = with_suggestions(self, message)
        path_dests = [action.dest for action in self._actions if action.type is path or action.dest == "video"]
        if message.startswith("unrecognized arguments:") and (given := spaced_path(self, self.argv, path_dests)):
            message += f"; did you mean {given}? quote a path that holds spaces"
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class VersionAction(argparse.Action):
    """--version also names the runtime that would be used, found only when asked."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="show the version and the TFLite runtime, then exit")

    def __call__(self, parser, namespace, values, option_string=None):
        import cv2
        import numpy

        from utils.model.runtime import load_runtime
        try:
            runtime = str(load_runtime("auto"))
        except ClassifierError as e:
            runtime = f"none ({e})"
        print_and_exit(parser, f"{PROG} {__version__} (runtime {runtime}, OpenCV {cv2.__version__}, "
                               f"numpy {numpy.__version__})")


class ListCamerasAction(argparse.Action):
    """--list-cameras: what --pi-camera and --camera-id can open, then exit."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="list the Pi and USB cameras, then exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from utils.sources.camera_list import list_cameras

        print_and_exit(parser, list_cameras())


def print_and_exit(parser: argparse.ArgumentParser, text: str) -> None:
    """What --version and --list-cameras print, then exit 0; stdout closed or full: one line, exit 2."""
    try:
        print_out(text)
    except ClassifierError as e:
        parser.exit(2, f"{PROG}: error: {e}\n")
    parser.exit(0)


def print_out(text: str) -> None:
    """Prints `text` on stdout; a stdout that is closed or full (| true, > /dev/full) is a ClassifierError."""
    try:
        print(text, flush=True)
    except OSError as e:
        from utils.sinks.json_lines import discard_output  # (here only: it imports OpenCV)

        discard_output(sys.stdout)
        raise ClassifierError(f"cannot write to stdout: {e.strerror or e}") from e


def flag_type(parse, name: str):
    """argparse's type= from a parser that raises ValueError: its message becomes the flag's one error line
    (argparse would only say "invalid <function> value")."""
    def checked(text: str):
        try:
            return parse(text)
        except ValueError as e:
            got = "" if repr(text) in str(e) else f", got {text!r}"
            raise argparse.ArgumentTypeError(f"{e}{got}") from None
    checked.__name__ = name
    return checked


gpio_flag = flag_type(gpio_pin, "LABEL=PIN")
label_names = flag_type(label_list, "LABELS")
web_origin_list = flag_type(web_origins, "ORIGIN[,ORIGIN]")
path = flag_type(non_empty_path, "path")
area_flag = flag_type(area_numbers, "X,Y,W,H")  # the areas themselves are checked once all are given


def area_text(text: str) -> str:
    """--crop's text, once it holds numbers (its area is checked as the config is built, as from a config file)."""
    area_numbers(text)
    return text


crop_flag = flag_type(area_text, "X,Y,W,H")


def motion_flag(text: str) -> str:
    from utils.config import motion_mode

    try:
        return motion_mode(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--motion ")) from None


def number(name: str):
    """argparse's type= for an option with a Bound: the range is checked at parse time (exit 2)."""
    return BOUNDS[name].parse


def allowed(name: str) -> str:
    """The range of an option, for its --help line."""
    return BOUNDS[name].describe()


def build_parser() -> ArgumentParser:
    defaults = Config.from_options()
    classifier, results, source, output = defaults.classifier, defaults.results, defaults.source, defaults.output
    events = defaults.events
    p = ArgumentParser(
        prog=PROG, description="Recognise actions live from a camera or a video with a MoViNet stream model.",
        formatter_class=HelpFormatter, epilog=EXAMPLES)
    model = p.add_argument_group("model")
    model.add_argument("--model", type=path, default=classifier.model,
                       help="MoViNet stream .tflite model (relative paths: from the current folder)")
    model.add_argument("--labels", "--label", type=path, default=classifier.labels,
                       help="label file, one class name a line")
    model.add_argument("--runtime", choices=RUNTIMES, default="auto",
                       help="TFLite runtime; auto tries ai-edge-litert, tflite-runtime, tensorflow")
    model.add_argument("--num-threads", "--numThreads", type=number("num_threads"), default=classifier.num_threads,
                       help=f"CPU threads for inference, {allowed('num_threads')} "
                            "(default: all cores, here %(default)s)")
    model.add_argument("--window", type=number("window_seconds"), default=classifier.window_seconds,
                       metavar="SECONDS", dest="window_seconds",
                       help="average the last SECONDS of the current action; a change of action restarts the "
                            "window, so a new action shows within about 2 s even after hours; 0 = the model's "
                            f"unbounded memory; {allowed('window_seconds')}")
    model.add_argument("--fixed-window", action="store_true",
                       help="never restart the window at a change of action: a plain sliding window, slower to switch")
    model.add_argument("--fresh-start", action="store_true",
                       help="at a suspected change of action, also run a second stream from zero states, from where "
                            "the action changed, and let it take over when the change is confirmed and it names a new "
                            "action (up to 4 extra invokes a frame while it runs; off: slower on some actions, see "
                            "docs/long-runs.md)")
    model.add_argument("--smoothing", type=number("smoothing"), default=classifier.smoothing,
                       help=f"smooth the scores over time (0 = off, 0.7 = calm); {allowed('smoothing')}")
    group = p.add_argument_group("results")
    group.add_argument("--max-results", "--maxResults", type=number("max_results"), default=results.max_results,
                       help=f"how many labels to show, {allowed('max_results')}")
    group.add_argument("--score-threshold", "--scoreThreshold", type=number("score_threshold"),
                       default=results.score_threshold,
                       help=f"hide labels scoring below this, {allowed('score_threshold')}")
    group.add_argument("--allow", type=label_names, action="extend", default=[], metavar="LABELS",
                       help="only report these labels (comma-separated exact names; repeatable)")
    group.add_argument("--deny", type=label_names, action="extend", default=[], metavar="LABELS",
                       help="never report these labels (comma-separated exact names; repeatable)")
    group = p.add_argument_group("source (default: the Pi camera, else USB camera 0)")
    group.add_argument("--camera-id", "--cameraId", type=number("camera_id"), default=None,
                       help=f"USB/V4L2 camera number (/dev/videoN) read through OpenCV, {allowed('camera_id')}")
    group.add_argument("--pi-camera", type=number("pi_camera"), default=None, metavar="N",
                       help="which Pi camera (a Pi 5 has two connectors), counted as --list-cameras shows them, "
                            f"{allowed('pi_camera')}")
    group.add_argument("--list-cameras", action=ListCamerasAction)
    group.add_argument("--video", default=None,
                       help="video file or URL instead of a camera; a live RTSP/HTTP stream is reopened after an "
                            "outage, a URL of a file (.mp4 over HTTP, file://) is read like a file")
    group.add_argument("--width", "--frameWidth", type=number("width"), default=source.width,
                       help=f"camera width, {allowed('width')}")
    group.add_argument("--height", "--frameHeight", type=number("height"), default=source.height,
                       help=f"camera height, {allowed('height')}")
    group.add_argument("--fps", type=number("fps"), default=source.fps,
                       help="frames classified per second, chosen by frame timestamp; 0 = every frame; "
                            f"{allowed('fps')}")
    group.add_argument("--realtime", action="store_true", help="play video files at their own speed")
    group = p.add_argument_group("motion: run the model only while something moves")
    group.add_argument("--motion", type=motion_flag, default=defaults.motion.motion, metavar="auto|on|off|PERCENT",
                       help="skip the model while nothing moves (it says 'still'); auto = on for cameras and "
                            "streams, off for files; PERCENT = the share of the picture that must change "
                            "(on = 1)")
    group.add_argument("--motion-mask", type=area_flag, action="extend", default=[], metavar="X,Y,W,H",
                       help="areas where nothing counts as motion (a TV, a tree, a busy window), in fractions "
                            "of the picture (0..1): x,y of the top-left corner, width, height; several areas: "
                            "more groups of four, or the flag again")
    group.add_argument("--crop", type=crop_flag, default=None, metavar="X,Y,W,H",
                       help="classify only this part of the picture (fractions 0..1, like --motion-mask), e.g. "
                            "a far corner of a wide view; motion is looked for there too")
    group = p.add_argument_group("output")
    group.add_argument("--display", choices=DISPLAYS, default=output.display,
                       help="where to show the video: auto finds the screen (also over SSH)")
    group.add_argument("--fullscreen", action="store_true", help="start the window full screen (key f toggles)")
    group.add_argument("--web", action="store_true",
                       help="also serve the live view to a browser (what --display web does alone)")
    group.add_argument("--web-host", default=output.web_host,
                       help="address the web view listens on; 0.0.0.0 (or ::) lets other computers in, and then "
                            "needs a password in the environment (WEB_PASSWORD) or --web-insecure")
    group.add_argument("--web-port", type=number("web_port"), default=output.web_port,
                       help=f"port of the web view, {allowed('web_port')}")
    group.add_argument("--web-insecure", action="store_true",
                       help="let other computers use the web view without a password: anyone who reaches it can "
                            "watch the camera and reset the stream")
    group.add_argument("--web-embed-from", type=web_origin_list, action="extend", default=[],
                       metavar="ORIGIN[,ORIGIN]",
                       help="let pages of these origins show the web view in a frame, such as Home Assistant's "
                            "webpage card: http://homeassistant.local:8123 (default: no other page may frame it)")
    group.add_argument("--json", action="store_true",
                       help="print one JSON object per classified frame on stdout (logs go to stderr)")
    mqtt, group = defaults.mqtt, p.add_argument_group("MQTT and Home Assistant")
    group.add_argument("--mqtt", metavar="URL", default=None,
                       help="publish results and events to this broker: mqtt://[user@]host[:port], or mqtts:// for "
                            "TLS; the password comes from MQTT_PASSWORD (never a flag: `ps` shows flags)")
    group.add_argument("--mqtt-ca", metavar="FILE", type=path, default=None,
                       help="CA certificate of an mqtts:// broker (default: the system's CA store)")
    group.add_argument("--name", default=mqtt.name,
                       help="this camera's name in the topics, in Home Assistant and in the web view's titles")
    group.add_argument("--mqtt-prefix", default=mqtt.mqtt_prefix, help="first level of the topics")
    group.add_argument("--ha-discovery", action=argparse.BooleanOptionalAction, default=mqtt.ha_discovery,
                       help="announce the camera to Home Assistant (retained configs under homeassistant/)")
    group.add_argument("--mqtt-required", action="store_true",
                       help="exit (code 2) when the broker cannot be used at start, instead of classifying without it")
    group.add_argument("--mqtt-live-image", type=number("mqtt_live_image"), default=None, metavar="SECONDS",
                       help="also publish the camera's picture (a small JPEG, without the overlay) every SECONDS "
                            f"as Home Assistant's Live image ({allowed('mqtt_live_image')}; default: off)")
    group = p.add_argument_group("events: act on what it sees")
    group.add_argument("--event", type=label_names, action="extend", default=[], metavar="LABELS",
                       help="watch these actions (comma-separated exact names; repeatable; 'any' = whatever is "
                            "top-1): each start and end goes to events.jsonl in --events-dir")
    group.add_argument("--event-threshold", type=number("event_threshold"), default=events.event_threshold,
                       help=f"the score a watched action needs as top-1, {BOUNDS['event_threshold'].describe()}")
    group.add_argument("--event-min-seconds", type=number("event_min_seconds"), default=events.event_min_seconds,
                       help="an event starts after the action has been top-1 at the threshold this many seconds, "
                            f"{BOUNDS['event_min_seconds'].describe()}")
    group.add_argument("--event-end-seconds", type=number("event_end_seconds"), default=events.event_end_seconds,
                       help="an event ends after the action has been below the threshold (or not top-1) this many "
                            f"seconds, {BOUNDS['event_end_seconds'].describe()}")
    group.add_argument("--event-floor", type=number("event_floor"), default=events.event_floor, metavar="X",
                       help="also start an event once a watched action has been top-1 at X or more (below the "
                            "threshold) for --event-floor-seconds, and hold it while it stays so: catches actions the "
                            f"model names steadily at modest scores, at the cost of more false events "
                            f"({allowed('event_floor')}; default: off)")
    group.add_argument("--event-floor-seconds", type=number("event_floor_seconds"),
                       default=events.event_floor_seconds, metavar="S",
                       help=f"how long the top-1 at --event-floor must last, {allowed('event_floor_seconds')}")
    group.add_argument("--event-hold", type=number("event_hold"), default=events.event_hold, metavar="X",
                       help="an event that has started lasts while its action stays top-1 at X or more (0: at any "
                            "score): holds events through dimmed lights, but ends them later when the next action "
                            f"takes a while to take over; starts no event ({allowed('event_hold')}; default: off)")
    group.add_argument("--events-dir", type=path, default=events.events_dir,
                       help="folder of events.jsonl, clips and snapshots")
    group.add_argument("--record", action="store_true",
                       help="save an MP4 clip (pre-roll + event + post-roll) and a JPEG snapshot of each event")
    group.add_argument("--pre-roll", type=number("pre_roll"), default=events.pre_roll, metavar="SECONDS",
                       help=f"seconds of video before the event start in each clip, {BOUNDS['pre_roll'].describe()}")
    group.add_argument("--post-roll", type=number("post_roll"), default=events.post_roll, metavar="SECONDS",
                       help=f"seconds of video after the event end in each clip, {BOUNDS['post_roll'].describe()}")
    group.add_argument("--events-max-mb", type=number("events_max_mb"), default=events.events_max_mb,
                       metavar="MB", help="the oldest clips and snapshots are deleted beyond this (the journal stays), "
                                          f"{BOUNDS['events_max_mb'].describe()}")
    group.add_argument("--webhook", metavar="URL", default=None,
                       help="POST each event's start and end JSON to this http(s) URL")
    group.add_argument("--gpio", type=gpio_flag, action="append", default=[], metavar="LABEL=PIN",
                       help="on a Pi, drive GPIO pin PIN (BCM number) high while LABEL's event lasts; 'any=PIN' "
                            "for every event; repeatable")
    taught = defaults.taught
    group = p.add_argument_group("taught actions: teach it your own")
    commands = group.add_mutually_exclusive_group()
    commands.add_argument("--teach", metavar="NAME", default=None,
                          help="learn NAME (any text without '/') from --video's part, or from the camera: a "
                               "countdown, then --teach-seconds of video; the t key and the web view's button "
                               "teach it again; teaching a name again adds to it")
    commands.add_argument("--teach-background", metavar="NAME", default=None,
                          help="record what the camera sees when the taught action NAME is not happening (e.g. right "
                               "after it), as --teach records NAME: NAME then holds in a room where other things "
                               "happen")
    commands.add_argument("--actions", action="store_true", help="list the taught actions, then exit")
    commands.add_argument("--forget", metavar="NAME", default=None, help="remove the taught action NAME, then exit")
    group.add_argument("--last", action="store_true",
                       help="with --forget NAME: undo only its last session, of the action or of its background "
                            "(the action's only one: the action)")
    # No default shown for the part: argparse would say "None" where the text says what it means.
    group.add_argument("--teach-from", type=number("teach_from"), default=argparse.SUPPRESS, metavar="SECONDS",
                       help=f"with --video: where the part to learn from starts (default: its start), "
                            f"{allowed('teach_from')}")
    group.add_argument("--teach-to", type=number("teach_to"), default=argparse.SUPPRESS, metavar="SECONDS",
                       help=f"with --video: where it ends (default: its end), {allowed('teach_to')}")
    group.add_argument("--teach-seconds", type=number("teach_seconds"), default=argparse.SUPPRESS, metavar="SECONDS",
                       help=f"how long the camera records (default: {DEFAULT_TEACH_SECONDS:g}); with --video, the "
                            f"part's length; {allowed('teach_seconds')}")
    group.add_argument("--teach-countdown", type=number("teach_countdown"), default=taught.teach_countdown,
                       metavar="SECONDS", help="from the camera: time to get into the picture before recording, "
                                               f"{allowed('teach_countdown')}")
    group.add_argument("--taught", choices=TAUGHT_MODES, default=taught.taught,
                       help="report the taught actions beside the model's labels, alone, or not at all")
    group.add_argument("--actions-dir", type=path, default=taught.actions_dir, metavar="DIR",
                       help="the folder of the taught actions")
    p.add_argument("--config", type=path, default=None, metavar="FILE",
                   help="read options from a TOML file (keys: the flags' names, e.g. event-threshold = 0.7); "
                        "flags on the command line win")
    p.add_argument("--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action=VersionAction)
    return p


# flags that are not options of the run
CLI_ONLY = ("verbose", "version", "config", "actions", "forget", "last", "list_cameras", "from_config_file")


class Unset(list):
    """Stands for an option the command line does not give: argparse keeps a namespace's values as defaults, and
    a list lets its extend and append actions copy it."""


def given_on_command_line(argv: list[str] | None) -> set[str]:
    """The options the command line sets itself (they win over the config file)."""
    parser = build_parser()
    unset = {name: Unset() for name in vars(parser.parse_args([]))}
    parsed = vars(parser.parse_args(argv, argparse.Namespace(**unset)))
    return {name for name, value in parsed.items() if value is not unset.get(name)}  # .get: SUPPRESS defaults


def options_from_args(args: argparse.Namespace, argv: list[str] | None = None) -> dict[str, object]:
    """The run's options: the flags, over the config file's values (--config), over the defaults."""
    options = vars(args).copy()
    if args.config is not None:
        from utils.config_file import read_config_file

        given = given_on_command_line(argv)
        from_file = {k: v for k, v in read_config_file(args.config, ["verbose"]).items() if k not in given}
        options.update(from_file)
        options["from_config_file"] = tuple(from_file)  # to name the file in an error about one of them
    for key in ("allow", "deny", "event", "gpio", "motion_mask"):
        options[key] = tuple(options[key])
    if os.environ.get("WEB_PASSWORD"):  # never a flag (`ps` shows flags); else the config file's, if any
        options["web_password"] = os.environ["WEB_PASSWORD"]
    return options


def config_from_options(options: dict[str, object]) -> Config:
    """The Config; an error about an option the config file gave says which file, since the flag is not typed."""
    try:
        return Config.from_options(**{k: v for k, v in options.items() if k not in CLI_ONLY})
    except ClassifierError as e:
        message = str(e)
        from_file: tuple[str, ...] = options.get("from_config_file", ())  # type: ignore[assignment]
        named = next((key for key in from_file if re.match(re.escape(flag(key)) + r"\b(?!-)", message)), None)
        if named is None:
            raise
        raise ClassifierError(f"{message} (set by {named.replace('_', '-')} in {options['config']})") from None


def install_signal_handlers(stop: Stop) -> None:
    """Ctrl-C, SIGTERM and SIGHUP (a closed SSH session) finish the current frame and close the camera and
    window; before the frame loop runs, or on a second signal, they stop at once."""
    def handle(signum, _frame):
        if stop.deferred:
            stop.set()
            return
        if stop.is_set() or not stop.in_loop:
            raise KeyboardInterrupt
        stop.set()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handle)


def report(message: str) -> None:
    """One line on stderr, if anyone still reads it (an SSH session that closed cannot)."""
    try:
        print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    keep_heap_compact()  # before any thread starts
    args = build_parser().parse_args(argv)
    try:
        options = options_from_args(args, argv)
    except ClassifierError as e:
        report(str(e))
        return 2
    verbose = bool(options["verbose"])
    messages = separate_native_stderr(show_native=verbose, error_prefix=f"{PROG}: error: ")
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s", stream=messages)
    logging.raiseExceptions = False  # a log line that cannot be written (stderr gone) is dropped, not a traceback
    stop = Stop()
    stop.deferred = True
    install_signal_handlers(stop)
    from utils.pipeline import run  # after parsing, so --help and flag errors are instant
    from utils.teach import taught_command

    stop.deferred = False
    if stop.is_set():  # a signal came while importing: nothing has started yet
        return 0
    try:
        config = config_from_options(options)
        output = taught_command(config, args.actions, args.forget, args.last, given_on_command_line(argv))
        if output is None:
            run(config, stop)
        else:
            if output.text:
                print_out(output.text)
            if output.problem:
                raise ClassifierError(output.problem)
    except ClassifierError as e:
        report(str(e))
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        stop.deferred = True  # the run is over: a signal now has nothing to stop
    return 0


def flushed(code: int) -> int:
    """`code`, once stdout and stderr are flushed: what cannot be written (stderr to /dev/full) is dropped, or
    the interpreter's own flush at exit would fail and turn any exit code into 120."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            from utils.sinks.json_lines import discard_output  # (here only: it imports OpenCV)

            discard_output(stream)
    return code


def missing_module(error: ModuleNotFoundError) -> str:
    """The line for a package that does not import: most often classify.py started by a Python other than .venv's
    (a new SSH session without `source .venv/bin/activate`)."""
    from utils.paths import PROJECT_DIR, shown

    venv = PROJECT_DIR / ".venv"
    if not (venv / "bin" / "python").exists():
        return f"{error}: run ./setup.sh first (it installs what classify.py needs into .venv)"
    if os.path.realpath(sys.prefix) != os.path.realpath(venv):
        return (f"{error}: {sys.executable} is not the project's Python; run {shown(venv / 'bin' / 'python')} "
                f"{shown(PROJECT_DIR / 'classify.py')}, or 'source {shown(venv / 'bin' / 'activate')}' first")
    return f"{error} in .venv: re-run ./setup.sh"


if __name__ == "__main__":
    try:
        exit_code = main()
    except ModuleNotFoundError as e:
        report(missing_module(e))
        exit_code = 2
    sys.exit(flushed(exit_code))
