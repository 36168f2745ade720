"""--config FILE: options from a TOML file, under the flags' names, checked by the same rules as the flags.

    model = "models/movinet_a0_stream_int8.tflite"   # relative paths: from the config file's folder
    event = ["falling off chair", "waving hand"]
    event-threshold = 0.7
    record = true

Keys are the long flags without the dashes in front (`event-threshold`; `event_threshold` works too).
Standard library only (tomllib, or tomli before Python 3.11).
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Collection
from pathlib import Path

from utils.areas import area_numbers
from utils.config import (
    BOUNDS,
    CHOICES,
    FLAG_NAMES,
    SECTIONS,
    gpio_pin,
    label_list,
    non_empty_path,
    option_fields,
    web_origins,
)
from utils.errors import ClassifierError
from utils.regular_file import NotAFileError, read_at_most

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9/3.10
    import tomli as tomllib

MAX_CONFIG_BYTES = 1 << 20  # a config file is a few hundred bytes; /dev/zero or a video given by mistake stops here
COMMAND_LINE_ONLY = {name: "teaching is done once, from the command line (classify.py --teach NAME), not at "
                           "every start of a service; remove the key" for name in ("teach", "teach_background")}
FIELD_NAMES = {flag_name: field for field, flag_name in FLAG_NAMES.items()}  # window -> window_seconds
# How each item of a list option is read: as on the command line.
LIST_ITEMS: dict[str, Callable[[str], list]] = {"gpio": lambda text: [gpio_pin(text)], "motion_mask": area_numbers,
                                                "web_embed_from": web_origins}


def option_types() -> dict[str, str]:
    """Every Config option by field name, with its annotation ("float", "Path | None", "tuple[str, ...]")."""
    return {item.name: str(item.type) for section in SECTIONS.values()
            for item in option_fields(section)}


def key_name(name: str) -> str:
    """A field name as the config file spells it: window_seconds -> window, event_threshold -> event-threshold."""
    return FLAG_NAMES.get(name, name).replace("_", "-")


def read_config_file(path: Path, extra_flags: Collection[str] = ()) -> dict[str, object]:
    """The options in a TOML file, by Config field name; `extra_flags` are command-line-only switches (verbose).

    Raises ClassifierError naming the file and the key for an unreadable file, bad TOML, an unknown key or a
    bad value.
    """
    try:
        raw = read_at_most(path, MAX_CONFIG_BYTES)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ClassifierError(f"config file {path} is larger than {MAX_CONFIG_BYTES // 1024} kB, too large for "
                                  "a config file")
        data = tomllib.loads(raw.decode("utf-8-sig"))  # a byte order mark, as Windows editors may write, is not TOML
    except FileNotFoundError as e:
        raise ClassifierError(f"config file not found: {path}") from e
    except (IsADirectoryError, NotAFileError) as e:
        raise ClassifierError(f"config file {path} {e.strerror}; give a TOML file") from e
    except OSError as e:
        raise ClassifierError(f"cannot read config file {path}: {e.strerror or e}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ClassifierError(f"config file {path} is not valid TOML: {e}") from e
    types = option_types()
    known = {key_name(name): name for name in types} | {name.replace("_", "-"): name for name in extra_flags}
    options: dict[str, object] = {}
    for key, value in data.items():
        name = known.get(key.replace("_", "-"))
        if name in COMMAND_LINE_ONLY:
            raise ClassifierError(f"config file {path}: {key}: {COMMAND_LINE_ONLY[name]}")
        if name is None:
            close = difflib.get_close_matches(key, known, n=1)
            raise ClassifierError(f"config file {path}: unknown key {key!r}"
                                  + (f", did you mean {close[0]!r}?" if close else " (see --help for the flags)"))
        try:
            options[name] = convert(name, types.get(name, "bool"), value, Path(path).parent)
        except ValueError as e:
            raise ClassifierError(f"config file {path}: {key} {e}, got {value!r}") from None
    return options


def convert(name: str, kind: str, value: object, folder: Path) -> object:
    """One value, checked and converted for the option; ValueError says what it must be."""
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if name in BOUNDS:
        if problem := BOUNDS[name].problem(value):  # type: ignore[arg-type]
            raise ValueError(problem)
        return value
    if kind.startswith("tuple"):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ValueError("must be a string or a list of strings")
        read = LIST_ITEMS.get(name, label_list)
        return tuple(part for item in items for part in read(item))
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if "Path" in kind:
        return folder / non_empty_path(value).expanduser()  # an absolute path stays as it is
    if name == "video" and "://" not in value:  # a file, not a URL: a path like the others
        return str(folder / non_empty_path(value).expanduser())
    if name in CHOICES and value not in CHOICES[name]:
        raise ValueError(f"must be one of {', '.join(CHOICES[name])}")
    return value
