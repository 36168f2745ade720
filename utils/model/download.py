"""Downloads and checks the MoViNet stream models and the Kinetics-600 label map.

Standard library only: download_models.sh and setup.sh run it before the venv exists.

    ./download_models.sh [a0|a1|a2|all ...] [--dest DIR] [--force]

Each model is tried from TF Hub first, then from Kaggle (which serves a tar.gz holding
`1.tflite`); the payload is recognised by its content (gzip magic), not by its URL.
Every file is downloaded to a temporary file beside its destination, checked (TFL3
header, flatbuffer bounds, sha256 where known; 600 labels), and only then renamed into
place, so a failed or partial download never sits under a model's name.

Environment:
    MODELS_MIRROR       A local folder or an http(s) base URL that replaces the official
                        sources: files are looked up as <mirror>/<file name>.
                        Relative folders resolve against the current directory.
Test and advanced hooks (override the official URLs):
    MOVINET_TFHUB_URL   TF Hub URL template, with a {variant} placeholder (a0, a1, a2).
    MOVINET_KAGGLE_URL  Kaggle URL template, with a {variant} placeholder.
    MOVINET_LABELS_URL  URL of the label map.
    MODEL_FILES_CWD     Set by download_models.sh to the caller's directory, against which
                        relative --dest and MODELS_MIRROR paths resolve.
"""

from __future__ import annotations

import argparse
import fcntl
import glob
import os
import signal
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import BinaryIO

from utils.model.catalogue import KAGGLE_URL, KNOWN_SHA256, LABELS_FILE, LABELS_URL, MODELS, TFHUB_URL
from utils.model.files import file_sha256, labels_problem, tflite_problem, usual_file_mode
from utils.paths import MODELS_DIR, shown

PROG = "download_models.sh"

# Upper bound for anything we accept from a download or an archive member.
MAX_DOWNLOAD_BYTES = 1 << 30
CHUNK_BYTES = 1 << 16
PART_SUFFIX = ".part"  # a download being written: .<file name>.<random>.part beside the file


class DownloadError(Exception):
    """One source could not deliver a good file (one line, for the user)."""


# --- downloading --------------------------------------------------------------------


@dataclass(frozen=True)
class Wanted:
    """A file to fetch: its name, the sources to try in order, and how to check it."""

    file_name: str
    sources: tuple[str, ...]
    is_model: bool


def _log(message: str) -> None:
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # the terminal is gone (an SSH session that dropped): nobody to tell
        pass


def _resolve(path: str | Path, base: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else base / path


def _is_url(text: str) -> bool:
    return urllib.parse.urlsplit(text).scheme.lower() in ("http", "https", "file")


def _mirror_source(mirror: str, file_name: str, base: Path) -> str:
    if _is_url(mirror):
        return mirror.rstrip("/") + "/" + urllib.parse.quote(file_name)
    folder = _resolve(mirror, base).resolve()
    if not folder.is_dir():
        raise DownloadError(f"MODELS_MIRROR folder {folder} does not exist")
    return str(folder / file_name)


def _plan(variants: list[str], env: dict[str, str], base: Path) -> list[Wanted]:
    """The files to fetch, each with its sources (the mirror alone when MODELS_MIRROR is set)."""
    mirror = env.get("MODELS_MIRROR", "").strip()
    tfhub = env.get("MOVINET_TFHUB_URL") or TFHUB_URL
    kaggle = env.get("MOVINET_KAGGLE_URL") or KAGGLE_URL
    labels_url = env.get("MOVINET_LABELS_URL") or LABELS_URL
    wanted = []
    for variant in variants:
        name = MODELS[variant].file_name
        if mirror:
            sources: tuple[str, ...] = (_mirror_source(mirror, name, base),)
        else:
            sources = (tfhub.format(variant=variant), kaggle.format(variant=variant))
        wanted.append(Wanted(name, sources, is_model=True))
    sources = (_mirror_source(mirror, LABELS_FILE, base),) if mirror else (labels_url,)
    wanted.append(Wanted(LABELS_FILE, sources, is_model=False))
    return wanted


class _Progress:
    """Download progress on stderr: one updating line on a terminal, every 25% in a log."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.total = total
        self.tty = sys.stderr.isatty()
        # Small files get none; a log gets lines only when the size is known.
        big = total is None or total >= 1_000_000 if self.tty else (total or 0) >= 1_000_000
        self.enabled = enabled and big
        self.last_time = 0.0
        self.last_quarter = 0

    def update(self, done: int, final: bool = False) -> None:
        if not self.enabled:
            return
        percent = min(100, done * 100 // self.total) if self.total else 0
        if self.total:
            text = f"    {percent:3d}%  {done / 1e6:.1f} of {self.total / 1e6:.1f} MB"
        else:
            text = f"    {done / 1e6:.1f} MB"
        if self.tty:
            now = time.monotonic()
            if final or now - self.last_time >= 0.1:
                self.last_time = now
                sys.stderr.write("\r" + text + ("\n" if final else ""))
                sys.stderr.flush()
        elif percent // 25 > self.last_quarter or (final and percent < 100):
            self.last_quarter = percent // 25
            _log(text)


def _open_source(source: str) -> tuple[BinaryIO, int | None]:
    """Opens a URL or a local file; returns the stream and its expected size, if known."""
    if not _is_url(source):
        path = Path(source)
        if not path.is_file():
            raise DownloadError(f"no such file in MODELS_MIRROR: {path}")
        try:
            return path.open("rb"), path.stat().st_size
        except OSError as e:
            raise DownloadError(f"cannot read {path} ({e.strerror or e})") from e
    request = urllib.request.Request(source, headers={"User-Agent": "movinet-pi download_models.sh"})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as e:
        e.close()
        raise DownloadError(f"HTTP {e.code} {e.reason} from {source}") from e
    except urllib.error.URLError as e:
        raise DownloadError(f"cannot reach {source} ({e.reason})") from e
    except (HTTPException, OSError) as e:
        raise DownloadError(f"cannot reach {source} ({e})") from e
    length = response.headers.get("Content-Length")
    return response, int(length) if length and length.isdigit() else None


def _copy(source: str, stream: BinaryIO, expected: int | None, out: BinaryIO) -> None:
    progress = _Progress(expected, enabled=_is_url(source))
    done = 0
    try:
        while chunk := stream.read(CHUNK_BYTES):
            out.write(chunk)
            done += len(chunk)
            if done > MAX_DOWNLOAD_BYTES:
                raise DownloadError(f"{source} sent more than {MAX_DOWNLOAD_BYTES >> 20} MB; stopped")
            progress.update(done)
    except HTTPException as e:  # IncompleteRead: the server closed before Content-Length
        raise DownloadError(f"truncated download from {source} ({done} bytes of {expected})") from e
    except (TimeoutError, OSError) as e:
        raise DownloadError(f"download from {source} broke off after {done} bytes ({e})") from e
    progress.update(done, final=True)
    if expected is not None and done < expected:
        raise DownloadError(f"truncated download from {source} ({done} of {expected} bytes)")


def _extract_tflite(archive: Path, out_path: Path, source: str) -> None:
    """Writes the .tflite member (preferably 1.tflite) of the tar.gz `archive` to `out_path`."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".tflite")]
            if not members:
                raise DownloadError(f"the archive from {source} holds no .tflite file")
            member = next((m for m in members if Path(m.name).name == "1.tflite"), members[0])
            if member.size > MAX_DOWNLOAD_BYTES:
                raise DownloadError(f"{member.name} in the archive from {source} is too large")
            stream = tar.extractfile(member)
            assert stream is not None  # a regular file always has a stream
            with stream, out_path.open("wb") as out:
                while chunk := stream.read(CHUNK_BYTES):
                    out.write(chunk)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise DownloadError(f"the archive from {source} is damaged or truncated ({e})") from e


def _fetch_one(source: str, target: Path, wanted: Wanted) -> str:
    """Fetches `source` into `target` via a checked temporary file; returns a short summary."""
    temps: list[Path] = []

    locks: list[int] = []

    def temp_file() -> Path:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=PART_SUFFIX)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held while it is written: another run can tell it from a stale one
        locks.append(fd)
        temps.append(Path(name))
        return temps[-1]

    try:
        download = temp_file()
        stream, expected = _open_source(source)
        with stream, download.open("wb") as out:
            _copy(source, stream, expected, out)
        with download.open("rb") as f:
            magic = f.read(2)
        payload = download
        if wanted.is_model and magic == b"\x1f\x8b":
            payload = temp_file()
            _extract_tflite(download, payload, source)
        sha256 = KNOWN_SHA256.get(wanted.file_name)
        check = tflite_problem if wanted.is_model else labels_problem
        problem = check(payload, sha256)
        if problem:
            raise DownloadError(f"{source} gave a file that is {problem}")
        with payload.open("rb+") as synced:
            os.fsync(synced.fileno())
        os.chmod(payload, usual_file_mode())
        os.replace(payload, target)
        size = _size_text(target.stat().st_size)
        if sha256:
            return f"{size}, sha256 ok"
        return f"{size}, sha256 {file_sha256(target)} (no known hash to compare)"
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)
        for fd in locks:
            os.close(fd)


def remove_stale_parts(dest: Path) -> int:
    """Removes the temporary files of downloads that were killed (SIGKILL, a power cut: nothing could clean up);
    returns how many. A download still running holds a lock on its file, so it is left alone."""
    removed = 0
    for file_name in [*(model.file_name for model in MODELS.values()), LABELS_FILE]:
        for part in dest.glob(f".{glob.escape(file_name)}.*{PART_SUFFIX}"):
            try:
                fd = os.open(part, os.O_RDONLY | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                part.unlink()
                removed += 1
            except OSError:  # locked: being written right now
                pass
            finally:
                os.close(fd)
    return removed


def _size_text(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"


def _fetch(wanted: Wanted, dest: Path, force: bool, base: Path) -> str | None:
    """Makes `dest/<file>` a good file; returns None on success, else one error line."""
    target = dest / wanted.file_name
    target_shown = shown(target, base)
    if target.exists() and not force:
        check = tflite_problem if wanted.is_model else labels_problem
        try:
            problem = check(target, KNOWN_SHA256.get(wanted.file_name)) if target.is_file() else "not a file"
        except OSError as e:
            problem = f"unreadable ({e.strerror})"
        if not problem:
            _log(f"{target_shown}: ok (already present)")
            return None
        _log(f"{target_shown}: is {problem}; downloading it again")
    failures = []
    for source in wanted.sources:
        _log(f"{target_shown}: fetching {source}")
        try:
            summary = _fetch_one(source, target, wanted)
        except DownloadError as e:
            failures.append(str(e))
            if source != wanted.sources[-1]:
                _log(f"    failed: {e}; trying the next source")
            continue
        except OSError as e:
            return f"cannot write {target_shown} ({e.strerror or e})"
        _log(f"{target_shown}: ok ({summary})")
        return None
    return f"could not get {wanted.file_name}: " + "; ".join(failures)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Download the MoViNet stream int8 models and the Kinetics-600 label map, "
        "checked by content and sha256, into the models folder.",
        epilog="The label map is always fetched too. MODELS_MIRROR=DIR_OR_URL takes the files "
        "from <mirror>/<file name> instead of TF Hub / Kaggle. Valid files already present "
        "are kept unless --force is given.",
    )
    parser.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="a0, a1, a2 or all (default: a0)",
    )
    parser.add_argument(
        "--dest",
        metavar="DIR",
        default=None,
        help="folder to save the files in (default: models/ in the repository)",
    )
    parser.add_argument("--force", action="store_true", help="download again even when a valid file is present")
    args = parser.parse_args(argv)
    variants: list[str] = []
    for name in args.models or ["a0"]:
        key = name.lower()
        if key == "all":
            new = list(MODELS)
        elif key in MODELS:
            new = [key]
        else:
            parser.error(f"unknown model {name!r} (choose from {', '.join(MODELS)}, all)")
        variants += [v for v in new if v not in variants]
    args.variants = variants
    return args


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (0 ok, 1 a file failed, 130 Ctrl-C)."""
    args = _parse_args(argv)
    env = dict(os.environ)
    base = Path(env.get("MODEL_FILES_CWD") or Path.cwd()).resolve()
    dest = _resolve(args.dest, base) if args.dest else MODELS_DIR
    try:
        wanted = _plan(args.variants, env, base)
        dest.mkdir(parents=True, exist_ok=True)
    except DownloadError as e:
        _log(f"{PROG}: error: {e}")
        return 1
    except OSError as e:
        _log(f"{PROG}: error: cannot create {dest} ({e.strerror or e})")
        return 1
    if stale := remove_stale_parts(dest):
        _log(f"removed {stale} unfinished download{'s' * (stale > 1)} left in {shown(dest, base)}")
    failures = [error for error in (_fetch(w, dest, args.force, base) for w in wanted) if error]
    for error in failures:
        _log(f"{PROG}: error: {error}")
    return 1 if failures else 0


class Stopped(BaseException):
    """SIGTERM or SIGHUP (an SSH session that dropped): unwinds like Ctrl-C, so every temporary file is removed."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum: int, _frame: object) -> None:
    raise Stopped(signum)


def run() -> int:
    """main() with Ctrl-C, SIGTERM, SIGHUP and unexpected errors turned into one line instead of a traceback."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_stopped)
    try:
        return main()
    except KeyboardInterrupt:
        _log(f"\n{PROG}: interrupted")
        return 130
    except Stopped as e:
        _log(f"\n{PROG}: stopped by {signal.Signals(e.signum).name}")
        return 128 + e.signum
    except Exception as e:  # noqa: BLE001 -- last resort: the user gets one line, not a traceback
        _log(f"{PROG}: error: unexpected {type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(run())
