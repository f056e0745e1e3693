#!/usr/bin/env bash
# Stop the daemons that slurm_up.sh STATE_DIR started (by the PIDs it recorded), in
# reverse order: slurmd, slurmctld, munged, and remove the /etc/slurm symlinks it made.
# Other SLURM or munge processes on the machine are left alone. Safe to call twice.
set -uo pipefail

STATE=${1:?usage: slurm_down.sh STATE_DIR}
PIDS=$STATE/pids

remove_links() {
    local link
    [ -s "$STATE/links" ] || return 0
    while read -r link; do
        [ "$(readlink "$link")" = "$STATE/$(basename "$link")" ] && rm -f "$link"
    done <"$STATE/links"
    : >"$STATE/links"
}

stop() {  # name pid
    local name=$1 pid=$2 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid"
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { echo "slurm_down: stopped $name ($pid)" >&2; return 0; }
        sleep 0.1
    done
    echo "slurm_down: $name ($pid) ignored SIGTERM for 10 s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

if [ -s "$PIDS" ]; then
    tac "$PIDS" | while read -r name pid; do
        stop "$name" "$pid"
    done
    : >"$PIDS"
else
    echo "slurm_down: no daemons recorded in $PIDS" >&2
fi
remove_links
