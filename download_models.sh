#!/usr/bin/env bash
# Downloads the MoViNet models and the label map into models/ (see --help).
# A thin wrapper: the work is done by utils/model/download.py, which needs only the
# standard library, so this runs before setup.sh has made the venv.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Relative --dest and MODELS_MIRROR paths resolve against the caller's directory.
export MODEL_FILES_CWD="$PWD"
cd "$here"

python=python3
if [[ -x .venv/bin/python ]]; then
    python=.venv/bin/python
elif ! command -v python3 >/dev/null 2>&1; then
    echo "download_models.sh: error: python3 not found; install it (sudo apt-get install python3) or run ./setup.sh" >&2
    exit 1
fi
exec "$python" -m utils.model.download "$@"
