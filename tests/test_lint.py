"""ruff over the whole project, so the README's test line also keeps the code clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, skip_or_fail


def tool(name: str) -> str:
    """A dev tool from this Python's environment (requirements-dev.txt)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        skip_or_fail(f"{name} is not installed (it comes with requirements-dev.txt)")
    return str(found)


def test_ruff_is_clean():
    done = subprocess.run([tool("ruff"), "check", "--no-cache", str(REPO)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean():
    """Type-checks classify.py, utils/ and benchmarks/ (the files are listed in pyproject.toml)."""
    done = subprocess.run([tool("mypy"), "--no-incremental"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_utils_imports_without_numpy_for_the_downloader():
    """download_models.sh runs `python -m utils.model.download` before the venv exists: stdlib only."""
    code = "import sys; sys.modules['numpy'] = None; sys.modules['cv2'] = None; import utils.model.download"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
