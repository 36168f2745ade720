#!/usr/bin/env bash
# Sets up this folder to run classify.py: system packages, .venv, Python packages, model.
# Safe to re-run: it checks what is there, installs what is missing and verifies the rest.
#
#   ./setup.sh [--no-dev | --dev] [--print-plan] [--service [--config FILE]] [MODEL ...]
#   ./setup.sh --remove-service
#
#   MODEL         a1, a2 or all: also fetch these models (a0, the default model, is always fetched)
#   --no-dev      skip the test tools; install what classify.py needs only (the default on 32-bit ARM)
#   --dev         install the test tools (requirements-tools.txt) too (the default elsewhere)
#   --print-plan  say what this machine is and what would be installed, then stop; changes nothing
#   --service     then install the systemd service that starts classify.py at boot (--config FILE: its options)
#   MODELS_MIRROR=DIR_OR_URL ./setup.sh   take the model files from a mirror (see download_models.sh)
#   PYTHON=/path/to/python3 ./setup.sh    make .venv with another interpreter
#
# On Raspberry Pi OS it installs python3-picamera2 with apt and makes .venv with --system-site-packages,
# so that picamera2 (and the apt numpy it is built for) are visible. Another OS on a Pi (Ubuntu, Armbian)
# has no picamera2: setup warns and goes on, for USB cameras and files. A 32-bit userland (armhf, also
# under the 64-bit kernel a Pi 4 or 5 boots) takes numpy, OpenCV and psutil from apt: PyPI has no 32-bit
# ARM wheels of them.
set -Eeuo pipefail

caller_dir="$PWD"
cd "$(dirname "${BASH_SOURCE[0]}")"
repo_dir="$PWD"
# Where /proc/device-tree/model and /etc/rpi-issue are looked up: / except in the tests.
root="${SETUP_ROOT:-}"

step="setup"
# shellcheck source=scripts/common.sh
source scripts/common.sh  # say, warn, die, as_root
root_hint="; run that as root, then re-run ./setup.sh"
trap 'echo "setup.sh: error: ${step} failed (see the messages above)" >&2' ERR

usage() { sed -n '2,21s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

dev=""
plan=0
models=()
service=""  # install or remove: the systemd service section at the end (service.sh)
service_args=()
while [[ $# -gt 0 ]]; do
    arg="$1"
    shift
    case "$arg" in
        --no-dev) dev=0 ;;
        --dev) dev=1 ;;
        --print-plan) plan=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        --service) service=install ;;
        --remove-service) service=remove ;;
        --config)
            [[ $# -gt 0 ]] || die "--config needs a file"
            [[ "$1" == /* ]] && service_args=(--config "$1") || service_args=(--config "$caller_dir/$1")
            shift
            ;;
        a0 | a1 | a2 | all) models+=("$arg") ;;
        *) die "unknown argument '$arg' (try ./setup.sh --help)" ;;
    esac
done
# a0 is the model classify.py uses by default, so it is always fetched; the ones named come in addition.
case " ${models[*]-} " in
    *" a0 "* | *" all "*) ;;
    *) models=(a0 ${models[@]+"${models[@]}"}) ;;
esac
[[ ${#service_args[@]} -eq 0 || $service == install ]] || die "--config goes with --service"
if [[ $service == remove ]]; then
    exec "$repo_dir/service.sh" remove
fi

# --- what this machine is ----------------------------------------------------------

on_pi_hardware() {
    grep -qa "Raspberry Pi" "$root/proc/device-tree/model" 2>/dev/null
}

apt_updated=0
apt_update() {
    [[ $apt_updated -eq 0 && $plan -eq 0 ]] || return 0
    say "Updating the apt package lists"
    apt_get_update || die "apt-get update failed (see above)"
    apt_updated=1
}

apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "cannot install $* here (no apt-get); install them with your package manager"
    apt_update
    say "Installing with apt: $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install "${apt_lock_wait[@]}" -y -qq --no-install-recommends "$@"
}

# apt can install this package (its sources have it).
apt_has() {
    command -v apt-cache >/dev/null 2>&1 && apt-cache policy "$1" 2>/dev/null | grep "Candidate: [^(]" >/dev/null
}

# The first of the given apt package names that apt can install (names differ between
# Debian releases: Trixie renamed libglib2.0-0 to libglib2.0-0t64).
apt_pick() {
    local name
    for name in "$@"; do
        if apt_has "$name"; then
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
    "$ldconfig" -p 2>/dev/null | grep "/$1\$" >/dev/null # not -q: an early exit would fail the pipe
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

# "VERSION BITS MACHINE VENV" of $python, e.g. "3.11 32 aarch64 yes"; nothing when it does not run.
# BITS is the pointer size: a 32-bit userland under a Pi's 64-bit kernel says aarch64 as its machine
# (so pip's platform_machine markers cannot tell), but its pointers are 32 bits.
python_facts() {
    "$python" - 2>/dev/null <<'EOF' || true
import platform, struct, sys
try:
    import ensurepip, venv  # noqa: F401  (Debian and Ubuntu ship these in python3-venv)
    has_venv = "yes"
except ImportError:
    has_venv = "no"
print("%d.%d" % sys.version_info[:2], struct.calcsize("P") * 8, platform.machine(), has_venv)
EOF
}

read_python_facts() {
    py_version="" py_bits="" py_machine="" py_venv=""
    read -r py_version py_bits py_machine py_venv <<<"$(python_facts)" || true
    bits="${py_bits:-$(getconf LONG_BIT 2>/dev/null || echo 64)}"
    machine="${py_machine:-$(uname -m)}"
}

# 32-bit has one TFLite runtime, tflite-runtime, with wheels for ARMv7 and Python 3.9-3.11 only, needing
# numpy >= 1.23 (Bookworm's apt numpy; Bullseye's is 1.19). ai-edge-litert has no 32-bit builds at all.
check_32bit_runtime() {
    [[ $bits == 32 ]] || return 0
    case "$machine" in
        armv7l | armv8l | aarch64) ;;
        *) die "no TFLite runtime has wheels for 32-bit $machine (tflite-runtime has 32-bit ARMv7 only, not Pi 1/Zero ARMv6); install a 64-bit OS" ;;
    esac
    if [[ -n $py_version && $py_version != 3.11 ]]; then
        die "32-bit ARM is supported with Python 3.11 (Raspberry Pi OS Bookworm) only; with Python $py_version there is no TFLite runtime to install (tflite-runtime's 32-bit wheels stop at 3.11 and need Bookworm's numpy; ai-edge-litert has no 32-bit builds): install the 64-bit Raspberry Pi OS"
    fi
}

if on_pi_hardware; then
    python="${PYTHON:-/usr/bin/python3}" # the apt Python, which sees the apt picamera2
else
    python="${PYTHON:-python3}"
fi
read_python_facts
check_32bit_runtime

# picamera2 comes from Raspberry Pi OS's apt archive only: other OSes on a Pi (Ubuntu, Armbian) lack it,
# and asking apt for it there would end the setup. /etc/rpi-issue marks Raspberry Pi OS images (pi-gen);
# an apt source that has the package counts too (DietPi uses the Pi's archive).
picamera=0
if on_pi_hardware; then
    model="$(tr -d '\0' <"$root/proc/device-tree/model")"
    say "Raspberry Pi detected: $model ($bits-bit userland)"
    if deb_installed python3-picamera2 || [[ -f "$root/etc/rpi-issue" ]] || apt_has python3-picamera2 ||
        { apt_update && apt_has python3-picamera2; }; then
        picamera=1
    else
        warn "python3-picamera2 is not in this OS's apt sources (it comes with Raspberry Pi OS), so the Pi camera will not work here; USB cameras and video files will"
    fi
fi
[[ -n $dev ]] || { [[ $bits == 32 ]] && dev=0 || dev=1; }

# --- system packages ---------------------------------------------------------------

step="installing system packages"
packages=()
wanted=()
[[ $picamera -eq 0 ]] || wanted+=(python3-picamera2 python3-venv)
# 32-bit: PyPI has no wheels of these (OpenCV would build from source for hours, then fail).
[[ $bits != 32 ]] || wanted+=(python3-numpy python3-opencv python3-psutil)
# Wanted where the apt archive has them (the app goes on without): gpiozero and lgpio, its pin library, drive
# --gpio on a Pi; on 32-bit, python3-av writes H.264 event clips (requirements.txt has PyPI's av on 64-bit).
optional=()
[[ $picamera -eq 0 ]] || optional+=(python3-gpiozero python3-lgpio)
[[ $bits != 32 ]] || optional+=(python3-av)
for name in "${optional[@]}"; do
    ! apt_has "$name" || wanted+=("$name")
done
for name in "${wanted[@]}"; do
    deb_installed "$name" || packages+=("$name")
done
if [[ $bits != 32 ]]; then
    read -r -a libs_needed <<<"$(missing_opencv_packages | tr '\n' ' ')"
    packages+=("${libs_needed[@]}")
fi

if [[ -z $py_version ]]; then
    command -v apt-get >/dev/null 2>&1 || die "$python not found; install Python 3.9 or newer"
    packages+=(python3 python3-venv python3-pip)
elif [[ $py_venv != yes ]]; then
    # Debian and Ubuntu ship venv/ensurepip separately, in python3-venv.
    command -v apt-get >/dev/null 2>&1 || die "'$python -m venv' is not available; install your distribution's venv package for Python 3"
    packages+=(python3-venv)
fi
if [[ ${#packages[@]} -gt 0 ]]; then
    # shellcheck disable=SC2207 # package names have no spaces
    packages=($(printf '%s\n' "${packages[@]}" | sort -u))
fi

# What goes into .venv: the apt packages above are seen through the system site packages.
site=false
[[ $picamera -eq 0 && $bits != 32 ]] || site=true
if [[ $bits == 32 ]]; then
    requirements=(requirements-arm32.txt)
    [[ $dev -eq 0 ]] || requirements+=(requirements-tools.txt)
else
    requirements=(requirements.txt)
    [[ $dev -eq 0 ]] || requirements=(requirements-dev.txt)
fi
constraints=()
# mypy 2 needs librt, which has no 32-bit ARM wheel (pip would try to compile it).
[[ $bits != 32 || $dev -eq 0 ]] || constraints+=("mypy<2")

if [[ $plan -eq 1 ]]; then
    echo "machine=$machine"
    echo "bits=$bits"
    echo "python=$python${py_version:+ $py_version}"
    echo "pi_hardware=$(on_pi_hardware && echo yes || echo no)"
    echo "picamera2=$([[ $picamera -eq 1 ]] && echo yes || echo no)"
    echo "apt=${packages[*]}"
    echo "system_site_packages=$site"
    echo "requirements=${requirements[*]}"
    echo "constraints=${constraints[*]}"
    exit 0
fi

if [[ ${#packages[@]} -gt 0 ]]; then
    apt_install "${packages[@]}"
    read_python_facts
    check_32bit_runtime
else
    say "System packages: ok"
fi

# --- the virtual environment -------------------------------------------------------

step="creating .venv"
[[ -n $py_version ]] || die "$python not found; install Python 3.9 or newer"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
    die "$("$python" -V 2>&1) is too old; Python 3.9 or newer is needed"
[[ $py_venv == yes ]] ||
    die "'$python -m venv' is still not available; install python3-venv (sudo apt-get install python3-venv)"

venv_args=()
[[ $site == false ]] || venv_args+=(--system-site-packages)
have_version="$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
if [[ -d .venv && -z "$have_version" ]]; then
    say ".venv exists but its Python does not run; making it again"
    rm -rf .venv
elif [[ -n "$have_version" && "$have_version" != "$py_version" ]]; then
    say ".venv has Python $have_version, $python is $py_version; making it again"
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

if [[ $site == true ]]; then
    # Keep numpy at the system's major version: apt's picamera2 and simplejpeg are built
    # against it, and numpy 2 in the venv would break them on Bookworm.
    system_numpy="$("$python" -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)"
    if [[ $system_numpy == 1.* ]]; then
        say "System numpy is $system_numpy: keeping numpy<2 in .venv"
        constraints+=("numpy<2")
    fi
fi
pip_args=(--quiet)
if [[ ${#constraints[@]} -gt 0 ]]; then
    printf '%s\n' "${constraints[@]}" >.venv/setup-constraints.txt
    pip_args+=(--constraint .venv/setup-constraints.txt)
fi
say "Installing ${requirements[*]} into .venv"
"$venv_python" -m pip install "${pip_args[@]}" "${requirements[@]/#/--requirement=}"

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
if [[ $picamera -eq 1 ]]; then
    "$venv_python" -c 'import picamera2' 2>/dev/null ||
        warn "picamera2 does not import in .venv; the Pi camera will not work (webcams and files will)"
fi

# Compiled once here, so no start pays for it: about 60 modules, which a Pi compiles for a good part of a second,
# and a service user that cannot write to this folder would compile them on every start.
step="compiling the app"
"$venv_python" -m compileall -q "$repo_dir/classify.py" "$repo_dir/utils" "$repo_dir/benchmarks" ||
    die "could not compile the app's Python files (see above)"

# --- model -------------------------------------------------------------------------

step="downloading the model"
say "Downloading the model files (${models[*]}) into models/"
# Without a network, a folder holding the model files (copied from another computer) stands in for the sources.
mirror_hint="; without a network, MODELS_MIRROR=DIR ./setup.sh copies them from DIR, a folder holding the model files"
[[ -z ${MODELS_MIRROR:-} ]] || mirror_hint=""
(cd "$caller_dir" && "$repo_dir/download_models.sh" "${models[@]}") ||
    die "could not download the model files (see above); fix that and re-run ./setup.sh or ./download_models.sh${mirror_hint}"

# --- the systemd service (--service) ---------------------------------------------

if [[ $service == install ]]; then
    step="installing the service"
    "$repo_dir/service.sh" install "${service_args[@]}"
fi

trap - ERR
say "Done. Run: .venv/bin/python classify.py"
