"""Shared fixtures: the real model (models/, from ./setup.sh) and clips (tests/data/), the runtimes installed,
CI strictness."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the tests import the app (utils) and the benchmarks' helpers

from benchmarks.mosquitto import Mosquitto, free_port  # noqa: E402

__all__ = ["Mosquitto", "free_port"]  # for the test modules
# The model and labels ./setup.sh downloads (CI: from MODELS_MIRROR); what a clone of the repository has.
MODEL = REPO / "models" / "movinet_a0_stream_int8.tflite"
LABELS = REPO / "models" / "kinetics600_labels.txt"
# The small clips the suite needs, in the repository (tests/data/SOURCES.md).
DATA = Path(__file__).resolve().parent / "data"
CARVING_ICE = DATA / "carving_ice.mp4"
ARM_WRESTLING = DATA / "arm_wrestling.mp4"
CLEANING_POOL = DATA / "cleaning_pool_mmaction2.mp4"
WALKING_THE_DOG = DATA / "walking_the_dog_videofeatures.mp4"
NON_STREAM_MODEL = DATA / "non_stream_classifier.tflite"
# The larger clip set of the benchmarks (../shared/media beside the checkout): not in a clone; see media().
MEDIA = REPO.parent / "shared" / "media"

STRICT = os.environ.get("CI_STRICT") == "1"


def skip_or_fail(reason: str) -> None:
    """Skips on a developer's machine that lacks a tool, but fails in CI, where every test must run."""
    if STRICT:
        pytest.fail(f"CI_STRICT=1 and this test cannot run: {reason}")
    pytest.skip(reason)


def media() -> Path:
    """The benchmarks' larger clip set, for the few tests that run over all of it: a clone lacks it, so they skip
    with the reason (CI, which has it, fails instead)."""
    if not (MEDIA / "carving_ice.mp4").is_file():
        skip_or_fail(f"needs the benchmarks' clip set in {MEDIA} (beside the checkout; not in the repository)")
    return MEDIA


def pytest_sessionstart(session) -> None:
    if not (MODEL.is_file() and LABELS.is_file()):
        pytest.exit(f"the model is missing ({MODEL.relative_to(REPO)}, {LABELS.relative_to(REPO)}): run ./setup.sh", 1)
    missing = [p for p in (CARVING_ICE, ARM_WRESTLING, CLEANING_POOL, WALKING_THE_DOG) if not p.is_file()]
    if missing:
        pytest.exit(f"test clips missing from tests/data: {', '.join(p.name for p in missing)}", 1)


def _installed_runtimes() -> list[str]:
    from utils.model.runtime import installed_runtimes

    return installed_runtimes()


INSTALLED_RUNTIMES = _installed_runtimes()


@pytest.fixture(params=INSTALLED_RUNTIMES or ["none"])
def runtime(request) -> str:
    """Every TFLite runtime that imports here, so the real-model tests run under each."""
    if request.param == "none":
        pytest.fail("no TFLite runtime is installed; run ./setup.sh")
    return request.param


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def records(self) -> list[dict]:
        """Every stdout line parsed as JSON (fails the test on a line that is not)."""
        return [json.loads(line) for line in self.stdout.splitlines()]


def run_cli(*args: str, timeout: float = 300, env: dict | None = None, model: bool = True,
            cwd: Path = REPO) -> Run:
    """Runs classify.py in a subprocess (in the project folder unless `cwd` says otherwise), with the model and
    labels given explicitly unless told otherwise."""
    command = [sys.executable, str(REPO / "classify.py")]
    if model:
        command += ["--model", str(MODEL), "--labels", str(LABELS)]
    # Headless unless the test gives a display: a developer's own DISPLAY must not pop up windows.
    full_env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    full_env.update(env or {})
    done = subprocess.run(command + list(args), capture_output=True, text=True, timeout=timeout, env=full_env,
                          cwd=cwd)
    return Run(done.returncode, done.stdout, done.stderr)


def need_binary(name: str, package: str) -> str:
    """The path of a program a test runs (Xvfb, chromium...); skips without it, fails under CI_STRICT=1."""
    # Servers such as mosquitto live in /usr/sbin, which a normal user's PATH may lack.
    path = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if path is None:
        skip_or_fail(f"{name} is not installed (apt-get install {package})")
    return path


@pytest.fixture(scope="session")
def xvfb() -> Iterator[str]:
    """A virtual 1280x720 X screen for real windows; yields its DISPLAY (":N", a number Xvfb picked itself)."""
    binary = need_binary("Xvfb", "xvfb")
    read, write = os.pipe()
    server = subprocess.Popen([binary, "-displayfd", str(write), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as displayfd:
        number = displayfd.readline().strip()  # written once the server accepts clients
    if not number:
        server.kill()
        pytest.fail(f"Xvfb did not start (exit code {server.wait()})")
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def mosquitto(tmp_path) -> Iterator[Mosquitto]:
    """A running anonymous broker on 127.0.0.1."""
    broker = Mosquitto(tmp_path, need_binary("mosquitto", "mosquitto"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
