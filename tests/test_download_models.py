"""Tests download_models.sh end to end against a local HTTP server, and utils.model.download' checks."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO / "models"  # what ./setup.sh downloaded: the mirror of these tests
SCRIPT = REPO / "download_models.sh"
MODEL = "movinet_a0_stream_int8.tflite"
LABELS = "kinetics600_labels.txt"
MODEL_SHA256 = "6125b36e2485eeb5cc1fd6206cf5e5d70235593fbc84610d1dce97fe3aa9c2ac"
LABELS_SHA256 = "8dfca4202520ea8291ce0242ef33b006d0a0772b409663c090a2876bc1978dcf"
HTML = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in</body></html>\n"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from utils.model.catalogue import KNOWN_SHA256, LABELS_FILE, MODELS  # noqa: E402
from utils.model.files import ModelFileError, check_labels_file, check_tflite_file  # noqa: E402


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def model_bytes() -> bytes:
    path = MODELS_DIR / MODEL
    assert path.is_file(), f"test model missing: {path} (run ./setup.sh)"
    return path.read_bytes()


@pytest.fixture(scope="session")
def labels_bytes() -> bytes:
    path = MODELS_DIR / LABELS
    assert path.is_file(), f"test labels missing: {path} (run ./setup.sh)"
    return path.read_bytes()


def kaggle_tar_gz(members: dict[str, bytes]) -> bytes:
    """A tar.gz like Kaggle's model download (the model is `1.tflite`)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Server:
    """A throw-away HTTP server on 127.0.0.1 with fixed routes; counts the requests."""

    def __init__(self, routes: dict[str, tuple[int, bytes, int | None]]) -> None:
        self.routes = routes  # path -> (status, body, Content-Length sent or None for len(body))
        self.requests: Counter[str] = Counter()
        self.slow_started = threading.Event()
        self.slow_release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                server.requests[path] += 1
                if path == "/slow/" + MODEL:  # headers and a little data, then nothing
                    self.send_response(200)
                    self.send_header("Content-Length", "3276048")
                    self.end_headers()
                    self.wfile.write(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 65536)
                    self.wfile.flush()
                    server.slow_started.set()
                    server.slow_release.wait(20)
                    return
                status, body, length = server.routes.get(path, (404, b"not found\n", None))
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if body.startswith(b"<") else "application/octet-stream")
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="test-http", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.slow_release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server(model_bytes: bytes, labels_bytes: bytes):
    half = len(model_bytes) // 2
    routes = {
        f"/good/{MODEL}": (200, model_bytes, None),
        f"/good/{LABELS}": (200, labels_bytes, None),
        f"/html/{MODEL}": (200, HTML, None),
        f"/html/{LABELS}": (200, HTML, None),
        # Content-Length promises the whole model, the body stops halfway.
        f"/truncated/{MODEL}": (200, model_bytes[:half], len(model_bytes)),
        f"/truncated/{LABELS}": (200, labels_bytes, None),
        # A body cut short but served with a matching Content-Length: only the checks catch it.
        f"/short/{MODEL}": (200, model_bytes[:-4096], None),
        f"/short/{LABELS}": (200, labels_bytes.rsplit(b"\n", 2)[0] + b"\n", None),
        "/tfhub/a0": (200, HTML, None),
        "/kaggle/a0": (200, kaggle_tar_gz({"1.tflite": model_bytes}), None),
        "/kaggle-evil/a0": (200, kaggle_tar_gz({"../../evil.tflite": model_bytes}), None),
        "/kaggle-empty/a0": (200, kaggle_tar_gz({"README.md": b"no model here\n"}), None),
        "/kaggle-cut/a0": (200, kaggle_tar_gz({"1.tflite": model_bytes})[:100000], None),
    }
    srv = Server(routes)
    yield srv
    srv.close()


def run_script(
    *args: str, cwd: Path, env: dict[str, str] | None = None, server: Server | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs the real wrapper; official URLs always point at the local server (never the internet)."""
    base = server.url if server else "http://127.0.0.1:9"
    full_env = {k: v for k, v in os.environ.items() if k != "MODELS_MIRROR" and not k.startswith("MOVINET_")}
    full_env.update(
        MOVINET_TFHUB_URL=f"{base}/missing/{{variant}}",
        MOVINET_KAGGLE_URL=f"{base}/missing/{{variant}}",
        MOVINET_LABELS_URL=f"{base}/missing/{LABELS}",
    )
    full_env.update(env or {})
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("download_models.sh: error: ")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], result.stderr


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part") or p.name.startswith("."))


# --- end to end: download_models.sh ---------------------------------------------------


@pytest.fixture
def mirror_folder(tmp_path: Path, model_bytes: bytes, labels_bytes: bytes) -> Path:
    """A mirror folder with A0 and the labels only (models/ may hold more, after ./setup.sh a1)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / MODEL).write_bytes(model_bytes)
    (folder / LABELS).write_bytes(labels_bytes)
    return folder


def test_mirror_folder_relative_to_cwd(tmp_path: Path, mirror_folder: Path) -> None:
    mirror = os.path.relpath(mirror_folder, tmp_path)
    assert not Path(mirror).is_absolute()
    result = run_script("--dest", "out", cwd=tmp_path, env={"MODELS_MIRROR": mirror})
    assert result.returncode == 0, result.stderr
    dest = tmp_path / "out"
    assert sha256(dest / MODEL) == MODEL_SHA256
    assert sha256(dest / LABELS) == LABELS_SHA256
    assert (dest / MODEL).stat().st_mode & 0o044 == 0o044  # readable like any file, not mkstemp's 0600
    assert leftovers(dest) == []


def test_mirror_folder_without_variant_names_missing_file(tmp_path: Path, mirror_folder: Path) -> None:
    result = run_script("a1", "--dest", "out", cwd=tmp_path, env={"MODELS_MIRROR": str(mirror_folder)})
    assert_clean_failure(result, "movinet_a1_stream_int8.tflite", "MODELS_MIRROR")
    assert not (tmp_path / "out" / "movinet_a1_stream_int8.tflite").exists()
    assert sha256(tmp_path / "out" / LABELS) == LABELS_SHA256  # the rest still arrives


def test_http_mirror(tmp_path: Path, server: Server) -> None:
    result = run_script(
        "--dest", str(tmp_path), cwd=tmp_path, env={"MODELS_MIRROR": f"{server.url}/good/"}, server=server
    )
    assert result.returncode == 0, result.stderr
    assert sha256(tmp_path / MODEL) == MODEL_SHA256
    assert sha256(tmp_path / LABELS) == LABELS_SHA256
    assert server.requests[f"/good/{MODEL}"] == 1
    assert leftovers(tmp_path) == []


def test_html_page_is_rejected(tmp_path: Path, server: Server) -> None:
    result = run_script("--dest", "m", cwd=tmp_path, env={"MODELS_MIRROR": f"{server.url}/html"}, server=server)
    assert result.returncode == 1
    assert "HTML page" in result.stderr and "Traceback" not in result.stderr
    assert len([ln for ln in result.stderr.splitlines() if "error:" in ln]) == 2  # model and labels
    assert not (tmp_path / "m" / MODEL).exists()
    assert not (tmp_path / "m" / LABELS).exists()
    assert leftovers(tmp_path / "m") == []


def test_http_404_is_reported(tmp_path: Path, server: Server) -> None:
    env = {"MODELS_MIRROR": f"{server.url}/missing"}
    result = run_script("--dest", "m", cwd=tmp_path, env=env, server=server)
    assert result.returncode == 1
    assert f"HTTP 404 Not Found from {server.url}/missing/{MODEL}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m" / MODEL).exists()


def test_truncated_download_is_rejected(tmp_path: Path, server: Server) -> None:
    result = run_script("--dest", "m", cwd=tmp_path, env={"MODELS_MIRROR": f"{server.url}/truncated"}, server=server)
    assert_clean_failure(result, MODEL, "truncated")
    assert not (tmp_path / "m" / MODEL).exists()
    assert sha256(tmp_path / "m" / LABELS) == LABELS_SHA256
    assert leftovers(tmp_path / "m") == []


def test_short_body_fails_the_checks(tmp_path: Path, server: Server) -> None:
    result = run_script("--dest", "m", cwd=tmp_path, env={"MODELS_MIRROR": f"{server.url}/short"}, server=server)
    assert result.returncode == 1
    assert "truncated or corrupt TFLite model" in result.stderr
    assert "Kinetics-600 label file (599 non-empty lines" in result.stderr
    assert list((tmp_path / "m").iterdir()) == []


def test_tfhub_html_falls_back_to_kaggle_tar_gz(tmp_path: Path, server: Server) -> None:
    env = {
        "MOVINET_TFHUB_URL": f"{server.url}/tfhub/{{variant}}?lite-format=tflite",
        "MOVINET_KAGGLE_URL": f"{server.url}/kaggle/{{variant}}",
        "MOVINET_LABELS_URL": f"{server.url}/good/{LABELS}",
    }
    result = run_script("a0", "--dest", "m", cwd=tmp_path, env=env, server=server)
    assert result.returncode == 0, result.stderr
    assert server.requests["/tfhub/a0"] == 1 and server.requests["/kaggle/a0"] == 1
    assert "HTML page" in result.stderr and "trying the next source" in result.stderr
    assert sha256(tmp_path / "m" / MODEL) == MODEL_SHA256
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [LABELS, MODEL]


@pytest.mark.parametrize(
    ("kaggle", "needle"),
    [("kaggle-empty", "holds no .tflite file"), ("kaggle-cut", "damaged or truncated"), ("missing", "HTTP 404")],
)
def test_every_source_failing_is_one_error_line(tmp_path: Path, server: Server, kaggle: str, needle: str) -> None:
    env = {
        "MOVINET_TFHUB_URL": f"{server.url}/tfhub/{{variant}}",
        "MOVINET_KAGGLE_URL": f"{server.url}/{kaggle}/{{variant}}",
        "MOVINET_LABELS_URL": f"{server.url}/good/{LABELS}",
    }
    result = run_script("--dest", "m", cwd=tmp_path, env=env, server=server)
    assert_clean_failure(result, f"could not get {MODEL}", "HTML page", needle)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [LABELS]


def test_archive_member_paths_are_not_followed(tmp_path: Path, server: Server) -> None:
    env = {
        "MOVINET_TFHUB_URL": f"{server.url}/missing/{{variant}}",
        "MOVINET_KAGGLE_URL": f"{server.url}/kaggle-evil/{{variant}}",
        "MOVINET_LABELS_URL": f"{server.url}/good/{LABELS}",
    }
    (tmp_path / "a" / "b").mkdir(parents=True)
    result = run_script("--dest", "a/b/m", cwd=tmp_path, env=env, server=server)
    assert result.returncode == 0, result.stderr
    assert sha256(tmp_path / "a" / "b" / "m" / MODEL) == MODEL_SHA256
    assert not list(tmp_path.rglob("evil.tflite"))


def test_present_files_are_skipped_and_force_downloads_again(tmp_path: Path, server: Server) -> None:
    env = {"MODELS_MIRROR": f"{server.url}/good"}
    assert run_script("--dest", "m", cwd=tmp_path, env=env, server=server).returncode == 0
    model = tmp_path / "m" / MODEL
    os.utime(model, ns=(1_000_000_000, 1_000_000_000))

    again = run_script("--dest", "m", cwd=tmp_path, env=env, server=server)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("ok (already present)") == 2
    assert model.stat().st_mtime_ns == 1_000_000_000
    assert server.requests[f"/good/{MODEL}"] == 1

    forced = run_script("--dest", "m", "--force", cwd=tmp_path, env=env, server=server)
    assert forced.returncode == 0, forced.stderr
    assert "already present" not in forced.stderr
    assert model.stat().st_mtime_ns != 1_000_000_000
    assert server.requests[f"/good/{MODEL}"] == 2
    assert sha256(model) == MODEL_SHA256


def test_bad_present_file_is_replaced(tmp_path: Path, server: Server) -> None:
    dest = tmp_path / "m"
    dest.mkdir()
    (dest / MODEL).write_bytes(HTML)
    result = run_script("--dest", "m", cwd=tmp_path, env={"MODELS_MIRROR": f"{server.url}/good"}, server=server)
    assert result.returncode == 0, result.stderr
    assert "downloading it again" in result.stderr
    assert sha256(dest / MODEL) == MODEL_SHA256


def test_failed_download_keeps_a_good_present_file(tmp_path: Path, server: Server, model_bytes: bytes) -> None:
    dest = tmp_path / "m"
    dest.mkdir()
    (dest / MODEL).write_bytes(model_bytes)
    result = run_script(
        "--dest", "m", "--force", cwd=tmp_path, env={"MODELS_MIRROR": f"{server.url}/html"}, server=server
    )
    assert result.returncode == 1
    assert sha256(dest / MODEL) == MODEL_SHA256


def test_unknown_model_is_a_usage_error(tmp_path: Path) -> None:
    result = run_script("a0", "a9", cwd=tmp_path)
    assert result.returncode == 2
    assert "download_models.sh: error: unknown model 'a9'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (REPO / "models" / "movinet_a9_stream_int8.tflite").exists()


def test_help_mentions_models_and_mirror(tmp_path: Path) -> None:
    result = run_script("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "a0, a1, a2 or all" in result.stdout and "MODELS_MIRROR" in result.stdout


@pytest.mark.parametrize(("signum", "code", "said"), [
    (signal.SIGINT, 130, "interrupted"),
    (signal.SIGTERM, 128 + signal.SIGTERM, "stopped by SIGTERM"),
    (signal.SIGHUP, 128 + signal.SIGHUP, "stopped by SIGHUP"),  # an SSH session that dropped
])
def test_a_signal_mid_download_exits_and_cleans_up(tmp_path: Path, server: Server, signum: int, code: int,
                                                    said: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MODELS_MIRROR"}
    env["MODELS_MIRROR"] = f"{server.url}/slow"
    proc = subprocess.Popen(
        ["bash", str(SCRIPT), "--dest", "m"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.slow_started.wait(60), "the download never started"
        while not list((tmp_path / "m").glob("*.part")):  # bounded by the timeout below
            assert proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signum)  # the wrapper execs python, so this is python
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and said in stderr
    assert list((tmp_path / "m").iterdir()) == [], "a .part file was left behind"


# --- check_tflite_file / check_labels_file ------------------------------------------


def test_public_tables_match_sources() -> None:
    assert KNOWN_SHA256[MODEL] == MODEL_SHA256
    assert KNOWN_SHA256[LABELS_FILE] == LABELS_SHA256
    assert [m.file_name for m in MODELS.values()] == [f"movinet_{v}_stream_int8.tflite" for v in ("a0", "a1", "a2")]
    assert MODELS["a1"].urls[0].startswith("https://tfhub.dev/tensorflow/lite-model/movinet/a1/stream/")
    assert "/movinet/tfLite/a2-stream-kinetics-600-classification-tflite-int8/1/download" in MODELS["a2"].urls[1]


def test_check_tflite_accepts_the_real_model() -> None:
    check_tflite_file(MODELS_DIR / MODEL)
    check_tflite_file(str(MODELS_DIR / MODEL))


def test_check_tflite_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"model file not found: .*nope\.tflite; run \./download_models\.sh"):
        check_tflite_file(tmp_path / "nope.tflite")


def test_check_tflite_html(tmp_path: Path) -> None:
    path = tmp_path / MODEL
    path.write_bytes(HTML)
    with pytest.raises(ModelFileError, match=r"is an HTML page, not a TFLite model \(a failed download\?\)"):
        check_tflite_file(path)


@pytest.mark.parametrize("content", [b"\x00" * 4096, b"PK\x03\x04" + b"\x00" * 100, b'{"code": 404}' + b" " * 100])
def test_check_tflite_not_tflite(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.tflite"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="is not a TFLite model"):
        check_tflite_file(path)


@pytest.mark.parametrize("cut", [1, 37, 4096, 1_000_000, 3_000_000])
def test_check_tflite_truncated_without_known_hash(tmp_path: Path, model_bytes: bytes, cut: int) -> None:
    path = tmp_path / "custom_model.tflite"  # a name with no known hash: the structure check alone
    path.write_bytes(model_bytes[:-cut])
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        check_tflite_file(path)


def test_check_tflite_known_hash(tmp_path: Path, model_bytes: bytes) -> None:
    path = tmp_path / MODEL
    path.write_bytes(model_bytes[:-8] + b"changed!")  # structure intact, bytes differ
    with pytest.raises(ModelFileError, match="sha256 differs"):
        check_tflite_file(path)
    (tmp_path / "renamed.tflite").write_bytes(path.read_bytes())
    check_tflite_file(tmp_path / "renamed.tflite")  # unknown name: structure is fine


def test_check_tflite_tiny_and_empty(tmp_path: Path) -> None:
    (tmp_path / "empty.tflite").write_bytes(b"")
    (tmp_path / "tiny.tflite").write_bytes(b"\x10\x00\x00\x00TFL3")
    with pytest.raises(ModelFileError, match="empty"):
        check_tflite_file(tmp_path / "empty.tflite")
    with pytest.raises(ModelFileError, match="too small"):
        check_tflite_file(tmp_path / "tiny.tflite")


def test_check_labels(tmp_path: Path, labels_bytes: bytes) -> None:
    check_labels_file(MODELS_DIR / LABELS)
    path = tmp_path / LABELS
    path.write_bytes(labels_bytes.rsplit(b"\n", 2)[0] + b"\n")
    with pytest.raises(ModelFileError, match="599 non-empty lines, expected 600"):
        check_labels_file(path)
    with pytest.raises(ModelFileError, match="label file not found"):
        check_labels_file(tmp_path / "missing.txt")
