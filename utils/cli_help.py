"""How classify.py's --help reads and how a misspelt flag is answered: shown defaults, examples, suggestions."""

from __future__ import annotations

import argparse
import difflib
import os
import shlex
from collections.abc import Collection

EXAMPLES = """\
examples:
  python classify.py                           # the Pi camera, on the monitor
  python classify.py --video clip.mp4 --display none --json   # a file, as JSON
  python classify.py --camera-id 0 --display web   # a USB camera, in a browser
  python classify.py --event "falling off chair" --record   # events, in events/
  python classify.py --teach "dog on the sofa"     # teach your own action

More in README.md and docs/ (every flag: docs/flags.md)."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows a flag's default only where it says something: not for an off switch, an empty list or "None"
    (an option that is unset unless given), and not twice when the help text already names it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("%(default)" in text or "(default:" in text or default is argparse.SUPPRESS
                or default is None or default is False or default == [] or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)"


def closest_flag(parser: argparse.ArgumentParser, word: str) -> str | None:
    """The parser's flag nearest to a misspelt one (`--vidoe` -> `--video`), or None when none is close."""
    flag = word.split("=", 1)[0]
    known = [option for action in parser._actions for option in action.option_strings if option.startswith("--")]
    found = difflib.get_close_matches(flag, known, n=1, cutoff=0.7)
    return found[0] if found else None


def with_suggestions(parser: argparse.ArgumentParser, message: str) -> str:
    """argparse's "unrecognized arguments: ..." with the closest flag named after each unknown one."""
    prefix = "unrecognized arguments: "
    if not message.startswith(prefix):
        return message
    words = []
    for word in message[len(prefix):].split(" "):
        suggestion = closest_flag(parser, word) if word.startswith("--") else None
        words.append(f"{word} (did you mean {suggestion}?)" if suggestion else word)
    return prefix + " ".join(words)


def spaced_path(parser: argparse.ArgumentParser, argv: list[str], path_dests: Collection[str]) -> str | None:
    """`--video my clips/x.mp4` (a path that holds a space, unquoted: argparse takes "clips/x.mp4" for an
    unrecognized argument): "--video 'my clips/x.mp4'" when the words after a path's flag, joined with spaces,
    name a file or folder that exists; else None."""
    flags = {option for action in parser._actions if action.dest in path_dests for option in action.option_strings}
    for i, word in enumerate(argv):
        name, equals, value = word.partition("=")
        if name not in flags:
            continue
        words = [value] if equals else argv[i + 1:i + 2]
        for more in argv[i + 1 + len(words) - bool(equals):]:
            if more.startswith("-"):
                break
            words.append(more)
            if os.path.exists(" ".join(words)):
                return f"{name} {shlex.quote(' '.join(words))}"
    return None
