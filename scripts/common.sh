# Sourced by setup.sh and service.sh: their messages, and running a command as root.
# shellcheck shell=bash

prog="${0##*/}"
say() { echo "==> $*"; }
warn() { echo "$prog: warning: $*" >&2; }
die() {
    echo "$prog: error: $*" >&2
    exit 1
}

# Runs a command as root: directly when root, else with sudo. $root_hint, if set, ends the message when neither can.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "root rights are needed for: $*${root_hint:-}"
    fi
}
