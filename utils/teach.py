"""classify.py's taught-actions commands: --teach NAME --video FILE, --teach-background NAME --video FILE,
--actions, --forget NAME.

Teaching from a camera or a stream is part of a normal run (utils/pipeline.py, with a countdown).
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Collection
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from utils.config import (
    Config,
    EventOptions,
    MotionOptions,
    MqttOptions,
    OutputOptions,
    ResultOptions,
    TaughtOptions,
    flag,
    option_fields,
)
from utils.errors import ClassifierError
from utils.model.taught.examples import ExampleRecorder
from utils.model.taught.features import observer
from utils.model.taught.loader import check_new_name
from utils.model.taught.store import (
    ActionStore,
    ModelIdentity,
    Session,
    background_hint,
    background_left,
    check_features,
    check_model,
    check_name,
    read_action,
)
from utils.paths import shown
from utils.pipeline import classified_rate, load_model, model_view, window_frames
from utils.sampler import FrameSampler
from utils.sources import open_source, video_length
from utils.sources.health import SourceHealth
from utils.sources.opencv import is_url

log = logging.getLogger(__name__)

TIME_TOLERANCE_S = 1e-3  # a frame stamped a hair before --teach-from (container rounding) still belongs to it
# An end given past the last frame by more than this is a mistake (a typo, the wrong clip), not a rounded length.
END_TOLERANCE_S = 1.0
BACKGROUND_HINT_SECONDS = 2.0  # the part a file's background hint suggests: the seconds right after the action
# The options only a live run uses (what is shown, reported and sent, events, the motion gate, the camera):
# the commands here exit without one, so they refuse them rather than ignore them. They do use the model, its
# runtime and threads, --fps and --window (teaching), --video, --crop (the part of the picture the action is
# taught from, as from a camera), the --teach-* options, --actions-dir and --json.
RUN_ONLY = (*(item.name for section in (ResultOptions, OutputOptions, MqttOptions, EventOptions, MotionOptions)
              for item in option_fields(section) if item.name not in ("json", "crop")),
            "fixed_window", "fresh_start", "smoothing", "camera_id", "pi_camera", "width", "height", "realtime",
            "taught")


@dataclass(frozen=True)
class CommandOutput:
    text: str  # for stdout
    problem: str | None = None  # one line for stderr, and exit code 2


def teaches_from_file(config: Config) -> bool:
    video = config.source.video
    return config.taught.teaching is not None and video is not None and not is_url(video)


def taught_command(config: Config, list_actions: bool = False, forget: str | None = None,
                   last: bool = False, given: Collection[str] = ()) -> CommandOutput | None:
    """Runs the command the flags ask for; None when they ask for a normal run (which may teach from a camera).
    `given`: the options the command line gives (a config file's, a service's, may hold a run's)."""
    if last and forget is None:
        raise ClassifierError("--last goes with --forget NAME: it undoes that action's last teaching session")
    if list_actions:
        refuse_run_options(given, "--actions", "it lists the taught actions and exits")
        return actions_listing(config)
    if forget is not None:
        refuse_run_options(given, "--forget", "it removes the action and exits")
        return said(config, *(forget_last_session(config, forget) if last else forget_action(config, forget)))
    if teaches_from_file(config):
        command = "--teach" if config.taught.teach is not None else "--teach-background"
        refuse_run_options(given, f"{command} from a file", "it records and exits", command)
        if config.taught.teach_countdown != TaughtOptions.teach_countdown:
            raise ClassifierError("--teach-countdown is for a camera (time to get into the picture); a file's part "
                                  "starts at --teach-from")
        return said(config, *teach_from_file(config))
    if config.taught.teach_from is not None or config.taught.teach_to is not None:
        raise ClassifierError("--teach-from and --teach-to choose a part of a --video file; from a camera or a "
                              "stream, --teach-seconds says how long to record")
    return None


def refuse_run_options(given: Collection[str], command: str, does: str, flag_name: str = "") -> None:
    """ClassifierError naming the run-only options `given` with a command that runs no live pipeline."""
    flags = [flag(name) for name in RUN_ONLY if name in given]
    if flags:
        verb, them = ("does", "it") if len(flags) == 1 else ("do", "them")
        raise ClassifierError(f"{', '.join(flags)} {verb} nothing with {command}: {does}; run {them} without "
                              f"{flag_name or command}")


def said(config: Config, text: str, record: dict) -> CommandOutput:
    """A command's outcome: its lines, or with --json one JSON object (the lines as its "message" and "hints")."""
    if not config.output.json:
        return CommandOutput(text)
    message, *hints = text.splitlines()
    return CommandOutput(json.dumps({**record, "message": message, "hints": hints}, ensure_ascii=False))


def teach_from_file(config: Config) -> tuple[str, dict]:
    """Teaches --teach NAME (or records its background, --teach-background NAME) from --video's part
    [--teach-from, --teach-to) and saves it; returns what was done, in words and as a record for --json.

    The stream starts fresh where the part starts, and every classified frame whose window holds a second of
    video gives one example, so a part must hold at least one second.
    """
    options, video = config.taught, str(config.source.video)
    background = options.teach_background is not None
    classifier, labels = load_model(config)
    name = check_name(str(options.teach_background)) if background else check_new_name(str(options.teach), labels)
    store = ActionStore(options.actions_dir)
    model = ModelIdentity.of(classifier.model_path)
    existing = store.read(name)
    if existing is None and background:
        raise store.missing(name)
    store.check_writable()
    if existing is not None:  # before the video is read: refused at once
        check_model(existing, model, store.path(name))
        check_features(existing, classifier.embedding_size, store.path(name))
    start = options.teach_from or 0.0
    end = options.teach_to if options.teach_to is not None else (
        start + options.teach_seconds if options.teach_seconds is not None else None)
    try:
        recorder, first_taught, last, frames, rate, length = record_part(config, classifier, start, end)
    except KeyboardInterrupt:  # Ctrl-C (classify.py's handler raises it outside the frame loop)
        log.warning("teaching %r was cut short: nothing saved", name)
        raise
    if first_taught is None:
        raise ClassifierError(f"--teach-from {start:g} s is beyond the end of {video} (its last frame is at "
                              f"{last:.1f} s)")
    if end is not None and end > last + END_TOLERANCE_S:
        asked = f"--teach-to {end:g} s" if options.teach_to is not None else \
            f"--teach-from {start:g} s + --teach-seconds {options.teach_seconds:g} s"
        raise ClassifierError(f"{asked} is beyond the end of {video} (its last frame is at {last:.1f} s): end the "
                              "part within the video, or leave --teach-to out to teach up to its end")
    last_second = first_taught + recorder.seconds  # with the last frame's own duration: never past the end asked
    part_end = last_second if end is None else min(last_second, end)
    part = f"{first_taught:.1f}-{part_end:.1f} s"
    if not len(recorder):
        raise ClassifierError(f"{video} gives only {recorder.seconds:.1f} s of video to teach from ({part}); "
                              "teaching needs at least 1 s: give a longer part or a longer clip")
    session = Session(round(recorder.seconds, 3), len(recorder), frames, rate, f"{Path(video).name} {part}")
    record = {"action": name, "background": background, "examples": len(recorder), "video": video,
              "from": round(first_taught, 3), "to": round(part_end, 3), "file": str(store.path(name))}
    if background:
        action = store.add_background(name, model, recorder.examples, session)
        return (f"recorded the background of {name!r}: {len(recorder)} examples from {part} of {video}; "
                f"{action.background_seconds:.1f} s of background in all; saved in {shown(store.path(name))}",
                record)
    action = store.add(name, model, recorder.examples, session)
    after = "--teach-from START --teach-to END"
    if end is not None and length >= end + BACKGROUND_HINT_SECONDS:  # the video holds the seconds after the part
        after = f"--teach-from {end:g} --teach-to {end + BACKGROUND_HINT_SECONDS:g}"
    hints = ["teach it again from another clip or moment for an action that holds beyond this one"
             if len(action.sessions) == 1 else "",
             "" if action.background else background_hint(name, f" --video {shlex.quote(video)} {after}")]
    return "\n".join([f"taught {name!r}: {len(recorder)} examples from {part} of {video}; {action.summary}; "
                      f"saved in {shown(store.path(name))}", *filter(None, hints)]), record


def record_part(config: Config, classifier, start: float, end: float | None):
    """The examples of --video's part [start, end), from a fresh stream: (recorder, the first frame's time or
    None when the part is beyond the end, the last frame's time, the window in frames, the classified rate, the
    video's length in seconds or 0 when it does not say)."""
    with closing(open_source(config.source, classifier.input_size)) as source:
        frames, rate = window_frames(config, source), classified_rate(config, source)
        classifier.set_window(frames)  # fresh, and never restarted: the part shows one action
        recorder = ExampleRecorder(rate, frames)
        observe = observer(classifier, rate)
        sampler = FrameSampler(config.source.fps)
        last, first_taught = 0.0, None
        while (frame := source.read()) is not None:
            if isinstance(frame, SourceHealth):  # a stream's stall: no frame this time
                continue
            last = frame.timestamp
            if frame.timestamp < start - TIME_TOLERANCE_S:
                continue
            if end is not None and frame.timestamp >= end - TIME_TOLERANCE_S:
                break
            if sampler.should_classify(frame.timestamp):
                first_taught = frame.timestamp if first_taught is None else first_taught
                classifier.classify(model_view(frame, config.motion.crop_area, classifier.input_size))
                recorder.add(observe())
    return recorder, first_taught, last, frames, rate, video_length(source)


def forget_action(config: Config, name: str) -> tuple[str, dict]:
    store = ActionStore(config.taught.actions_dir)
    path = store.remove(check_name(name))
    return f"forgot {name.strip()!r} ({shown(path)} removed)", {"action": name.strip(), "forgot": "action",
                                                                 "file": str(path), "removed": True}


def forget_last_session(config: Config, name: str) -> tuple[str, dict]:
    store = ActionStore(config.taught.actions_dir)
    name = check_name(name)
    before, background = store.remove_last_session(name)
    record = {"action": name, "forgot": "last background session" if background else "last session",
              "file": str(store.path(name)), "removed": before is None}
    if before is None:
        return f"forgot {name!r}: its only session was undone ({shown(store.path(name))} removed)", record
    if background:
        return (f"undid the last background session of {name!r}: {background_left(before)}, in "
                f"{shown(store.path(name))}", record)
    return f"undid the last session of {name!r}: {before.summary} left, in {shown(store.path(name))}", record


def actions_listing(config: Config) -> CommandOutput:
    """The taught actions: name, examples, seconds, sessions, when last taught, the model they belong to (a
    table, or JSON lines with --json, which list every session: when, from what, how long). A file that is not a
    taught action is a problem (exit 2) after the list."""
    store = ActionStore(config.taught.actions_dir)
    model_path = Path(config.classifier.model)
    model = ModelIdentity.of(model_path) if model_path.is_file() else None
    actions, problems = [], []
    for path in store.files():
        try:
            actions.append(read_action(path))
        except ClassifierError as e:
            problems.append(str(e))
    rows = [{"name": a.name, "examples": len(a.examples), "seconds": round(a.seconds, 3),
             "sessions": len(a.sessions), "model": a.model.file, "model_sha256": a.model.sha256,
             "this_model": model is not None and a.model.sha256 == model.sha256, "last_taught": a.last_taught,
             "history": history(a.sessions), "background_seconds": round(a.background_seconds, 3),
             "background_history": history(a.background.sessions if a.background else ())}
            for a in actions]
    if config.output.json:
        text = "\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
    elif not rows:  # a file that cannot be read is not "no taught actions": its problem is said alone
        text = "" if problems else f"no taught actions in {shown(store.folder)}; teach one with --teach NAME"
    else:
        text = table(rows, store)
    return CommandOutput(text, problems[0] if problems else None)


def history(sessions) -> list[dict]:
    return [{"when": s.taught, "source": s.source, "seconds": s.seconds} for s in sessions]


def table(rows: list[dict], store: ActionStore) -> str:
    header = ("name", "examples", "seconds", "sessions", "background", "last taught (UTC)", "model")
    cells = [(r["name"], str(r["examples"]), f"{r['seconds']:.1f}", str(r["sessions"]),
              f"{r['background_seconds']:.1f} s" if r["background_history"] else "none",
              r["last_taught"][:16].replace("T", " "),
              r["model"] + ("" if r["this_model"] else " (not the model in use)")) for r in rows]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *cells)]
    lines = ["  ".join(c.ljust(w) if i in (0, 5, 6) else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
             for line in (header, *cells)]
    return "\n".join([*(line.rstrip() for line in lines), f"({len(rows)} in {shown(store.folder)})"])
