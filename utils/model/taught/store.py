"""Taught actions on disk: one small .npz of plain arrays per action, with JSON metadata, written atomically.

The file `<folder>/<name, percent-encoded>.npz` holds these arrays and is read with allow_pickle=False:

    window_means   float32 [n, dim]      per example (one classified frame), the window mean of the head's features
    probabilities  float32 [n, classes]  the model's softmax of that window
    recent_means   float32 [n, dim]      the mean of the last 2 s of per-frame features
    changes        float32 [n, dim]      their mean absolute change (features.py says why these)
    sessions       int32   [n]           which teaching session each example came from (0, 1, ...)
    meta           uint8   [bytes]       UTF-8 JSON: format, name, model {file, sha256}, dim, tau (null: the
                                         default), sessions [{seconds, examples, window_frames, fps, source, taught}]
                                         and, with a background, background_sessions [the same]

and, for an action with a background (--teach-background: what the camera sees when the action is not
happening), the same five arrays of its background sessions, each name prefixed with "background_". A file
without them has no background.

All raw, so the head can change without teaching again.

The model's sha256 is kept because the examples are that model's features: another model's are meaningless.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import math
import os
import tempfile
import tokenize
import urllib.parse
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from utils.errors import ClassifierError
from utils.model.files import file_sha256, usual_file_mode
from utils.model.predictions import did_you_mean
from utils.paths import folder_write_problem, shown
from utils.regular_file import NotAFileError, open_regular

log = logging.getLogger(__name__)

FORMAT = "pi-action-classifier/taught-action/2"
SUFFIX = ".npz"
EXAMPLE_ARRAYS = ("window_means", "probabilities", "recent_means", "changes")
ARRAYS = {*EXAMPLE_ARRAYS, "sessions", "meta"}
BACKGROUND = "background_"  # the prefix of a background's arrays
BACKGROUND_ARRAYS = {BACKGROUND + name for name in (*EXAMPLE_ARRAYS, "sessions")}
SAFE_CHARACTERS = " -_.,()+=@'"  # kept as they are in file names; everything else is percent-encoded
MAX_FILE_NAME_BYTES = 255  # ext4, FAT and exFAT
# The arrays of one action, uncompressed: 256 MB is 32,000 examples of A0 (2,040 numbers each), about 100
# minutes of teaching at 5 frames a second. A compressed archive can claim gigabytes (zeros compress 1000:1),
# so the sizes in its headers are checked before anything is loaded, and no action is saved beyond it.
MAX_ACTION_BYTES = 256 << 20
NPY_MAGIC = b"\x93NUMPY"
DTYPES = {**{name: np.dtype(np.float32) for name in EXAMPLE_ARRAYS}, "sessions": np.dtype(np.int32),
          "meta": np.dtype(np.uint8)}
DTYPES.update({BACKGROUND + name: DTYPES[name] for name in (*EXAMPLE_ARRAYS, "sessions")})


def check_name(name: str) -> str:
    """The action's name as it is kept (surrounding blanks dropped); any text without '/'."""
    stripped = name.strip()
    if not stripped:
        raise ClassifierError("an action name cannot be empty; give one with --teach NAME")
    if "/" in stripped:
        raise ClassifierError(f"an action name cannot contain '/': {stripped!r}")
    if len(file_name(stripped).encode()) > MAX_FILE_NAME_BYTES:
        raise ClassifierError(f"the action name {stripped[:40]!r}... is too long for a file name; use a shorter one")
    return stripped


def file_name(name: str) -> str:
    """"my dog/cat" cannot happen (see check_name); "café" -> "caf%C3%A9.npz": one portable file per name. A
    leading "." is encoded too (".x" -> "%2Ex.npz"): a hidden file is an unfinished write, never an action."""
    quoted = urllib.parse.quote(name, safe=SAFE_CHARACTERS)
    return ("%2E" + quoted[1:] if quoted.startswith(".") else quoted) + SUFFIX


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class ModelIdentity:
    """Which model a taught action belongs to: its file's sha256, and its file name for people."""

    sha256: str
    file: str

    @classmethod
    def of(cls, path: Path) -> ModelIdentity:
        return cls(file_sha256(Path(path)), Path(path).name)

    def describe(self) -> str:
        return f"{self.file} (sha256 {self.sha256[:12]}...)"


@dataclass(frozen=True)
class Session:
    """One teaching: how much video, in which setting, from where."""

    seconds: float
    examples: int
    window_frames: int
    fps: float
    source: str
    taught: str = dataclasses.field(default_factory=utc_now)


@dataclass(frozen=True)
class Examples:
    """What teaching keeps of each classified frame (rows of float32 arrays; features.Description's fields)."""

    window_means: np.ndarray  # [n, dim]
    probabilities: np.ndarray  # [n, classes]
    recent_means: np.ndarray  # [n, dim]
    changes: np.ndarray  # [n, dim]

    def __len__(self) -> int:
        return len(self.window_means)

    @property
    def dim(self) -> int:
        return int(self.window_means.shape[1])

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in EXAMPLE_ARRAYS}

    def rows(self, keep: np.ndarray) -> Examples:
        return Examples(**{name: array[keep] for name, array in self.arrays().items()})

    def then(self, more: Examples) -> Examples:
        return Examples(**{name: np.vstack([array, getattr(more, name)]).astype(np.float32)
                           for name, array in self.arrays().items()})

    def check(self) -> None:
        """Raises ValueError unless the arrays are float32 rows of one count, finite, the features of one size."""
        n = len(self.window_means)
        for name, array in self.arrays().items():
            if array.dtype != np.float32 or array.ndim != 2 or len(array) != n or not n:
                raise ValueError(f"{name} {array.dtype} {list(array.shape)} are not {n} float32 rows")
            if not np.all(np.isfinite(array)):
                raise ValueError(f"{name} that are not finite numbers")
        if not self.window_means.shape[1] == self.recent_means.shape[1] == self.changes.shape[1]:
            raise ValueError("the feature arrays differ in size")


@dataclass(frozen=True)
class TaughtAction:
    """An action taught by the user: its examples (what the model saw of each frame) and their story."""

    name: str
    model: ModelIdentity
    examples: Examples
    session_of_example: np.ndarray  # int32 [n]
    sessions: tuple[Session, ...]
    tau: float | None = None  # its cosine threshold for "none of these"; None: the head's default
    background: Background | None = None  # what the camera sees when the action is not happening

    @property
    def seconds(self) -> float:
        return self._recorded.seconds

    @property
    def _recorded(self) -> Background:
        """Its own sessions, kept as a background's are: one piece of code appends and undoes both."""
        return Background(self.examples, self.session_of_example, self.sessions)

    def _with_recorded(self, recorded: Background) -> TaughtAction:
        return dataclasses.replace(self, examples=recorded.examples, session_of_example=recorded.session_of_example,
                                   sessions=recorded.sessions)

    @property
    def summary(self) -> str:
        sessions = len(self.sessions)
        background = f", {self.background_seconds:.1f} s of background" if self.background else ""
        return (f"{len(self.examples)} examples, {sessions} session{'s' * (sessions > 1)}, {self.seconds:.1f} s in all"
                + background)

    @property
    def last_taught(self) -> str:
        return self.sessions[-1].taught

    def with_background(self, examples: Examples, session: Session) -> TaughtAction:
        """This action with one more background session (the first one gives it a background)."""
        background = Background.first(examples, session) if self.background is None else \
            self.background.recorded_again(examples, session)
        return dataclasses.replace(self, background=background)

    @property
    def background_seconds(self) -> float:
        return self.background.seconds if self.background is not None else 0.0

    @property
    def background_is_last(self) -> bool:
        """Whether its last session was a background's (a background is recorded after the action, so at the same
        second it is the later one)."""
        return self.background is not None and self.background.sessions[-1].taught >= self.last_taught

    def taught_again(self, examples: Examples, session: Session) -> TaughtAction:
        """This action with one more session's examples (teaching the same name again adds to it)."""
        return self._with_recorded(self._recorded.recorded_again(examples, session))

    def without_last_session(self) -> TaughtAction | None:
        """This action as it was before its last session, of the action or of its background; None when that was
        the action's only one (its background goes with it)."""
        if self.background is not None and self.background_is_last:
            return dataclasses.replace(self, background=self.background.without_last_session())
        before = self._recorded.without_last_session()
        return self._with_recorded(before) if before is not None else None

    @classmethod
    def first(cls, name: str, model: ModelIdentity, examples: Examples, session: Session) -> TaughtAction:
        recorded = Background.first(examples, session)
        return cls(name, model, recorded.examples, recorded.session_of_example, recorded.sessions)

    def metadata(self) -> dict:
        meta = {"format": FORMAT, "name": self.name, "model": dataclasses.asdict(self.model),
                "dim": self.examples.dim, "tau": self.tau,
                "sessions": [dataclasses.asdict(session) for session in self.sessions]}
        if self.background is not None:
            meta["background_sessions"] = [dataclasses.asdict(session) for session in self.background.sessions]
        return meta

    def arrays(self) -> dict[str, np.ndarray]:
        """The file's arrays but meta."""
        arrays = {**self.examples.arrays(), "sessions": self.session_of_example.astype(np.int32)}
        if self.background is not None:
            arrays.update({BACKGROUND + name: array for name, array in self.background.examples.arrays().items()})
            arrays[BACKGROUND + "sessions"] = self.background.session_of_example.astype(np.int32)
        return arrays


@dataclass(frozen=True)
class Background:
    """What the camera sees when an action is not happening (right after it, say), recorded like the action: a
    window is that action only if it is closer to it than to this (head.py). Its examples, which session each
    came from and the sessions: an action's own are kept the same way (TaughtAction._recorded)."""

    examples: Examples
    session_of_example: np.ndarray  # int32 [n]
    sessions: tuple[Session, ...]

    @property
    def seconds(self) -> float:
        return sum(session.seconds for session in self.sessions)

    @classmethod
    def first(cls, examples: Examples, session: Session) -> Background:
        return cls(examples, np.zeros(len(examples), np.int32), (session,))

    def recorded_again(self, examples: Examples, session: Session) -> Background:
        """With one more session's examples."""
        index = np.full(len(examples), len(self.sessions), np.int32)
        return Background(self.examples.then(examples), np.concatenate([self.session_of_example, index]),
                          (*self.sessions, session))

    def without_last_session(self) -> Background | None:
        """As it was before its last session; None when that was its only one."""
        if len(self.sessions) < 2:
            return None
        keep = self.session_of_example < len(self.sessions) - 1
        return Background(self.examples.rows(keep), self.session_of_example[keep], self.sessions[:-1])


class ActionStore:
    """The taught-actions folder: one file per action, read strictly, replaced atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        try:
            a_file = self.folder.exists() and not self.folder.is_dir()
        except OSError as e:  # a parent folder this user cannot search
            raise folder_error(self.folder, e) from e
        if a_file:  # found before any video is read
            raise ClassifierError(f"--actions-dir {shown(self.folder)} is a file, not a folder; give a folder "
                                  "(it is made when missing)")

    def path(self, name: str) -> Path:
        return self.folder / file_name(name)

    def check_writable(self) -> None:
        """Refuses a folder no action could be saved in, before a session is recorded for nothing."""
        if (problem := folder_write_problem(self.folder)) is not None:
            raise save_error(self.folder, problem)

    def files(self) -> list[Path]:
        """The action files, in name order; hidden files (unfinished writes) are not actions. A folder that
        cannot be read is an error, not an empty one (glob would take it for one)."""
        try:
            names = os.listdir(self.folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as e:
            raise folder_error(self.folder, e) from e
        return sorted(self.folder / n for n in names if n.endswith(SUFFIX) and not n.startswith("."))

    def read(self, name: str) -> TaughtAction | None:
        """The action called `name`, or None when it was never taught."""
        path = self.path(name)
        return read_action(path) if self._is_there(path) else None

    def read_all(self) -> list[TaughtAction]:
        """Every action in the folder; a file that is not one stops with one line that names it."""
        return [read_action(path) for path in self.files()]

    def write(self, action: TaughtAction) -> Path:
        """Replaces the action's file in one step: a crash or a full disk leaves the old file whole."""
        path = self.path(action.name)
        meta = json.dumps(action.metadata(), ensure_ascii=False, sort_keys=True).encode()
        arrays = action.arrays()
        size = sum(array.nbytes for array in arrays.values()) + len(meta)
        if size > MAX_ACTION_BYTES:  # it could not be read back: the file on disk stays as it was
            raise ClassifierError(f"{action.name!r} would hold {size >> 20} MB of examples, more than a taught "
                                  f"action can ({MAX_ACTION_BYTES >> 20} MB); teach more under another name")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{path.name}.", suffix=".part")
        except OSError as e:
            raise save_error(self.folder, e.strerror or str(e)) from e
        try:
            with os.fdopen(handle, "wb") as out:
                save_arrays(out, {**arrays, "meta": np.frombuffer(meta, np.uint8)})
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, usual_file_mode())
            os.replace(temporary, path)
        except OSError as e:
            Path(temporary).unlink(missing_ok=True)
            raise save_error(path, e.strerror or str(e)) from e
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path

    def add(self, name: str, model: ModelIdentity, examples: Examples, session: Session) -> TaughtAction:
        """Teaches `name` one more session (the first one creates it) and saves it."""
        existing = self.read(name)
        if existing is None:
            action = TaughtAction.first(name, model, examples, session)
        else:
            check_model(existing, model, self.path(name))
            check_features(existing, examples.dim, self.path(name))
            action = existing.taught_again(examples, session)
        self.write(action)
        return action

    def add_background(self, name: str, model: ModelIdentity, examples: Examples, session: Session) -> TaughtAction:
        """Records one more background session for the taught action `name` and saves it."""
        existing = read_action(self._existing(name))
        check_model(existing, model, self.path(name))
        check_features(existing, examples.dim, self.path(name))
        action = existing.with_background(examples, session)
        self.write(action)
        return action

    def remove(self, name: str) -> Path:
        path = self._existing(name)
        try:
            path.unlink()
        except OSError as e:
            raise ClassifierError(f"cannot remove {shown(path)}: {e.strerror or e}; check --actions-dir (a folder "
                                  "you can write)") from e
        return path

    def remove_last_session(self, name: str) -> tuple[TaughtAction | None, bool]:
        """Undoes the last session of `name`, of the action or of its background: the action as it is now (None
        when it is gone with it), and whether the session undone was a background's."""
        action = read_action(self._existing(name))
        before = action.without_last_session()
        if before is None:
            self.remove(name)
        else:
            self.write(before)
        return before, action.background_is_last

    def missing(self, name: str) -> ClassifierError:
        names = [urllib.parse.unquote(p.stem) for p in self.files()]
        taught = ", ".join(map(repr, names)) or "none"
        return ClassifierError(f"no taught action {name!r} in {shown(self.folder)}{did_you_mean(name, names)} "
                               f"(taught: {taught}); teach it with --teach NAME first")

    def _existing(self, name: str) -> Path:
        path = self.path(name)
        if not self._is_there(path):
            raise self.missing(name)
        return path

    def _is_there(self, path: Path) -> bool:
        """Whether the folder holds `path` (a dangling link too, so that --forget can remove it); a folder that
        cannot be searched is an error, not a "no"."""
        try:
            path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as e:
            raise folder_error(self.folder, e) from e
        return True


def background_left(action: TaughtAction) -> str:
    """What is left of an action's background after an undo."""
    return f"{action.background_seconds:.1f} s of background left" if action.background else "no background left"


def background_hint(name: str, source: str = "") -> str:
    """What the app says after a session of an action without a background; `source`: the flags that choose
    the part of a file (none: the camera)."""
    return (f"a background helps {name!r} hold where other things happen: record what the camera sees when it is "
            f"not happening (e.g. right after it) with classify.py --teach-background {name!r}{source}")


def folder_error(folder: Path, error: OSError) -> ClassifierError:
    return ClassifierError(f"cannot read --actions-dir {shown(folder)}: {error.strerror or error}; let the user the "
                           "app runs as read it, or use another --actions-dir")


def save_error(where: Path, why: str) -> ClassifierError:
    return ClassifierError(f"cannot save the taught action in {shown(where)}: {why}; check --actions-dir (a folder "
                           "you can write)")


def check_model(action: TaughtAction, model: ModelIdentity, path: Path) -> None:
    """Refuses to add to an action that another model taught: its examples are that model's features."""
    if action.model.sha256 != model.sha256:
        raise ClassifierError(f"{shown(path)} was taught with another model, {action.model.describe()}, not "
                              f"{model.describe()}: teach it with that model, --forget {action.name!r} first, or "
                              "use another --actions-dir")


def check_features(action: TaughtAction, size: int, path: Path) -> None:
    """Refuses an action whose examples are not the model's feature size: a file of the same model's sha256
    that was damaged or written by hand, which no cosine could compare."""
    if action.examples.dim != size:
        raise ClassifierError(f"{shown(path)} holds examples of {action.examples.dim} features, but "
                              f"{action.model.file} gives {size}: the file is damaged; remove it (classify.py "
                              f"--forget {action.name!r}) and teach that action again")


def read_action(path: Path) -> TaughtAction:
    """One action file, checked from its arrays to its metadata; anything else is one ClassifierError line."""
    where = shown(path)
    forget = f"remove it (classify.py --forget {urllib.parse.unquote(path.stem)!r})"
    try:
        with open_regular(path) as f:
            if f.read(len(NPY_MAGIC)) == NPY_MAGIC:  # a lone .npy array renamed
                raise ClassifierError(f"{where} is not a taught action (a single array): move it out of the "
                                      f"actions folder, or {forget}")
            f.seek(0)
            with zipfile.ZipFile(f) as archive:  # its index is read once, here
                members = checked_members(archive, where, forget)
                if set(members) == {"examples", "sessions", "meta"}:
                    raise ClassifierError(f"{where} was taught by an earlier version, which kept no motion: "
                                          f"{forget} and teach that action again")
                background = set(members) & BACKGROUND_ARRAYS  # all of them, or none: no background
                if set(members) - background != ARRAYS or background not in (set(), BACKGROUND_ARRAYS):
                    raise ClassifierError(f"{where} is not a taught action (it holds other arrays): move it out "
                                          f"of the actions folder, or {forget}")
                arrays = {name: read_member(archive, info) for name, info in members.items()}
        examples = Examples(**{name: arrays[name] for name in EXAMPLE_ARRAYS})
        sessions, raw_meta = arrays["sessions"], arrays["meta"]
        meta = json.loads(raw_meta.astype(np.uint8).tobytes().decode())
    except ClassifierError:
        raise
    except (IsADirectoryError, NotAFileError) as e:
        raise ClassifierError(f"{where} {e.strerror}: move it out of the actions folder") from e
    except PermissionError as e:  # the file may be whole: nothing says to remove it
        raise ClassifierError(f"cannot read {where}: {e.strerror}; let the user the app runs as read it "
                              "(its owner and mode)") from e
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, UnicodeDecodeError, zlib.error, NotImplementedError,
            tokenize.TokenError) as e:
        # ValueError covers pickled (object) arrays and bad JSON alike; zlib.error a damaged compressed array,
        # NotImplementedError a damaged zip header (an unknown compression), TokenError a damaged .npy header.
        raise ClassifierError(f"{where} is not a readable taught action ({type(e).__name__}: damaged or not one): "
                              f"{forget} and teach that action again") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ClassifierError(f"{where} is not a taught action of this app (format "
                              f"{meta.get('format') if isinstance(meta, dict) else None!r}): move it out of the "
                              f"actions folder, or {forget}")
    try:
        action = _action_from(meta, examples, sessions)
        if BACKGROUND + "sessions" in arrays:
            action = dataclasses.replace(action, background=_background_from(meta, arrays, action.examples.dim))
    except (KeyError, TypeError, ValueError) as e:
        raise ClassifierError(f"{where} is a damaged taught action ({type(e).__name__}: {e}): {forget} and teach "
                              "that action again") from e
    if file_name(action.name) != path.name:
        raise ClassifierError(f"{where} holds the action {action.name!r}, which belongs in {file_name(action.name)}; "
                              "rename the file back or remove it")
    return action


def checked_members(archive: zipfile.ZipFile, where: str, forget: str) -> dict[str, zipfile.ZipInfo]:
    """The archive's arrays by name. Refuses an archive bigger than an action can be, or whose arrays are not of
    their type and size, from its zip and .npy headers alone (nothing is decompressed beyond them). Which arrays
    it holds is checked after."""
    infos = archive.infolist()
    members = {info.filename.removesuffix(".npy"): info for info in infos}
    if len(members) != len(infos):
        raise ValueError("an array is in it twice")
    total = sum(info.file_size for info in infos)
    if total > MAX_ACTION_BYTES:
        raise ClassifierError(f"{where} holds {total >> 20} MB of arrays, more than a taught action can "
                              f"({MAX_ACTION_BYTES >> 20} MB): {forget}")
    for name, info in members.items():
        if name not in DTYPES:  # refused by name after
            continue
        with archive.open(info) as member:
            shape, dtype = _array_header(member)
        if dtype != DTYPES[name] or int(np.prod(shape)) * dtype.itemsize > info.file_size:
            raise ValueError(f"its {name} array ({dtype} {list(shape)}) is not what it should be")
    return members


def save_arrays(out: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    """np.savez's archive (one stored .npy per array), closed on an error too: np.savez leaves its archive open
    when a write fails (a full disk), and closing it later prints a second error after the app's own line."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One array of the archive, as np.load reads an .npz member (never a pickle)."""
    with archive.open(info) as member:
        return np.lib.format.read_array(member, allow_pickle=False)


def _array_header(member: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an .npy file announces."""
    version = np.lib.format.read_magic(member)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(member)
    return shape, dtype


def _sessions_from(described: list[dict], examples: Examples, sessions: np.ndarray, dim: int) -> tuple[Session, ...]:
    """The sessions the metadata describes, checked against their examples."""
    sessions_meta = tuple(Session(float(s["seconds"]), int(s["examples"]), int(s["window_frames"]), float(s["fps"]),
                                  str(s["source"]), str(s["taught"])) for s in described)
    examples.check()
    if examples.dim != dim:
        raise ValueError(f"examples of {examples.dim} features do not match dim {dim}")
    if sessions.shape != (len(examples),) or not np.all((sessions >= 0) & (sessions < len(sessions_meta))):
        raise ValueError("the examples' sessions do not match the metadata")
    numbers = [number for session in sessions_meta for number in (session.seconds, session.fps)]
    if not all(math.isfinite(float(number)) for number in numbers):  # JSON's NaN and Infinity parse too
        raise ValueError("numbers that are not finite (NaN or infinite)")
    return sessions_meta


def _background_from(meta: dict, arrays: dict[str, np.ndarray], dim: int) -> Background:
    examples = Examples(**{name: arrays[BACKGROUND + name] for name in EXAMPLE_ARRAYS})
    sessions = arrays[BACKGROUND + "sessions"]
    return Background(examples, sessions.astype(np.int32),
                      _sessions_from(meta["background_sessions"], examples, sessions, dim))


def _action_from(meta: dict, examples: Examples, sessions: np.ndarray) -> TaughtAction:
    sessions_meta = _sessions_from(meta["sessions"], examples, sessions, int(meta["dim"]))
    tau = meta.get("tau")
    if tau is not None and not math.isfinite(float(tau)):  # JSON's NaN and Infinity parse too
        raise ValueError("numbers that are not finite (NaN or infinite)")
    if tau is not None and not -1.0 <= float(tau) <= 1.0:
        raise ValueError(f"tau {tau} is not a cosine (from -1 to 1)")
    model = ModelIdentity(str(meta["model"]["sha256"]), str(meta["model"]["file"]))
    return TaughtAction(str(meta["name"]), model, examples,
                        sessions.astype(np.int32), sessions_meta, None if tau is None else float(tau))
