#!/usr/bin/env bash
# The systemd service that runs classify.py at boot (what ./setup.sh --service and --remove-service do).
#
#   ./service.sh unit [--config FILE]      print the unit file
#   ./service.sh install [--config FILE]   install, enable and start it (as root, through sudo if needed)
#   ./service.sh remove                    stop, disable and delete it
#
# The service runs as the user who calls this (the one behind sudo), restarts on failure and logs to the
# journal: journalctl -u pi-action-classifier -f
#
#   SERVICE_DIR=/etc/systemd/system   where the unit goes     SERVICE_USER=name   who runs it
#   SYSTEMCTL=systemctl               the command that tells systemd (tests use a stand-in)
set -Eeuo pipefail

caller_dir="$PWD"
cd "$(dirname "${BASH_SOURCE[0]}")"
repo_dir="$PWD"

unit_name="pi-action-classifier.service"
service_dir="${SERVICE_DIR:-/etc/systemd/system}"
systemctl_cmd="${SYSTEMCTL:-systemctl}"
service_user="${SERVICE_USER:-${SUDO_USER:-$(id -un)}}"

# shellcheck source=scripts/common.sh
source scripts/common.sh  # say, die, as_root
usage() { sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

# A value for a unit file: "%" is systemd's specifier sign, and quotes keep spaces in one argument.
unit_quote() {
    local value="${1//%/%%}"
    printf '"%s"' "${value//\"/\\\"}"
}

# Prints the unit for the given config file (an absolute path, or empty for none).
service_unit() {
    local config="$1" exec_start
    exec_start="$(unit_quote "$repo_dir/.venv/bin/python") $(unit_quote "$repo_dir/classify.py")"
    [[ -z "$config" ]] || exec_start+=" --config $(unit_quote "$config")"
    cat <<UNIT
[Unit]
Description=Action classifier (classify.py): live action recognition and its events
Wants=network-online.target
After=network-online.target
# Never gives up: a camera or network camera that is not there yet at boot (a power cut) comes back by itself.
StartLimitIntervalSec=0

[Service]
Type=exec
User=$service_user
WorkingDirectory=${repo_dir//%/%%}
Environment=PYTHONUNBUFFERED=1
# Secrets stay out of the unit and of ps: WEB_PASSWORD=... and MQTT_PASSWORD=... lines, if the file exists.
EnvironmentFile=-${repo_dir//%/%%}/service.env
ExecStart=$exec_start
Restart=on-failure
RestartSec=10
# SIGTERM ends the event in progress and finishes its clip first.
TimeoutStopSec=45
SyslogIdentifier=pi-action-classifier

[Install]
WantedBy=multi-user.target
UNIT
}

# The config file as an absolute path, checked by the app's own rules when .venv is there.
config_path() {
    local config="$1"
    [[ -n "$config" ]] || return 0
    [[ "$config" == /* ]] || config="$caller_dir/$config"
    [[ -f "$config" ]] || die "config file not found: $config"
    config="$(cd "$(dirname "$config")" && pwd)/$(basename "$config")"
    if [[ -x "$repo_dir/.venv/bin/python" ]]; then
        "$repo_dir/.venv/bin/python" -c 'import sys; from utils.config_file import read_config_file as r
from utils.errors import ClassifierError
try: r(sys.argv[1], ["verbose"])
except ClassifierError as e: sys.exit(f"service.sh: error: {e}")' "$config" || exit 1
    fi
    echo "$config"
}

install_service() {
    local config="$1" unit_file="$service_dir/$unit_name"
    id "$service_user" >/dev/null 2>&1 || die "no such user: $service_user"
    [[ -x "$repo_dir/.venv/bin/python" ]] || echo "service.sh: warning: no .venv yet; run ./setup.sh" >&2
    say "Installing $unit_file (runs as $service_user${config:+, with --config $config})"
    local temp
    temp="$(mktemp)"
    service_unit "$config" >"$temp"
    as_root mkdir -p "$service_dir"
    as_root install -m 644 "$temp" "$unit_file"
    rm -f "$temp"
    as_root "$systemctl_cmd" daemon-reload
    as_root "$systemctl_cmd" enable "$unit_name"
    as_root "$systemctl_cmd" restart "$unit_name"
    say "Started. Logs: journalctl -u ${unit_name%.service} -f"
}

remove_service() {
    local unit_file="$service_dir/$unit_name"
    if [[ ! -f "$unit_file" ]]; then
        say "No $unit_file: nothing to remove"
        return 0
    fi
    say "Removing $unit_file"
    as_root "$systemctl_cmd" disable --now "$unit_name" || true
    as_root rm -f "$unit_file"
    as_root "$systemctl_cmd" daemon-reload
}

main() {
    local command="${1:-}" config=""
    [[ $# -eq 0 ]] || shift
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --config)
                [[ $# -ge 2 ]] || die "--config needs a file"
                config="$2"
                shift 2
                ;;
            *) die "unknown argument '$1' (try ./service.sh --help)" ;;
        esac
    done
    case "$command" in
        unit | install) config="$(config_path "$config")" ;; # a bad config file stops here
    esac
    case "$command" in
        unit) service_unit "$config" ;;
        install) install_service "$config" ;;
        remove) remove_service ;;
        -h | --help) usage ;;
        *) die "unknown command '${command}' (unit, install or remove; try ./service.sh --help)" ;;
    esac
}

main "$@"
