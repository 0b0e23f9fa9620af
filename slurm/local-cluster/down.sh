#!/usr/bin/env bash
# Stop the single-node SLURM that up.sh started: only the daemons whose pids up.sh recorded.
#
# Why only those: a machine may also run a munged or MariaDB of its own, and a pid in a stale
# file may belong to some other process by now; each pid's process name is checked first.
# Idempotent: nothing recorded or nothing alive means nothing to do. Configs, logs, the database
# and the job state stay, so the next up.sh starts where this one stopped. Jobs that are running
# keep their slurmstepd; slurmd picks them up again after up.sh.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

STATE=${DADDY_SLURM_STATE:-/var/lib/daddy-slurm}

alive() {
    # alive NAME PID: PID is a running (not zombie) process whose name is NAME.
    local name=$1 pid=$2 stat rest
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/comm && $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    [[ ${rest:0:1} != Z ]]
}

stop() {
    local name=$1 file=$STATE/pids/$1.pid pid i
    [[ -f $file ]] || return 0
    pid=$(tr -dc '0-9' <"$file")
    if alive "$name" "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do
            alive "$name" "$pid" || break
            sleep 0.1
        done
        stopped=1
        if alive "$name" "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
            printf '%s: killed (pid %s did not stop within 15s)\n' "$name" "$pid"
        else
            printf '%s: stopped (pid %s)\n' "$name" "$pid"
        fi
    fi
    rm -f "$file"
}

[[ $(id -u) == 0 ]] || { echo "down.sh: error: run as root: sudo slurm/local-cluster/down.sh" >&2; exit 1; }
[[ -d $STATE/pids ]] || { echo "slurm down: nothing was started"; exit 0; }
exec 9>"$STATE/lock"
flock -w 120 9 || { echo "down.sh: error: another up.sh or down.sh has held $STATE/lock for 120s; is one stuck?" >&2; exit 1; }
stopped=0
for name in slurmd slurmctld slurmdbd mariadbd munged; do
    stop "$name"
done
if ((stopped)); then echo "slurm down"; else echo "slurm down: nothing was running"; fi
