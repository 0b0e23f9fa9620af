#!/usr/bin/env bash
# Start a real single-node SLURM (with accounting) on this machine, for tests.
#
# Why: the pipeline's preemption/requeue paths can only be trusted when they run on a real
# slurmctld/slurmd with slurmdbd (sacct). Needs root; works without systemd and without a TTY.
# Idempotent: when everything is already up it only checks, prints, and exits (< 2 s).
#
# Layout (see slurm/README.md):
#   /etc/slurm/slurm.conf, /etc/slurm/slurmdbd.conf   configs (clients read /etc/slurm)
#   $DADDY_SLURM_STATE (/var/lib/daddy-slurm)          pids/, log/, spool/, mysql/ (database)
#   /run/daddy-slurm                                  daemon pid files and the MariaDB socket
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

STATE=${DADDY_SLURM_STATE:-/var/lib/daddy-slurm}
RUN=/run/daddy-slurm
ETC=/etc/slurm
CLUSTER=daddy
MIN_CPUS=${DADDY_SLURM_CPUS:-8}
MARKER="# written by daddy slurm/local-cluster/up.sh"
DB_SOCKET=$RUN/mysql/mysqld.sock
PACKAGES=(slurm-wlm munge slurmdbd mariadb-server)
CHANGED=0 # set when this run installed, configured or started anything

step() { printf '%s\n' "$*"; }

die() {
    # die MESSAGE [LOGFILE]: one readable line, then the log's tail when there is one.
    printf 'up.sh: error: %s\n' "$1" >&2
    if [[ -n ${2:-} && -f $2 ]]; then
        printf -- '--- last lines of %s ---\n' "$2" >&2
        tail -n 25 "$2" >&2
    fi
    exit 1
}

# --- processes -------------------------------------------------------------------------------

alive() {
    # alive NAME PID: PID is a running (not zombie) process whose name is NAME.
    local name=$1 pid=$2 stat rest
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/comm && $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    [[ ${rest:0:1} != Z ]]
}

recorded_pid() { cat "$STATE/pids/$1.pid" 2>/dev/null || true; }

ours_alive() { alive "$1" "$(recorded_pid "$1")"; }

clear_stale_pidfile() {
    # clear_stale_pidfile NAME FILE: slurm daemons SIGTERM whatever pid their old pid file names,
    # so a stale file must go; a live foreign daemon is an error, not something to kill.
    local name=$1 file=$2 pid
    [[ -f $file ]] || return 0
    pid=$(tr -dc '0-9' <"$file")
    if alive "$name" "$pid" && [[ $pid != "$(recorded_pid "$name")" ]]; then
        die "$name (pid $pid, pid file $file) is running but was not started by up.sh; stop it first"
    fi
    rm -f "$file"
}

start_daemon() {
    # start_daemon NAME LOG CMD...: run CMD in the foreground of its own session, record its pid.
    local name=$1 log=$2
    shift 2
    # Close every inherited descriptor above 2 first: a daemon holding our lock (fd 9) would
    # block the next up.sh forever, and one holding a caller's pipe (make, pytest) would keep
    # that caller waiting for EOF.
    (
        local fd
        for fd in "/proc/$BASHPID/fd/"*; do
            fd=${fd##*/}
            if ((fd > 2)); then eval "exec $fd>&-"; fi
        done
        exec setsid "$@" </dev/null >>"$log" 2>&1
    ) &
    local pid=$!
    CHANGED=1
    echo "$pid" >"$STATE/pids/$name.pid.tmp"
    mv "$STATE/pids/$name.pid.tmp" "$STATE/pids/$name.pid"
}

wait_for() {
    # wait_for NAME LOG SECONDS CHECK...: poll CHECK until it succeeds; fail if the daemon died.
    local name=$1 log=$2 seconds=$3 i
    shift 3
    for ((i = 0; i < seconds * 10; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        ours_alive "$name" || die "$name exited during start-up" "$log"
        sleep 0.1
    done
    die "$name did not become ready within ${seconds}s" "$log"
}

# --- install ---------------------------------------------------------------------------------

installed() {
    local cmd
    for cmd in slurmctld slurmd slurmdbd munged mariadbd mariadb-install-db sinfo sacct; do
        command -v "$cmd" >/dev/null 2>&1 || return 1
    done
}

install_packages() {
    # The policy-rc.d trick stops the packages from starting their own services on install.
    local policy=/usr/sbin/policy-rc.d backup=""
    if [[ -e $policy ]]; then
        backup=$(mktemp /usr/sbin/policy-rc.d.daddy.XXXXXX)
        cp -p "$policy" "$backup"
    fi
    # shellcheck disable=SC2064
    trap "if [[ -n '$backup' ]]; then mv -f '$backup' '$policy'; else rm -f '$policy'; fi" EXIT
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    local t0=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$STATE/log/apt.log" 2>&1 || die "apt-get update failed" "$STATE/log/apt.log"
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >>"$STATE/log/apt.log" 2>&1 ||
        die "apt-get install ${PACKAGES[*]} failed" "$STATE/log/apt.log"
    if [[ -n $backup ]]; then mv -f "$backup" "$policy"; else rm -f "$policy"; fi
    trap - EXIT
    step "install: ${PACKAGES[*]} installed in $((SECONDS - t0))s"
}

# --- configs ---------------------------------------------------------------------------------

node_name() { hostname -s; }

slurm_conf() {
    local node cpus mem hw
    node=$(node_name)
    hw=$(slurmd -C | head -n 1)
    cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
    ((cpus < MIN_CPUS)) && cpus=$MIN_CPUS
    cat <<EOF
$MARKER; edits are overwritten.
# A single-node test cluster: one node, partitions debug (default) and urgent (preempts debug).
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
# A requeued job waits cred_expire seconds before it starts again (default 120).
AuthInfo=cred_expire=10
MpiDefault=none
# No cgroups here: track processes by parentage, no task binding, no usage sampling.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
PropagateResourceLimits=NONE
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=sched_interval=2,bf_interval=1
# The node advertises more CPUs than it has, so several 1-CPU test jobs run at once.
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=1
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
# Without preempt_send_user_signal a preempted job never sees its --signal (submitit's USR2).
SlurmctldParameters=preempt_send_user_signal
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
# Short timeouts keep tests fast.
MinJobAge=60
KillWait=5
MessageTimeout=10
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
Waittime=0
StateSaveLocation=$STATE/spool/slurmctld
SlurmdSpoolDir=$STATE/spool/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
# GraceTime: a preempted debug job gets its --signal (submitit: USR2) and 30 s to checkpoint and
# requeue itself, as on real clusters. With 0, SLURM requeues it at once, submitit's own
# "scontrol requeue" then fails ("Job is pending execution") and the job reports a failure.
PartitionName=debug Nodes=$node Default=YES PriorityTier=1 GraceTime=30 OverSubscribe=NO MaxTime=INFINITE State=UP
PartitionName=urgent Nodes=$node PriorityTier=10 OverSubscribe=NO MaxTime=INFINITE State=UP
EOF
}

slurmdbd_conf() {
    cat <<EOF
$MARKER; edits are overwritten.
DbdHost=localhost
SlurmUser=slurm
LogFile=$STATE/log/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=$(cat "$STATE/dbpass")
EOF
}

write_if_changed() {
    # write_if_changed FILE OWNER MODE < content: atomic; returns 0 when the file changed.
    local file=$1 owner=$2 mode=$3 tmp
    tmp=$(mktemp "$file.XXXXXX")
    cat >"$tmp"
    chown "$owner" "$tmp"
    chmod "$mode" "$tmp"
    if [[ -f $file ]] && cmp -s "$tmp" "$file" &&
        [[ $(stat -c '%U:%G %a' "$file") == "$(stat -c '%U:%G %a' "$tmp")" ]]; then
        rm -f "$tmp"
        return 1
    fi
    if [[ -f $file ]] && ! grep -qF "$MARKER" "$file"; then
        rm -f "$tmp"
        die "$file exists and was not written by up.sh; move it away to use the local cluster"
    fi
    mv -f "$tmp" "$file"
}

prepare_dirs() {
    mkdir -p "$STATE"/{pids,log,spool/slurmd} "$RUN" "$ETC"
    mkdir -p "$STATE/spool/slurmctld" "$RUN/mysql"
    chmod 755 "$STATE" "$STATE/log" "$RUN"
    chown slurm:slurm "$STATE/spool/slurmctld"
    chown mysql:mysql "$RUN/mysql"
    touch "$STATE"/log/{slurmctld,slurmdbd}.log
    chown slurm:slurm "$STATE"/log/{slurmctld,slurmdbd}.log
    mkdir -p /run/munge
    chown munge:munge /run/munge
    if [[ ! -s $STATE/dbpass ]]; then
        (umask 077 && head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$STATE/dbpass")
    fi
}

# --- daemons ---------------------------------------------------------------------------------

munge_works() { munge -n | unmunge >/dev/null 2>&1; }

start_munged() {
    if ours_alive munged; then return 0; fi
    local pid
    pid=$(tr -dc "0-9" 2>/dev/null </run/munge/munged.pid || true)
    if alive munged "$pid" && munge_works; then
        rm -f "$STATE/pids/munged.pid"
        step "munged: running (pid $pid, not started by up.sh), reused"
        return 0
    fi
    clear_stale_pidfile munged /run/munge/munged.pid
    start_daemon munged "$STATE/log/munged.log" \
        setpriv --reuid=munge --regid=munge --init-groups munged -F
    wait_for munged "$STATE/log/munged.log" 10 munge_works
    step "munged: started (pid $(recorded_pid munged))"
}

db() { mariadb --no-defaults -S "$DB_SOCKET" -u root "$@"; }

start_mariadbd() {
    if ours_alive mariadbd; then return 0; fi
    local log=$STATE/log/mariadb.log
    if [[ ! -d $STATE/mysql/mysql ]]; then
        rm -rf "$STATE/mysql"
        mariadb-install-db --no-defaults --user=mysql --datadir="$STATE/mysql" \
            --auth-root-authentication-method=socket --skip-test-db >>"$log" 2>&1 ||
            die "mariadb-install-db failed" "$log"
        step "mariadb: database initialised in $STATE/mysql"
    fi
    clear_stale_pidfile mariadbd "$RUN/mysql/mariadbd.pid"
    rm -f "$DB_SOCKET" "$DB_SOCKET.lock"
    start_daemon mariadbd "$log" mariadbd --no-defaults --user=mysql --datadir="$STATE/mysql" \
        --socket="$DB_SOCKET" --pid-file="$RUN/mysql/mariadbd.pid" --skip-networking \
        --log-error="$log"
    wait_for mariadbd "$log" 30 mariadb-admin --no-defaults -S "$DB_SOCKET" -u root ping
    local pass
    pass=$(cat "$STATE/dbpass")
    db -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pass';
           ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$pass';
           GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';" >>"$log" 2>&1 ||
        die "could not create the slurm database user" "$log"
    step "mariadbd: started (pid $(recorded_pid mariadbd), socket $DB_SOCKET)"
}

dbd_works() { sacctmgr -n -P show cluster format=cluster; }

start_slurmdbd() {
    if ours_alive slurmdbd; then return 0; fi
    clear_stale_pidfile slurmdbd "$RUN/slurmdbd.pid"
    # MYSQL_UNIX_PORT points the MariaDB client library at our own socket.
    start_daemon slurmdbd "$STATE/log/slurmdbd.log" env MYSQL_UNIX_PORT="$DB_SOCKET" slurmdbd -D
    wait_for slurmdbd "$STATE/log/slurmdbd.log" 30 dbd_works
    step "slurmdbd: started (pid $(recorded_pid slurmdbd))"
}

start_slurmctld() {
    if ours_alive slurmctld; then return 0; fi
    clear_stale_pidfile slurmctld "$RUN/slurmctld.pid"
    start_daemon slurmctld "$STATE/log/slurmctld.log" slurmctld -D
    wait_for slurmctld "$STATE/log/slurmctld.log" 30 bash -c 'scontrol ping | grep -q UP'
    step "slurmctld: started (pid $(recorded_pid slurmctld))"
}

start_slurmd() {
    if ours_alive slurmd; then return 0; fi
    clear_stale_pidfile slurmd "$RUN/slurmd.pid"
    start_daemon slurmd "$STATE/log/slurmd.log" slurmd -D
    step "slurmd: started (pid $(recorded_pid slurmd))"
}

stop_ours() {
    # stop_ours NAME: SIGTERM our recorded daemon and wait until it is gone (zombie = gone).
    local name=$1 pid i
    pid=$(recorded_pid "$name")
    if alive "$name" "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do
            alive "$name" "$pid" || break
            sleep 0.1
        done
        alive "$name" "$pid" && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/pids/$name.pid"
}

node_state() { sinfo -h -N -n "$(node_name)" -o '%T' 2>/dev/null | head -n 1; }

wait_node_ready() {
    local i state=""
    for ((i = 0; i < 300; i++)); do
        state=$(node_state)
        case $state in
        idle | mixed | allocated | completing)
            # slurmctld may still list a node whose slurmd just restarted: ask slurmd itself.
            scontrol show slurmd >/dev/null 2>&1 && return 0
            ;;
        drain* | down* | fail*)
            ((i == 20)) && scontrol update nodename="$(node_name)" state=resume >/dev/null 2>&1
            ;;
        esac
        ours_alive slurmd || die "slurmd exited during start-up" "$STATE/log/slurmd.log"
        sleep 0.1
    done
    die "node $(node_name) is '${state:-unknown}', not idle, after 30s" "$STATE/log/slurmd.log"
}

wait_sacct() {
    local i
    for ((i = 0; i < 300; i++)); do
        if sacct -n -X -S now-1hours >/dev/null 2>&1 && dbd_works | grep -qx "$CLUSTER"; then
            return 0
        fi
        sleep 0.1
    done
    die "sacct does not work (cluster '$CLUSTER' not registered in slurmdbd)" \
        "$STATE/log/slurmctld.log"
}

main() {
    local t0=$SECONDS
    [[ $(id -u) == 0 ]] || die "run as root: sudo slurm/local-cluster/up.sh"
    mkdir -p "$STATE/log" "$STATE/pids"
    exec 9>"$STATE/lock"
    flock -w 120 9 || die "another up.sh or down.sh has held $STATE/lock for 120s; is one stuck?"
    installed || install_packages
    prepare_dirs
    write_if_changed "$ETC/slurmdbd.conf" slurm:slurm 600 < <(slurmdbd_conf) && {
        step "config: wrote $ETC/slurmdbd.conf"
        stop_ours slurmdbd
    }
    write_if_changed "$ETC/slurm.conf" root:root 644 < <(slurm_conf) && {
        step "config: wrote $ETC/slurm.conf"
        stop_ours slurmd
        stop_ours slurmctld
    }
    start_munged
    start_mariadbd
    start_slurmdbd
    start_slurmctld
    start_slurmd
    wait_node_ready
    wait_sacct
    if ((CHANGED)); then
        step "slurm up: node $(node_name) $(node_state), partitions debug (default) and urgent; took $((SECONDS - t0))s"
    else
        step "slurm up: already running (node $(node_name) $(node_state)); nothing to do"
    fi
}

main "$@"
