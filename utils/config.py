"""Config: the run's options, one small frozen dataclass per concern, each checked once when it is built.

Every number has one Bound here, used by the flags (at parse time), by Config (when built in code or
from a config file) and by the benchmark, so a rule is written once.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import re
import socket
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from utils.areas import Area, parse_areas, parse_crop
from utils.broker_url import mqtt_string_problem, parse_broker_url, topic_name_problem
from utils.errors import ClassifierError
from utils.paths import DEFAULT_ACTIONS_DIR, DEFAULT_EVENTS_DIR, DEFAULT_LABELS, DEFAULT_MODEL

DISPLAYS = ("auto", "window", "drm", "web", "none")
RUNTIMES = ("auto", "ai-edge-litert", "tflite-runtime", "tensorflow")
TAUGHT_MODES = ("also", "only", "off")  # taught actions reported beside the model's labels, alone, or not at all
DEFAULT_TEACH_SECONDS = 5.0  # --teach from a camera records this long unless --teach-seconds says otherwise
MAX_THREADS = 64  # TFLite's thread pool is sized by this; 100000 threads end in a segfault


@dataclass(frozen=True)
class Bound:
    """The range a number may take: low..high, whole numbers only when `integer`, `high` left out when open."""

    low: float
    high: float
    integer: bool = False
    high_open: bool = False

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        low = f"{self.low:g}"
        high = f"{self.high:g}"
        if self.high_open:
            return f"{kind} from {low} to below {high}"
        return f"{kind} from {low} to {high}"

    def problem(self, value: float) -> str | None:
        """None when `value` is allowed, else what it must be."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            return f"must be {self.describe()}"
        too_high = value >= self.high if self.high_open else value > self.high
        if value < self.low or too_high or (self.integer and value != int(value)):  # (inf is too high)
            return f"must be {self.describe()}"
        return None

    def exact(self, value: int | float) -> int | float:
        """An allowed value in its own type: a whole-number option given as 3.0 (a TOML float) is the int 3."""
        return int(value) if self.integer else value

    def parse(self, text: str) -> int | float:
        """For argparse's type=: a bad value fails at parse time with the range in the message."""
        try:
            value: int | float = int(text) if self.integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {self.describe()}") from None
        if self.problem(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {self.describe()}")
        return value


# One entry per numeric option (by field name); the flag is the name with dashes.
BOUNDS: dict[str, Bound] = {
    "num_threads": Bound(1, MAX_THREADS, integer=True),
    "window_seconds": Bound(0, 600),
    "smoothing": Bound(0, 1, high_open=True),
    "max_results": Bound(1, 600, integer=True),
    "score_threshold": Bound(0, 1),
    "camera_id": Bound(0, 63, integer=True),
    "pi_camera": Bound(0, 7, integer=True),  # counts the cameras on the camera connectors (a Pi 5 has two)
    "width": Bound(16, 8192, integer=True),
    "height": Bound(16, 8192, integer=True),
    "fps": Bound(0, 120),
    "web_port": Bound(1, 65535, integer=True),
    "event_threshold": Bound(0, 1),
    "event_min_seconds": Bound(0, 3600),
    "event_end_seconds": Bound(0, 3600),
    "event_floor": Bound(0, 1),
    "event_floor_seconds": Bound(0, 3600),
    "event_hold": Bound(0, 1),
    "pre_roll": Bound(0, 30),
    "post_roll": Bound(0, 60),
    "events_max_mb": Bound(0.01, 100000),  # MB: up to 100 GB
    "teach_from": Bound(0, 86400),
    "teach_to": Bound(0, 86400),
    "teach_seconds": Bound(1, 600),  # under a second there is no window to learn from
    "teach_countdown": Bound(0, 60),
    "mqtt_live_image": Bound(1, 3600),  # seconds between live frames: at most one a second, at least one an hour
}
GPIO_PIN = Bound(0, 27, integer=True)  # the Pi's BCM GPIO numbers on the 40-pin header
ANY = "any"  # --event any: whatever is top-1
CHOICES: dict[str, tuple[str, ...]] = {"display": DISPLAYS, "runtime": RUNTIMES, "taught": TAUGHT_MODES}
FLAG_NAMES = {"window_seconds": "window"}


def flag(name: str) -> str:
    """The command-line spelling of an option: window_seconds -> --window."""
    return "--" + FLAG_NAMES.get(name, name).replace("_", "-")


def is_loopback(host: str) -> bool:
    """True when `host` (an address or a name) reaches only this machine."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {str(info[4][0]).split("%")[0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(address).is_loopback for address in addresses)


def web_exposure_problem(host: str, password: str | None, insecure: bool) -> str | None:
    """Why the web view may not listen on `host` as asked, or None: beyond loopback it needs a password,
    or --web-insecure to say that anyone may use it."""
    if password or insecure or is_loopback(host):
        return None
    return (f"--web-host {host} lets other computers reach the web view, and anyone there could watch the "
            "camera and reset the stream: set a password in the environment (WEB_PASSWORD=...), "
            "or pass --web-insecure to allow that without one")


def label_list(text: str) -> list[str]:
    """'carving ice,juggling balls' -> two names (Kinetics labels contain no commas); ValueError when `text`
    names none ('' or ',,,' would silently filter or watch nothing)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError("must name at least one label (comma-separated exact names)")
    return names


ORIGIN_EXAMPLE = "http://homeassistant.local:8123"
# scheme://host[:port] and nothing else: a name or IPv4 address, or an IPv6 address in brackets
_ORIGIN = re.compile(r"(https?://(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\]))(?::(\d{1,5}))?/?")


def web_origin(text: str) -> str:
    """'http://HomeAssistant.local:8123/' -> 'http://homeassistant.local:8123': an origin as a browser names it;
    ValueError for anything else, so nothing but an origin reaches the Content-Security-Policy header."""
    match = _ORIGIN.fullmatch(text.strip().lower())
    if not match or (match[2] and not 1 <= int(match[2]) <= 65535):
        raise ValueError(f"{text!r} is not an origin: give scheme://host[:port], e.g. {ORIGIN_EXAMPLE}")
    return match[1] + (f":{int(match[2])}" if match[2] else "")


def web_origins(text: str) -> list[str]:
    """A comma-separated list of origins (--web-embed-from)."""
    origins = [web_origin(part) for part in text.split(",") if part.strip()]
    if not origins:
        raise ValueError(f"must name at least one origin, e.g. {ORIGIN_EXAMPLE}")
    return origins


def non_empty_path(text: str) -> Path:
    """A path from a flag or the config file; ValueError for '' (which Path() reads as the current folder)."""
    if not text.strip():
        raise ValueError("must not be empty ('.' is the current folder)")
    if re.match(r"[a-z][a-z0-9+.-]*://", text.strip(), re.IGNORECASE):
        raise ValueError("takes a local path, not a URL (download the file first)")
    return Path(text)


def gpio_pin(text: str) -> tuple[str, int]:
    """'waving hand=17' -> ('waving hand', 17): an action and the BCM pin it drives; ValueError if malformed."""
    label, sep, pin = text.rpartition("=")
    label = label.strip()
    if not sep or not label:
        raise ValueError(f"{text!r} is not LABEL=PIN (e.g. 'waving hand=17')")
    try:
        number = int(pin)
    except ValueError:
        raise ValueError(f"{text!r}: the pin must be a GPIO number, {GPIO_PIN.describe()}") from None
    if GPIO_PIN.problem(number):
        raise ValueError(f"{text!r}: the pin must be a GPIO number, {GPIO_PIN.describe()}")
    return label, number


def url_problem(url: str) -> str | None:
    """None for an http(s) URL with a host that urllib can post to, else what is wrong with it."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here, not at the first event)
    except ValueError as e:  # "http://[::1" (Invalid IPv6 URL), "http://host:abc/" (Port could not be cast)
        return f"is not a valid URL ({e})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if parts.username is not None or parts.password is not None:
        return "cannot hold a user or password (user:password@host): give a URL whose secret is in its path"
    return None


def default_threads() -> int:
    return max(1, min(MAX_THREADS, os.cpu_count() or 1))


def not_utf8(value: object) -> str | None:
    """The text of `value` (a string, or a tuple holding strings) as the user typed it, when it is not UTF-8,
    else None. Python keeps the bytes of such an argument or environment variable as lone surrogates, which
    MQTT, host names, OpenCV and the web view cannot encode."""
    texts = value if isinstance(value, tuple) else (value,)
    for text in texts:
        if isinstance(text, tuple):
            if (found := not_utf8(text)) is not None:
                return found
        elif isinstance(text, str):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return os.fsencode(text).decode("utf-8", "backslashreplace")
    return None


class _Checked:
    """Checks the text, numbers and choices of a section when it is built; raises ClassifierError."""

    def __post_init__(self) -> None:
        for item in fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if (text := not_utf8(value)) is not None:
                if not item.repr:  # a password: never shown
                    raise ClassifierError(f"the {item.name.replace('_', ' ')} is not UTF-8 text; set it in UTF-8")
                fix = "rename the file" if item.name == "video" else "give it in UTF-8"
                raise ClassifierError(f"{flag(item.name)} is not UTF-8 text: {text}; {fix}")
            bound = BOUNDS.get(item.name)
            if bound and value is not None:
                if problem := bound.problem(value):
                    raise ClassifierError(f"{flag(item.name)} {problem}, got {value!r}")
                object.__setattr__(self, item.name, bound.exact(value))  # frozen: set once, while being built
            choices = CHOICES.get(item.name)
            if choices and value not in choices:
                raise ClassifierError(f"{flag(item.name)} must be one of {', '.join(choices)}, got {value!r}")


@dataclass(frozen=True)
class ClassifierOptions(_Checked):
    """The model, its runtime and its memory."""

    model: Path = DEFAULT_MODEL
    labels: Path = DEFAULT_LABELS
    runtime: str = "auto"
    num_threads: int = field(default_factory=default_threads)
    window_seconds: float = 12.0
    fixed_window: bool = False  # True: a plain sliding window, not restarted at a change of action
    fresh_start: bool = False  # True: a suspected change also starts a fresh stream that may take over
    smoothing: float = 0.0


@dataclass(frozen=True)
class ResultOptions(_Checked):
    """Which labels are reported."""

    max_results: int = 3
    score_threshold: float = 0.0
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceOptions(_Checked):
    """Where the frames come from and which of them are classified."""

    camera_id: int | None = None
    pi_camera: int | None = None
    video: str | None = None
    width: int = 640
    height: int = 480
    fps: float = 5.0
    realtime: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.video, str) and not self.video.strip():  # a Path (from code) is never empty text
            raise ClassifierError("--video must not be empty: give a video file or a stream's URL")
        given = [flag(name) for name in ("camera_id", "pi_camera", "video") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ClassifierError(f"give one source, not {' and '.join(given)}")

    @property
    def uses_pi_camera(self) -> bool:
        """The default source is the Pi camera (open_source falls back to USB camera 0 when there is none)."""
        return self.video is None and self.camera_id is None


@dataclass(frozen=True)
class OutputOptions(_Checked):
    """Where the results go."""

    display: str = "auto"
    fullscreen: bool = False
    web: bool = False  # the web view beside any --display
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    web_password: str | None = field(default=None, repr=False)  # WEB_PASSWORD; never logged
    web_insecure: bool = False  # beyond loopback without a password, on purpose
    web_embed_from: tuple[str, ...] = ()  # origins whose pages may show the web view in a frame
    json: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.display == "web" or self.web:
            if problem := web_exposure_problem(self.web_host, self.web_password, self.web_insecure):
                raise ClassifierError(problem)
        elif self.web_embed_from:
            raise ClassifierError("--web-embed-from needs the web view: add --web (or --display web)")
        try:
            origins = tuple(web_origin(origin) for origin in self.web_embed_from)
        except ValueError as e:
            raise ClassifierError(f"--web-embed-from {e}") from None
        object.__setattr__(self, "web_embed_from", origins)  # frozen: set once, while being built


def default_name() -> str:
    """The camera's name in MQTT topics and Home Assistant: this machine's host name."""
    name = socket.gethostname().split(".")[0]
    return name if not topic_name_problem(name) else "pi"


@dataclass(frozen=True)
class MqttOptions(_Checked):
    """Results and events published to an MQTT broker, with Home Assistant discovery."""

    mqtt: str | None = None  # mqtt://[user@]host[:port] or mqtts://...
    mqtt_ca: Path | None = None
    mqtt_password: str | None = field(default=None, repr=False)  # from MQTT_PASSWORD or the config file
    name: str = field(default_factory=default_name)
    mqtt_prefix: str = "pi-action"
    ha_discovery: bool = True
    mqtt_required: bool = False
    mqtt_live_image: float | None = None  # seconds of video between live frames; None: no live frame

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mqtt is not None:
            try:
                parse_broker_url(self.mqtt)
            except ValueError as e:
                raise ClassifierError(str(e)) from None
        for option, value in (("--name", self.name), ("--mqtt-prefix", self.mqtt_prefix)):
            if problem := topic_name_problem(value):
                raise ClassifierError(f"{option} {problem}, got {value!r}")
        if self.mqtt_prefix.startswith("$"):  # $SYS/...: the broker's own topics, where clients cannot publish
            raise ClassifierError(f"--mqtt-prefix must not start with '$' (the broker keeps those topics for "
                                  f"itself and drops what clients publish there), got {self.mqtt_prefix!r}")
        if self.mqtt_password is not None and (problem := mqtt_string_problem(self.mqtt_password)):
            raise ClassifierError(f"the MQTT password {problem}")
        if self.mqtt_live_image is not None and self.mqtt is None:
            raise ClassifierError("--mqtt-live-image needs --mqtt: the broker the live frame goes to")
        if self.mqtt_ca is not None and self.mqtt is None:
            raise ClassifierError("--mqtt-ca needs --mqtt: the mqtts:// broker it is the CA certificate of")
        if self.mqtt_ca is not None and self.mqtt is not None and not self.mqtt.strip().startswith("mqtts://"):
            raise ClassifierError("--mqtt-ca is for TLS: use an mqtts:// broker address")


CLIP_OPTIONS = ("pre_roll", "post_roll", "events_max_mb")  # what --record's clips are: nothing without it


@dataclass(frozen=True)
class EventOptions(_Checked):
    """Events: which actions are watched, when an event starts and ends, and what is done with it."""

    event: tuple[str, ...] = ()  # watched labels; "any" = whatever is top-1
    event_threshold: float = 0.6
    event_min_seconds: float = 1.0
    event_end_seconds: float = 2.0
    event_floor: float | None = None  # off; else a steady top-1 at this score also starts (and holds) an event
    event_floor_seconds: float = 2.0
    event_hold: float | None = None  # off; else an event lasts while its action stays top-1 at this score
    events_dir: Path = DEFAULT_EVENTS_DIR
    record: bool = False
    pre_roll: float = 3.0
    post_roll: float = 2.0
    events_max_mb: float = 1000.0
    webhook: str | None = None
    gpio: tuple[tuple[str, int], ...] = ()  # (label, BCM pin)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "event", tuple(dict.fromkeys(self.event)))  # an action named twice is watched once
        given = [item.name for item in fields(self) if getattr(self, item.name) != item.default]
        if not self.event:  # every other option only says how events are made: alone it would do nothing
            used = sorted((flag(name) for name in given if name != "event"),
                          key=lambda name: name == "--events-dir")  # the folder only where nothing else is said
            if used:
                raise ClassifierError(f"{used[0]} needs --event: the actions to watch (or --event any)")
        if not self.record and (clips := [flag(name) for name in given if name in CLIP_OPTIONS]):
            raise ClassifierError(f"{clips[0]} needs --record: it shapes the clips, which only --record saves")
        if self.event_floor is None and "event_floor_seconds" in given:
            raise ClassifierError("--event-floor-seconds needs --event-floor: the score whose top-1 must last so long")
        if self.event_floor is not None and self.event_floor > self.event_threshold:
            raise ClassifierError(f"--event-floor {self.event_floor:g} is above --event-threshold "
                                  f"{self.event_threshold:g}: the floor is the lower of the two scores")
        if self.event_hold is not None and self.event_hold > self.event_threshold:
            raise ClassifierError(f"--event-hold {self.event_hold:g} is above --event-threshold "
                                  f"{self.event_threshold:g}: an event is held at a lower score than it starts at")
        if self.webhook is not None and (problem := url_problem(self.webhook)):
            shown_url = re.sub(r"(//[^/@]*:)[^/@]*@", r"\1***@", self.webhook)  # its password is not repeated
            raise ClassifierError(f"--webhook {problem}, got {shown_url!r}")
        object.__setattr__(self, "gpio", tuple(dict.fromkeys(self.gpio)))  # label=pin given twice: one pin
        for pin in {pin for _, pin in self.gpio}:
            if len(labels := [label for label, used in self.gpio if used == pin]) > 1:
                raise ClassifierError(f"--gpio gives pin {pin} to {' and '.join(map(repr, labels))}; each action "
                                      "needs its own pin")
        watched = set(self.event)
        for label, pin in self.gpio:
            if label != ANY and ANY not in watched and label not in watched:
                raise ClassifierError(f"--gpio {label}={pin}: {label!r} is not watched; add it to --event")

    @property
    def enabled(self) -> bool:
        return bool(self.event)

    @property
    def start_lead(self) -> float:
        """The longest an event's start lies before its announcement (the pre-roll ring must reach back so far)."""
        return max(self.event_min_seconds, self.event_floor_seconds if self.event_floor is not None else 0.0)

    def labels(self) -> tuple[str, ...]:
        """Every label name the options mention (to check against the label file), without "any"."""
        return tuple(dict.fromkeys(name for name in (*self.event, *(label for label, _ in self.gpio))
                                   if name != ANY))


@dataclass(frozen=True)
class TaughtOptions(_Checked):
    """Actions the user taught: where they are kept, whether they are reported, and teaching one."""

    actions_dir: Path = DEFAULT_ACTIONS_DIR
    taught: str = "also"
    teach: str | None = None  # the action --video's part, the camera's next seconds, the t key and button teach
    teach_from: float | None = None  # seconds into --video; None: its start
    teach_to: float | None = None  # None: its end (or teach_from + teach_seconds)
    teach_seconds: float | None = None  # how long a camera records (None: DEFAULT_TEACH_SECONDS); in a file: to - from
    teach_countdown: float = 3.0  # from a camera: time to get into the picture
    teach_background: str | None = None  # the taught action whose background is recorded, as --teach records one

    def __post_init__(self) -> None:
        super().__post_init__()
        given = [flag(name) for name in ("teach_from", "teach_to", "teach_seconds") if getattr(self, name) is not None]
        given += [flag("teach_countdown")] if self.teach_countdown != TaughtOptions.teach_countdown else []
        if given and self.teaching is None:
            raise ClassifierError(f"{given[0]} needs --teach NAME (the action to teach) or --teach-background NAME")
        if self.teach_to is not None and self.teach_seconds is not None:
            raise ClassifierError("give either --teach-to or --teach-seconds, not both")
        if self.teach_to is not None and self.teach_to <= (self.teach_from or 0.0):
            raise ClassifierError(f"--teach-to ({self.teach_to:g} s) must come after --teach-from "
                                  f"({self.teach_from or 0:g} s)")

    @property
    def teaching(self) -> str | None:
        """The name a session records: an action (--teach) or its background (--teach-background)."""
        return self.teach if self.teach is not None else self.teach_background


MOTION_MODES = ("auto", "on", "off")  # or a number: the share of the picture (%) that must change
MOTION_PERCENT = Bound(0.01, 100)
# --motion on: 1 % of the picture must change (31 of the gate's 3072 pixels). Chosen on the eight shared
# clips (the least any of them changes, after its first two sampled frames, is 2.9 %) and on still clips with
# noise, exposure steps and a brightness ramp (at most 0.26 %): see benchmarks/motion.py.
DEFAULT_MOTION_PERCENT = 1.0


def motion_mode(text: str) -> str:
    """--motion: auto, on, off, or a percent (ValueError with one line for the user)."""
    text = text.strip().lower()
    if text in MOTION_MODES:
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if MOTION_PERCENT.problem(value):
        raise ValueError(f"--motion takes auto, on, off or the share of the picture that must change in percent "
                         f"({MOTION_PERCENT.describe()}), got {text!r}")
    return f"{value:g}"


@dataclass(frozen=True)
class MotionOptions:
    """The motion gate (no invoke while nothing moves), the areas it ignores, and the part that is classified.

    Areas are x,y,w,h in fractions of the picture (0..1), kept as the flags give them (numbers as text, four per
    area) and read once into `mask_areas` and `crop_area`.
    """

    motion: str = "auto"  # auto: on for cameras and streams, off for files
    motion_mask: tuple[str, ...] = ()
    crop: str | None = None
    mask_areas: tuple[Area, ...] = field(init=False, repr=False, compare=False)
    crop_area: Area | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:  # checked now, not when the camera is open
            object.__setattr__(self, "motion", motion_mode(str(self.motion)))
            object.__setattr__(self, "mask_areas",
                               parse_areas("--motion-mask", self.motion_mask) if self.motion_mask else ())
            object.__setattr__(self, "crop_area", None if self.crop is None else parse_crop(self.crop))
        except ValueError as e:
            raise ClassifierError(str(e)) from None
        if self.motion == "off" and self.motion_mask:
            raise ClassifierError("--motion-mask is for the motion gate, but --motion is off")

    def percent(self, live: bool) -> float | None:
        """The gate's threshold for this source (None: no gate): auto gates cameras and streams, not files."""
        if self.motion == "off" or (self.motion == "auto" and not live):
            return None
        return DEFAULT_MOTION_PERCENT if self.motion in MOTION_MODES else float(self.motion)


@dataclass(frozen=True)
class Config:
    """Everything a run needs; built once by classify.py and passed down."""

    classifier: ClassifierOptions = field(default_factory=ClassifierOptions)
    results: ResultOptions = field(default_factory=ResultOptions)
    source: SourceOptions = field(default_factory=SourceOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    mqtt: MqttOptions = field(default_factory=MqttOptions)
    events: EventOptions = field(default_factory=EventOptions)
    taught: TaughtOptions = field(default_factory=TaughtOptions)
    motion: MotionOptions = field(default_factory=MotionOptions)

    @classmethod
    def from_options(cls, **options: object) -> Config:
        """A Config from flat option names, as the flags spell them (num_threads=2, json=True)."""
        sections = {}
        for name, section in SECTIONS.items():
            names = {f.name for f in option_fields(section)}
            sections[name] = section(**{k: options.pop(k) for k in list(options) if k in names})  # type: ignore
        if options:
            raise ClassifierError(f"unknown option {flag(sorted(options)[0])}")
        return cls(**sections)


def option_fields(section: type) -> list[Field]:
    """The fields of a section that are options (not those worked out from them, like MotionOptions' areas)."""
    return [item for item in fields(section) if item.init]


SECTIONS: dict[str, type] = {"classifier": ClassifierOptions, "results": ResultOptions, "source": SourceOptions,
                             "output": OutputOptions, "mqtt": MqttOptions, "events": EventOptions,
                             "taught": TaughtOptions, "motion": MotionOptions}
