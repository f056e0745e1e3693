#!/usr/bin/env bash
# Bring up a single-node SLURM cluster on this machine, for tests of the SLURM profile.
#
#   tests/cluster/slurm_up.sh STATE_DIR        # then: export SLURM_CONF=STATE_DIR/slurm.conf
#   tests/cluster/slurm_down.sh STATE_DIR      # stops what this script started
#
# Needs root (Debian/Ubuntu: installs slurm-wlm and munge with apt-get when missing).
# Everything it writes lives in STATE_DIR (config, spool, logs, the PIDs it started),
# except the munge key, which the munge package keeps in /etc/munge, and two symlinks,
# /etc/slurm/{slurm,gres}.conf -> STATE_DIR (see link_default_config). Nothing is
# installed as a service: munged (as user munge), slurmctld and slurmd run as plain
# daemons until slurm_down.sh stops them by PID.
#
# Settings (environment): SLURM_PARTITION (test), SLURMCTLD_PORT (6817),
# SLURMD_PORT (6818), SLURM_MEM_FRACTION (0.9 of the machine's memory for jobs).
set -euo pipefail

STATE=${1:?usage: slurm_up.sh STATE_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
PARTITION=${SLURM_PARTITION:-test}
CTLD_PORT=${SLURMCTLD_PORT:-6817}
SLURMD_PORT=${SLURMD_PORT:-6818}
MEM_FRACTION=${SLURM_MEM_FRACTION:-0.9}

say() { echo "slurm_up: $*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it starts munged, slurmctld and slurmd)"

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return
    fi
    command -v apt-get >/dev/null || die "slurmctld/slurmd/munged missing and no apt-get to install them"
    say "installing slurm-wlm and munge with apt-get"
    apt-get update -q >"$STATE/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >>"$STATE/apt.log" 2>&1 \
        || die "apt-get install failed, see $STATE/apt.log"
}

record_pid() {  # name pidfile: remember a daemon we started, for slurm_down.sh
    local name=$1 pidfile=$2 i
    for i in $(seq 100); do
        [ -s "$pidfile" ] && break
        sleep 0.1
    done
    [ -s "$pidfile" ] || die "$name wrote no PID file ($pidfile); see its log in $STATE"
    echo "$name $(cat "$pidfile")" >>"$STATE/pids"
}

start_munge() {
    local dir=$STATE/munge
    [ -s /etc/munge/munge.key ] || { say "creating /etc/munge/munge.key"; mungekey --create --keyfile=/etc/munge/munge.key; }
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    mkdir -p "$dir"
    chown munge:munge "$dir"
    chmod 0755 "$dir"
    runuser -u munge -- test -w "$dir" || die "user munge cannot reach $dir: use a STATE_DIR whose parents are world-traversable (e.g. under /tmp)"
    runuser -u munge -- munged \
        --socket="$dir/munge.socket" --pid-file="$dir/munged.pid" \
        --log-file="$dir/munged.log" --seed-file="$dir/munged.seed" \
        --key-file=/etc/munge/munge.key
    record_pid munged "$dir/munged.pid"
    munge -n -S "$dir/munge.socket" | unmunge -S "$dir/munge.socket" >/dev/null \
        || die "munged does not answer on $dir/munge.socket"
}

write_config() {
    local node cpus mem_mb
    node=$(hostname -s)
    cpus=$(getconf _NPROCESSORS_ONLN)  # not nproc: it honours OMP_NUM_THREADS
    mem_mb=$(awk -v f="$MEM_FRACTION" '/^MemTotal:/ {printf "%d", $2 / 1024 * f}' /proc/meminfo)
    mkdir -p "$STATE/ctld" "$STATE/slurmd"
    sed -e "s|@NODE@|$node|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEM_MB@|$mem_mb|g" \
        -e "s|@STATE@|$STATE|g" -e "s|@PARTITION@|$PARTITION|g" \
        -e "s|@CTLD_PORT@|$CTLD_PORT|g" -e "s|@SLURMD_PORT@|$SLURMD_PORT|g" \
        -e "s|@MUNGE_SOCKET@|$STATE/munge/munge.socket|g" \
        "$HERE/slurm.conf.in" >"$STATE/slurm.conf"
    cp "$HERE/gres.conf.in" "$STATE/gres.conf"
    say "node $node: $cpus CPUs, $mem_mb MB, 1 fake GPU, partition $PARTITION"
}

link_default_config() {
    # Snakemake's jobstep executor drops every SLURM_* variable (SLURM_CONF too) before
    # its inner `srun`, which then looks for /etc/slurm/slurm.conf: point that at ours,
    # unless the machine has a SLURM config of its own (then we refuse to touch it).
    local name target
    mkdir -p /etc/slurm
    for name in slurm.conf gres.conf; do
        target=/etc/slurm/$name
        if [ -L "$target" ] && [ ! -e "$target" ]; then
            rm -f "$target"  # dangling link left by an earlier test cluster
        fi
        if [ -e "$target" ] || [ -L "$target" ]; then
            [ "$(readlink "$target")" = "$STATE/$name" ] && continue
            die "$target exists and is not ours: this machine has its own SLURM setup; use that"
        fi
        ln -s "$STATE/$name" "$target"
        echo "$target" >>"$STATE/links"
    done
}

wait_idle() {
    local i state
    for i in $(seq 150); do
        state=$(SLURM_CONF="$STATE/slurm.conf" sinfo -h -o %T 2>/dev/null || true)
        case $state in idle*) return ;; esac
        sleep 0.2
    done
    die "node not idle after 30 s (state: '${state:-none}'); see $STATE/slurmctld.log and $STATE/slurmd.log"
}

mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
chmod 0755 "$STATE"
[ ! -s "$STATE/pids" ] || die "$STATE/pids exists: a cluster from this folder may still run; call slurm_down.sh first"
: >"$STATE/pids"
# On any failure, stop what was already started: no half-up cluster is left behind.
trap 'rc=$?; [ $rc = 0 ] || "$HERE/slurm_down.sh" "$STATE"; exit $rc' EXIT
install_packages
start_munge
write_config
link_default_config
slurmctld -f "$STATE/slurm.conf"
record_pid slurmctld "$STATE/slurmctld.pid"
slurmd -f "$STATE/slurm.conf" -N "$(hostname -s)"
record_pid slurmd "$STATE/slurmd.pid"
wait_idle
say "up; use: export SLURM_CONF=$STATE/slurm.conf"
echo "SLURM_CONF=$STATE/slurm.conf"
