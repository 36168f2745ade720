#!/usr/bin/env bash
# Sets up this folder to run classify.py: system packages, .venv, Python packages, model.
# Safe to re-run: it checks what is there, installs what is missing and verifies the rest.
#
#   ./setup.sh [--no-dev] [MODEL ...]
#
#   MODEL      a0 (default), a1, a2 or all; passed to ./download_models.sh
#   --no-dev   skip the test tools (requirements-dev.txt); install requirements.txt only
#   MODELS_MIRROR=DIR_OR_URL ./setup.sh   take the model files from a mirror (see download_models.sh)
#   PYTHON=/path/to/python3 ./setup.sh    make .venv with another interpreter
#
# On Raspberry Pi OS it installs python3-picamera2 with apt and makes .venv with
# --system-site-packages so that picamera2 (and the apt numpy it is built for) are visible.
set -Eeuo pipefail

caller_dir="$PWD"
cd "$(dirname "${BASH_SOURCE[0]}")"
repo_dir="$PWD"

step="setup"
say() { echo "==> $*"; }
die() {
    echo "setup.sh: error: $*" >&2
    exit 1
}
trap 'echo "setup.sh: error: ${step} failed (see the messages above)" >&2' ERR

usage() { sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

dev=1
models=()
for arg in "$@"; do
    case "$arg" in
        --no-dev) dev=0 ;;
        -h | --help)
            usage
            exit 0
            ;;
        a0 | a1 | a2 | all) models+=("$arg") ;;
        *) die "unknown argument '$arg' (try ./setup.sh --help)" ;;
    esac
done
[[ ${#models[@]} -gt 0 ]] || models=(a0)

# --- system packages ---------------------------------------------------------------

is_raspberry_pi() {
    grep -qa "Raspberry Pi" /proc/device-tree/model 2>/dev/null || [[ -f /etc/rpi-issue ]]
}

# Runs a command as root: directly when root, else with sudo.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "root rights are needed for: $*; run that as root, then re-run ./setup.sh"
    fi
}

apt_updated=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "cannot install $* here (no apt-get); install them with your package manager"
    if [[ $apt_updated -eq 0 ]]; then
        say "Updating the apt package lists"
        as_root apt-get update -qq
        apt_updated=1
    fi
    say "Installing with apt: $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# The first of the given apt package names that apt can install (names differ between
# Debian releases: Trixie renamed libglib2.0-0 to libglib2.0-0t64).
# No `grep -q` after a pipe here: with pipefail, grep quitting at the first match can kill the
# writer with SIGPIPE (exit 141), and the test fails at random (2 runs in 8 under qemu).
apt_pick() {
    local name
    for name in "$@"; do
        if apt-cache policy "$name" 2>/dev/null | grep "Candidate: [^(]" >/dev/null; then
            echo "$name"
            return
        fi
    done
    echo "$1"
}

deb_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep "install ok installed" >/dev/null
}

has_lib() {
    local ldconfig
    ldconfig="$(command -v ldconfig || echo /sbin/ldconfig)"
    "$ldconfig" -p 2>/dev/null | grep "/$1\$" >/dev/null
}

# Shared libraries that the opencv-python wheel needs from the system for cv2 and its
# Qt/xcb window (everything else, Qt and the xcb extensions included, is in the wheel),
# as "library:apt package[|alternative]".
opencv_libs=(
    "libGL.so.1:libgl1"
    "libgthread-2.0.so.0:libglib2.0-0t64|libglib2.0-0"
    "libX11.so.6:libx11-6"
    "libxcb.so.1:libxcb1"
    "libXext.so.6:libxext6"
    "libSM.so.6:libsm6"
    "libICE.so.6:libice6"
)

missing_opencv_packages() {
    local entry lib alternatives
    for entry in "${opencv_libs[@]}"; do
        lib="${entry%%:*}"
        alternatives="${entry#*:}"
        if ! has_lib "$lib"; then
            if command -v apt-cache >/dev/null 2>&1; then
                # shellcheck disable=SC2086 # split the alternatives on purpose
                apt_pick ${alternatives//|/ }
            else
                echo "${alternatives%%|*}"
            fi
        fi
    done
}

step="installing system packages"
packages=()
if is_raspberry_pi; then
    model="Raspberry Pi OS"
    [[ -r /proc/device-tree/model ]] && model="$(tr -d '\0' </proc/device-tree/model)"
    say "Raspberry Pi detected: $model"
    for name in python3-picamera2 python3-venv; do
        deb_installed "$name" || packages+=("$name")
    done
fi
read -r -a libs_needed <<<"$(missing_opencv_packages | tr '\n' ' ')"
packages+=("${libs_needed[@]}")

if is_raspberry_pi; then
    python="${PYTHON:-/usr/bin/python3}" # the apt Python, which sees the apt picamera2
else
    python="${PYTHON:-python3}"
fi
if ! command -v "$python" >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "$python not found; install Python 3.9 or newer"
    packages+=(python3 python3-venv python3-pip)
elif ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    # Debian and Ubuntu ship venv/ensurepip separately, in python3-venv.
    command -v apt-get >/dev/null 2>&1 || die "'$python -m venv' is not available; install your distribution's venv package for Python 3"
    packages+=(python3-venv)
fi
if [[ ${#packages[@]} -gt 0 ]]; then
    # shellcheck disable=SC2207 # package names have no spaces
    packages=($(printf '%s\n' "${packages[@]}" | sort -u))
    apt_install "${packages[@]}"
else
    say "System packages: ok"
fi

# --- the virtual environment -------------------------------------------------------

step="creating .venv"
command -v "$python" >/dev/null 2>&1 || die "$python not found; install Python 3.9 or newer"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
    die "$("$python" -V 2>&1) is too old; Python 3.9 or newer is needed"
"$python" -c 'import ensurepip, venv' 2>/dev/null ||
    die "'$python -m venv' is still not available; install python3-venv (sudo apt-get install python3-venv)"

venv_args=()
site=false
if is_raspberry_pi; then
    venv_args+=(--system-site-packages)
    site=true
fi
want_version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
have_version="$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
if [[ -d .venv && -z "$have_version" ]]; then
    say ".venv exists but its Python does not run; making it again"
    rm -rf .venv
elif [[ -n "$have_version" && "$have_version" != "$want_version" ]]; then
    say ".venv has Python $have_version, $python is $want_version; making it again"
    rm -rf .venv
fi
if [[ ! -d .venv ]]; then
    say "Creating .venv with $("$python" -V 2>&1)${venv_args[*]:+ (${venv_args[*]})}"
    "$python" -m venv "${venv_args[@]}" .venv
elif ! grep -qx "include-system-site-packages = $site" .venv/pyvenv.cfg 2>/dev/null; then
    say "Updating .venv (include-system-site-packages = $site)"
    "$python" -m venv --without-pip "${venv_args[@]}" .venv
else
    say "Using the existing .venv (Python $have_version)"
fi
venv_python="$repo_dir/.venv/bin/python"

# --- Python packages ---------------------------------------------------------------

step="installing the Python packages"
say "Upgrading pip in .venv"
"$venv_python" -m pip install --quiet --upgrade pip

pip_args=(--quiet)
if [[ $site == true ]]; then
    # Keep numpy at the system's major version: apt's picamera2 and simplejpeg are built
    # against it, and numpy 2 in the venv would break them on Bookworm.
    system_numpy="$("$python" -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)"
    if [[ $system_numpy == 1.* ]]; then
        say "System numpy is $system_numpy: keeping numpy<2 in .venv"
        echo "numpy<2" >.venv/setup-constraints.txt
        pip_args+=(--constraint .venv/setup-constraints.txt)
    fi
fi
requirements=requirements-dev.txt
[[ $dev -eq 1 ]] || requirements=requirements.txt
say "Installing $requirements into .venv"
"$venv_python" -m pip install "${pip_args[@]}" -r "$requirements"

step="checking the Python packages"
say "Checking that numpy, OpenCV and a TFLite runtime import"
"$venv_python" - <<'EOF' || die "the Python packages in .venv do not import (see above); re-run ./setup.sh"
import numpy, cv2
try:
    import ai_edge_litert as runtime
except ImportError:
    import tflite_runtime as runtime
print(f"    numpy {numpy.__version__}, OpenCV {cv2.__version__}, {runtime.__name__} {getattr(runtime, '__version__', '')}")
EOF
if is_raspberry_pi; then
    "$venv_python" -c 'import picamera2' 2>/dev/null ||
        echo "setup.sh: warning: picamera2 does not import in .venv; the Pi camera will not work (webcams and files will)" >&2
fi

# --- model -------------------------------------------------------------------------

step="downloading the model"
say "Downloading the model files (${models[*]}) into models/"
(cd "$caller_dir" && "$repo_dir/download_models.sh" "${models[@]}") ||
    die "could not download the model files (see above); fix that and re-run ./setup.sh or ./download_models.sh"

trap - ERR
say "Done. Run: .venv/bin/python classify.py"
