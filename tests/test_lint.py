"""ruff over the whole project, so the README's test line also keeps the code clean."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import REPO, skip_or_fail


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(REPO / ".venv" / "bin")) or shutil.which("ruff")
    if ruff is None:
        skip_or_fail("ruff is not installed (it comes with requirements-dev.txt)")
    done = subprocess.run([ruff, "check", "--no-cache", str(REPO)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_utils_imports_without_numpy_for_the_downloader():
    """download_models.sh runs `python -m utils.model_files` before the venv exists: stdlib only."""
    code = "import sys; sys.modules['numpy'] = None; sys.modules['cv2'] = None; import utils.model_files"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
