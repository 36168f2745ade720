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

# apt waits up to 10 minutes for the dpkg lock while another program holds it (an unattended upgrade on a fresh
# Pi, a second apt in CI) instead of failing at once: pass "${apt_lock_wait[@]}" to apt-get install.
apt_lock_wait=(-o DPkg::Lock::Timeout=600)

# `apt-get update -qq` as root. Its lists lock has no timeout option (DPkg::Lock::Timeout is the dpkg lock's),
# so it is tried again every 5 s, for up to 10 minutes, while another program holds it; any other failure
# ends it at once, with apt's messages.
apt_get_update() {
    local tries=0 output
    until output=$(as_root apt-get update -qq "${apt_lock_wait[@]}" 2>&1); do
        if [[ $output != *"Could not get lock"* ]] || ((++tries > 120)); then
            printf '%s\n' "$output" >&2
            return 1
        fi
        [[ $tries -gt 1 ]] || say "Waiting for another program to finish with apt (its package lists are locked)"
        sleep 5
    done
    [[ -z $output ]] || printf '%s\n' "$output" >&2
}
