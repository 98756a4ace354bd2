#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, from Debian's slurm-wlm
# (22.05) and munge, so that the project's tests (tools/slurm_*.sh, the
# submitit launcher) can submit real jobs with sbatch/srun instead of mocks.
# Machines here have no systemd, so the daemons (munged, slurmctld, slurmd)
# are started by hand and tracked by their pid files; the clients find the
# cluster through /etc/slurm/slurm.conf with no environment variable.
#
# Usage: tools/slurm/cluster.sh install|up|down|status
#   install  apt-get install slurm-wlm and munge where they are missing (root)
#   up       install, write the config, start the daemons, wait for the node,
#            run one srun smoke test; a second `up` only verifies
#   down     cancel every job, stop the daemons this script started
#   status   one line; exit 0 when up, 1 when not
#
# It never overwrites a slurm.conf that it did not write (first line MARK).
# Daemon logs: /var/log/slurm-mmseg-aaf/{munged,slurmctld,slurmd}.log
set -euo pipefail

export PATH="$PATH:/usr/sbin:/sbin"

MARK="# written by mmseg_aaf tools/slurm/cluster.sh"
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
SPOOL=/var/spool/slurm-mmseg-aaf
LOGDIR=/var/log/slurm-mmseg-aaf
RUNDIR=/run/slurm-mmseg-aaf
MUNGE_KEY=/etc/munge/munge.key
MUNGE_RUN=/run/munge
PARTITION=debug
NODE=$(hostname -s 2>/dev/null || true)
NODE=${NODE:-localhost}
NEEDED=(slurmctld slurmd munged sbatch squeue)

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# The last lines of a log file, joined onto one line. Left out: the lines
# of Slurm 22.05 daemons that fail to load mpi/pmix at every start (no
# PMIx library here; MpiDefault=none does not need it).
log_tail() {
    local file=$1 n=${2:-5}
    if [ -s "$file" ]; then
        printf '%s' "last lines of $file: "
        grep -v -e 'pmix' -e 'MPI: Cannot create context' "$file" |
            tail -n "$n" | tr '\n' '|' | sed 's/|$//; s/|/ | /g'
    else
        printf '%s' "$file is empty or missing"
    fi
}

# Runs a command; its failure, with what it printed, becomes one error line.
must() {
    local out
    out=$("$@" 2>&1) || die "'$*' failed: $(printf '%s' "$out" | tr '\n' ' ')"
}

need_root() {
    [ "$(id -u)" -eq 0 ] || die "$1 needs root (run it as root or with sudo)"
}

# The pid in pid file $1 when that process is alive and is command $2.
live_pid() {
    local file=$1 comm=$2 pid
    [ -r "$file" ] || return 1
    pid=$(tr -dc '0-9' < "$file")
    [ -n "$pid" ] || return 1
    [ -r "/proc/$pid/comm" ] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 1
    echo "$pid"
}

# True while any of the processes $@ is alive.
any_alive() {
    local pid
    for pid in "$@"; do
        kill -0 "$pid" 2>/dev/null && return 0
    done
    return 1
}

# SIGTERM to processes $2..., up to $1 seconds for them to go, then -9.
stop_pids() {
    local timeout=$1 i
    shift
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        any_alive "$@" || return 0
        sleep 0.1
    done
    kill -KILL "$@" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        any_alive "$@" || return 0
        sleep 0.1
    done
    die "processes $* survived kill -9"
}

cmd_install() {
    local missing=() c log
    for c in "${NEEDED[@]}"; do
        command -v "$c" >/dev/null 2>&1 || missing+=("$c")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "slurm: $(slurmd -V 2>/dev/null) and munge already installed"
        return 0
    fi
    [ "$(id -u)" -eq 0 ] ||
        die "missing ${missing[*]}; installing slurm-wlm and munge needs root (apt-get)"
    log=$(mktemp /tmp/slurm-apt.XXXXXX.log)
    # policy-rc.d on these machines already keeps apt from starting the
    # services; `up` starts them itself either way.
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends slurm-wlm munge >"$log" 2>&1; then
        # Only a missing or stale package list earns an apt-get update.
        if grep -Eq 'Unable to locate package|has no installation candidate|Failed to fetch|404' "$log"; then
            if ! { apt-get update &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y \
                    --no-install-recommends slurm-wlm munge; } >>"$log" 2>&1; then
                die "apt-get install slurm-wlm munge failed after apt-get update; $(log_tail "$log" 3)"
            fi
        else
            die "apt-get install slurm-wlm munge failed; $(log_tail "$log" 3)"
        fi
    fi
    for c in "${NEEDED[@]}"; do
        command -v "$c" >/dev/null 2>&1 ||
            die "$c still missing after apt-get install (log: $log)"
    done
    rm -f "$log"
    echo "slurm: installed $(slurmd -V 2>/dev/null) and munge"
}

munge_works() {
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1
}

start_munge() {
    if munge_works; then
        return 0
    fi
    # The key: 1 KiB of random bytes, readable by the munge user only.
    must install -d -o munge -g munge -m 0700 /etc/munge
    if [ ! -s "$MUNGE_KEY" ]; then
        if command -v mungekey >/dev/null 2>&1; then
            must mungekey --create --keyfile="$MUNGE_KEY" --force
        else
            must dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
        fi
    fi
    must chown munge:munge "$MUNGE_KEY"
    must chmod 0400 "$MUNGE_KEY"
    must install -d -o munge -g munge -m 0755 "$MUNGE_RUN"
    must install -d -o munge -g munge -m 0700 /var/lib/munge
    must install -d -o munge -g munge -m 0700 "$LOGDIR/munge"
    # munged runs as the munge user, which owns the key and its directories,
    # as Debian's service does; its own pid file is copied into ours.
    rm -f "$MUNGE_RUN/munged.pid"
    runuser -u munge -- munged --pid-file="$MUNGE_RUN/munged.pid" \
        --log-file="$LOGDIR/munge/munged.log" ||
        die "munged did not start; $(log_tail "$LOGDIR/munge/munged.log")"
    local i pid=""
    for ((i = 0; i < 100; i++)); do
        pid=$(live_pid "$MUNGE_RUN/munged.pid" munged) && break
        sleep 0.1
    done
    [ -n "$pid" ] || die "munged wrote no pid file; $(log_tail "$LOGDIR/munge/munged.log")"
    echo "$pid" > "$RUNDIR/munged.pid" || die "cannot write $RUNDIR/munged.pid"
    for ((i = 0; i < 100; i++)); do
        munge_works && return 0
        sleep 0.1
    done
    die "munged runs but munge -n | unmunge fails; $(log_tail "$LOGDIR/munge/munged.log")"
}

# The config; CPUs and memory are this machine's.
render_conf() {
    local cpus mem_mb
    cpus=$(nproc)
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
    cat <<EOF
$MARK
# A one-node cluster on this machine for the project's tests; rewritten by
# every \`cluster.sh up\` (edits are lost). Remove it with the cluster down
# to hand /etc/slurm back.
ClusterName=mmseg-aaf
# The daemons and clients talk over the loopback only, whatever the host
# name resolves to. RealMemory: 90 % of MemTotal.
SlurmctldHost=$NODE(127.0.0.1)
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
# Cores are the consumable resource, memory is not: two 1-CPU jobs run side
# by side on two cores whatever memory they ask for (up to RealMemory).
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# No cgroups: plain /proc process tracking, no task binding, no accounting
# (no slurmdbd: sacct answers "Slurm accounting storage is disabled", so
# submitit's job.state says UNKNOWN and its results come from its own
# files; squeue/scontrol know a job until MinJobAge).
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# A node that was down comes back by itself when its slurmd registers.
ReturnToService=2
# Fast turnover for tests. batch_sched_delay=0: an sbatch job starts about
# 0.3 s after submission (default 3: about 3 s later); the backfill pass
# runs every 5 s (default 30). Cancelled jobs get SIGKILL 5 s after SIGTERM
# (default 30); finished jobs are forgotten 10 s after they end (default
# 300): squeue -j ID then fails with "Invalid job id specified" (seen
# after 15-20 s, purges run in slurmctld's background loop).
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,bf_interval=5
KillWait=5
MinJobAge=10
InactiveLimit=0
# No /bin/mail on these machines (the default MailProg).
MailProg=/bin/true
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldPidFile=$RUNDIR/slurmctld.pid
SlurmdPidFile=$RUNDIR/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
EOF
}

check_conf_ours() {
    if [ -e "$CONF" ] && [ "$(head -n 1 "$CONF")" != "$MARK" ]; then
        die "$CONF was not written by this script (its first line is not '$MARK'); refusing to overwrite it: move it away and rerun"
    fi
}

# Writes the config; returns 0 when it changed.
write_conf() {
    local tmp
    check_conf_ours
    must install -d -m 0755 "$CONF_DIR"
    tmp=$(mktemp "$CONF_DIR/.slurm.conf.XXXXXX") || die "cannot write in $CONF_DIR"
    render_conf > "$tmp" || die "cannot write $tmp"
    must chmod 0644 "$tmp"
    if [ -e "$CONF" ] && cmp -s "$tmp" "$CONF"; then
        rm -f "$tmp"
        return 1
    fi
    must mv -f "$tmp" "$CONF"
    return 0
}

# The node's state as sinfo prints it (idle, mixed, down*, drained, ...).
node_state() {
    sinfo -h -n "$NODE" -o '%T' 2>/dev/null | head -n 1
}

node_usable() {
    case "$(node_state)" in
        idle | mixed | allocated | completing) return 0 ;;
        *) return 1 ;;
    esac
}

ctld_pid() { live_pid "$RUNDIR/slurmctld.pid" slurmctld; }
slurmd_pid() { live_pid "$RUNDIR/slurmd.pid" slurmd; }
munged_pid() { live_pid "$RUNDIR/munged.pid" munged; }

summary() {
    local cpus
    cpus=$(sinfo -h -n "$NODE" -o '%c' 2>/dev/null | head -n 1)
    echo "node $NODE, ${cpus:-?} CPUs, partition $PARTITION"
}

cmd_up() {
    local started=0 i state
    need_root up
    check_conf_ours
    cmd_install
    must install -d -m 0755 "$RUNDIR" "$LOGDIR"
    must install -d -m 0700 "$SPOOL" "$SPOOL/ctld" "$SPOOL/d"
    munge_works || started=1
    start_munge
    if write_conf && { ctld_pid >/dev/null || slurmd_pid >/dev/null; }; then
        scontrol reconfigure >/dev/null 2>&1 ||
            die "slurm.conf changed and scontrol reconfigure failed; $(log_tail "$LOGDIR/slurmctld.log")"
    fi
    if ! ctld_pid >/dev/null; then
        if ss -ltn 2>/dev/null | grep -q ':6817 '; then
            die "port 6817 is taken by another slurmctld (not started by this script)"
        fi
        started=1
        slurmctld ||
            die "slurmctld did not start; $(log_tail "$LOGDIR/slurmctld.log")"
        for ((i = 0; i < 300; i++)); do
            ctld_pid >/dev/null && scontrol ping >/dev/null 2>&1 && break
            sleep 0.2
        done
        if ! { ctld_pid >/dev/null && scontrol ping >/dev/null 2>&1; }; then
            die "slurmctld does not answer; $(log_tail "$LOGDIR/slurmctld.log")"
        fi
    fi
    if ! slurmd_pid >/dev/null; then
        started=1
        slurmd -N "$NODE" ||
            die "slurmd did not start; $(log_tail "$LOGDIR/slurmd.log")"
    fi
    # Up to 60 s for the node to register; a node left down or drained by
    # an earlier run is resumed.
    for ((i = 0; i < 120; i++)); do
        node_usable && break
        state=$(node_state)
        case "$state" in
            down | down~ | drained | draining | drain | fail | failing)
                started=1
                scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
                ;;
        esac
        slurmd_pid >/dev/null ||
            die "slurmd exited; $(log_tail "$LOGDIR/slurmd.log")"
        sleep 0.5
    done
    node_usable ||
        die "node $NODE is '$(node_state)' after 60 s, not usable; $(log_tail "$LOGDIR/slurmd.log" 3); $(log_tail "$LOGDIR/slurmctld.log" 3)"
    if [ "$started" -eq 0 ]; then
        echo "slurm: one-node cluster already up ($(summary))"
        return 0
    fi
    timeout 60 srun -N1 -n1 -t 1 true ||
        die "smoke test 'srun -N1 -n1 -t 1 true' failed; $(log_tail "$LOGDIR/slurmd.log" 3)"
    # And one batch job, to its end: a fresh slurmctld runs its first batch
    # scheduling pass about 3 s after it starts, so the tests' first sbatch
    # job need not wait for it.
    # (sbatch --wait polls too slowly: 10 s.)
    local job
    job=$(sbatch --parsable -N1 -n1 -t 1 --chdir=/ -o /dev/null \
        -J cluster.sh-smoke --wrap true) ||
        die "smoke test 'sbatch --wrap true' was refused; $(log_tail "$LOGDIR/slurmctld.log" 3)"
    for ((i = 0; i < 300; i++)); do
        state=$(squeue -h -t all -j "$job" -o '%T' 2>/dev/null || true)
        case "$state" in
            COMPLETED) break ;;
            PENDING | CONFIGURING | RUNNING | COMPLETING) sleep 0.2 ;;
            *) die "smoke test job $job (sbatch --wrap true) ended '${state:-unknown}'; $(log_tail "$LOGDIR/slurmd.log" 3)" ;;
        esac
    done
    [ "$state" = COMPLETED ] ||
        die "smoke test job $job (sbatch --wrap true) still '$state' after 60 s; $(log_tail "$LOGDIR/slurmctld.log" 3)"
    echo "slurm: one-node cluster up ($(summary))"
}

cmd_down() {
    local pid any=0 i jobs pids
    need_root down
    if ctld_pid >/dev/null && scontrol ping >/dev/null 2>&1; then
        jobs=$(squeue -h -o '%A' 2>/dev/null | tr '\n' ' ')
        if [ -n "${jobs// /}" ]; then
            # shellcheck disable=SC2086  # one argument per job id
            scancel $jobs 2>/dev/null || true
            # Up to KillWait (5 s) and a margin for the steps to go.
            for ((i = 0; i < 40; i++)); do
                [ -z "$(squeue -h -o '%A' 2>/dev/null)" ] && break
                sleep 0.5
            done
        fi
    fi
    # slurmd and slurmctld together (each takes a second or two), then the
    # step daemons of jobs that did not end (normally none), munged last.
    pids=()
    if pid=$(slurmd_pid); then pids+=("$pid"); fi
    if pid=$(ctld_pid); then pids+=("$pid"); fi
    [ ${#pids[@]} -eq 0 ] || any=1
    stop_pids 15 ${pids[@]+"${pids[@]}"}
    if [ "$any" -eq 1 ]; then
        pids=()
        for pid in $(pgrep -x slurmstepd || true); do pids+=("$pid"); done
        stop_pids 5 ${pids[@]+"${pids[@]}"}
    fi
    if pid=$(munged_pid); then
        any=1
        stop_pids 10 "$pid"
    fi
    rm -f "$RUNDIR/slurmctld.pid" "$RUNDIR/slurmd.pid" "$RUNDIR/munged.pid"
    if [ "$any" -eq 0 ]; then
        echo "slurm: not running, nothing to stop"
    else
        echo "slurm: one-node cluster down (jobs cancelled, daemons stopped)"
    fi
}

cmd_status() {
    local why=""
    if ! ctld_pid >/dev/null; then
        why="slurmctld not running"
    elif ! slurmd_pid >/dev/null; then
        why="slurmd not running"
    elif ! scontrol ping >/dev/null 2>&1; then
        why="slurmctld does not answer"
    elif ! node_usable; then
        why="node $NODE is '$(node_state)'"
    fi
    if [ -n "$why" ]; then
        echo "slurm: down ($why)"
        return 1
    fi
    echo "slurm: up ($(summary), $(squeue -h 2>/dev/null | wc -l) jobs queued or running)"
}

case "${1:-}" in
    install) cmd_install ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 install|up|down|status" >&2
        exit 2
        ;;
esac
