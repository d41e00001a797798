#!/usr/bin/env bash
# Install, configure and start a single-node (Son of) Grid Engine 8.1.9 on Debian 12 without
# systemd: sge_qmaster + sge_execd on this host, one queue all.q with 8 slots, DRMAA library.
#
#   bash slurm-demo/gridengine-start.sh     # idempotent: re-running on a healthy node only
#                                           # re-checks the configuration and reports
#   source slurm-demo/gridengine.env        # environment for qsub/qstat and DRMAA clients
#   bash slurm-demo/gridengine-stop.sh      # stops sge_execd and sge_qmaster by pid
#
# Settings (environment, all optional):
#   GE_DEMO_SLOTS   slots of all.q on this host (default: 8, oversubscribes real cores)
#   GE_DEMO_SMOKE   1 = run a trivial job after a (re)start (default: 1)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
LOG_TAG=gridengine

SLOTS=${GE_DEMO_SLOTS:-8}
SMOKE=${GE_DEMO_SMOKE:-1}
HOST=$(hostname)
QUEUE=all.q

export SGE_ROOT=/var/lib/gridengine
export SGE_CELL=default
COMMON=$SGE_ROOT/$SGE_CELL/common
QMASTER_SPOOL=/var/spool/gridengine/qmaster
QMASTER_PID=$QMASTER_SPOOL/qmaster.pid
EXECD_SPOOL=/var/spool/gridengine/execd
DRMAA_LIB=/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0
PACKAGES=(gridengine-master gridengine-exec gridengine-client gridengine-drmaa1.0)

require_root
START_TIME=$SECONDS
WORK=$(mktemp -d /tmp/gridengine-start.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
qmaster_up() { qconf -sh >/dev/null 2>&1; }

# Queue instance state of all.q on this host: '' when fine, else letters such as u (unknown,
# execd not heard from), E (error), d (disabled), a (alarm). 'missing' when there is none.
queue_state() {
    local line
    line=$(qstat -f -q "$QUEUE@$HOST" 2>/dev/null | awk -v q="$QUEUE@$HOST" '$1 == q')
    if [ -z "$line" ]; then echo missing; return; fi
    # queuename qtype resv/used/tot load arch [states]
    awk '{print (NF >= 6 ? $6 : "")}' <<<"$line"
}

queue_ready() { [ -z "$(queue_state)" ]; }

# sge_execd keeps its pid file in $EXECD_SPOOL/<name>/execd.pid, where <name> is the host name
# as the execd resolved it: 'localhost' when the host name maps to 127.0.0.1. Print the pid
# file of the live execd, if any.
execd_pid_file() {
    local f
    for f in "$EXECD_SPOOL"/*/execd.pid; do
        [ -e "$f" ] || continue
        if running "$f" sge_execd; then echo "$f"; return 0; fi
    done
}
execd_running() { [ -n "$(execd_pid_file)" ]; }
execd_pid() { local f; f=$(execd_pid_file); [ -z "$f" ] || pid_of_file "$f" sge_execd; }

# q ARGS...: run qconf quietly (it reports on stderr), showing its output only on failure.
q() {
    local out
    if ! out=$(qconf "$@" 2>&1); then
        printf '%s\n' "$out" >&2
        return 1
    fi
}

show_messages() {
    local f
    for f in "$QMASTER_SPOOL/messages" "$EXECD_SPOOL"/*/messages; do
        [ -r "$f" ] || continue
        echo "---- last lines of $f ----" >&2
        tail -n 15 "$f" >&2 || true
    done
    echo "----" >&2
}

# Join continuation lines (trailing backslash) and squeeze blanks: one "key value" per line.
normalize() {
    sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta' "$1" \
        | sed -e 's/[[:space:]]\+/ /g' -e 's/ $//' | grep -v '^#' | grep -v '^$' || true
}

# differs DESIRED CURRENT: true when any key of DESIRED has another value in CURRENT
# (keys only CURRENT has, such as read-only load values, are ignored).
differs() {
    local want have
    want=$(normalize "$1")
    have=$(normalize "$2")
    awk 'NR == FNR { k = $1; $1 = ""; have[k] = $0; next }
         { k = $1; $1 = ""; if (!(k in have) || have[k] != $0) { bad = 1 } }
         END { exit bad ? 0 : 1 }' <(printf '%s\n' "$have") <(printf '%s\n' "$want")
}

# set_keys FILE key value [key value ...]: replace (or append) "key value" lines in FILE.
set_keys() {
    local file=$1; shift
    normalize "$file" >"$file.norm"
    while [ $# -ge 2 ]; do
        awk -v k="$1" -v v="$2" 'BEGIN { done = 0 }
            $1 == k { print k " " v; done = 1; next } { print }
            END { if (!done) print k " " v }' "$file.norm" >"$file.tmp"
        mv "$file.tmp" "$file.norm"
        shift 2
    done
    mv "$file.norm" "$file"
}

# apply WHAT NAME DESIRED_FILE SHOW_CMD ADD_OPT MOD_OPT: create or modify a configuration
# object through a file, only when it is missing or differs.
apply() {
    local what=$1 name=$2 desired=$3 show=$4 add=$5 mod=$6
    if ! $show "$name" >"$WORK/current" 2>/dev/null; then
        log "adding $what $name"
        q "$add" "$desired" || die "qconf $add $desired failed ($what $name)"
    elif differs "$desired" "$WORK/current"; then
        log "updating $what $name"
        q "$mod" "$desired" || die "qconf $mod $desired failed ($what $name)"
    else
        log "$what $name up to date"
    fi
}

configure() {
    local f

    # Global configuration: root may run jobs, no mail, accounting written every second.
    install -d "$WORK/conf"
    f=$WORK/conf/global    # qconf -Mconf takes the object name from the file name
    qconf -sconf global >"$f" || die "cannot read the global configuration"
    cp "$f" "$WORK/global.current"
    set_keys "$f" min_uid 0 min_gid 0 mailer /bin/true \
        reporting_params "accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00"
    if differs "$f" "$WORK/global.current"; then
        log "updating global configuration"
        q -Mconf "$f" || die "qconf -Mconf failed"
    else
        log "global configuration up to date"
    fi

    # Scheduler: schedule every second and right after submits/finishes; no load adjustments.
    f=$WORK/sconf
    qconf -ssconf >"$f" || die "cannot read the scheduler configuration"
    cp "$f" "$WORK/sconf.current"
    set_keys "$f" schedule_interval 0:0:1 flush_submit_sec 1 flush_finish_sec 1 \
        job_load_adjustments NONE
    if differs "$f" "$WORK/sconf.current"; then
        log "updating scheduler configuration"
        q -Msconf "$f" || die "qconf -Msconf failed"
    else
        log "scheduler configuration up to date"
    fi

    # This host: administrative (set by the package), submit and execution host.
    if ! qconf -sh 2>/dev/null | grep -qxF "$HOST"; then
        log "adding admin host $HOST"
        q -ah "$HOST" || die "qconf -ah $HOST failed"
    fi
    if ! qconf -ss 2>/dev/null | grep -qxF "$HOST"; then
        log "adding submit host $HOST"
        q -as "$HOST" || die "qconf -as $HOST failed"
    fi

    f=$WORK/exechost
    cat >"$f" <<EOF
hostname              $HOST
load_scaling          NONE
complex_values        NONE
user_lists            NONE
xuser_lists           NONE
projects              NONE
xprojects             NONE
usage_scaling         NONE
report_variables      NONE
EOF
    apply "execution host" "$HOST" "$f" "qconf -se" -Ae -Me

    f=$WORK/allhosts
    printf 'group_name @allhosts\nhostlist %s\n' "$HOST" >"$f"
    apply "host group" @allhosts "$f" "qconf -shgrp" -Ahgrp -Mhgrp

    # A parallel environment so that a job can ask for several slots on one host: -pe smp N.
    f=$WORK/smp
    cat >"$f" <<EOF
pe_name            smp
slots              $SLOTS
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    \$pe_slots
control_slaves     TRUE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary TRUE
qsort_args         NONE
EOF
    apply "parallel environment" smp "$f" "qconf -sp" -Ap -Mp

    # The queue: from the built-in template, 8 slots, never in alarm because of load.
    f=$WORK/queue
    qconf -sq >"$f" || die "cannot read the queue template"
    set_keys "$f" qname "$QUEUE" hostlist @allhosts slots "$SLOTS" load_thresholds NONE \
        pe_list smp shell /bin/bash tmpdir /tmp
    apply queue "$QUEUE" "$f" "qconf -sq" -Aq -Mq
}

print_env_hint() {
    cat <<EOF

Grid Engine is running on host '$HOST', queue '$QUEUE' ($SLOTS slots).
Environment for clients (qsub/qstat) and for DRMAA (also in $HERE/gridengine.env):
  export SGE_ROOT=$SGE_ROOT
  export SGE_CELL=$SGE_CELL
  export DRMAA_LIBRARY_PATH=$DRMAA_LIB
  export GLIBC_TUNABLES=glibc.rtld.optional_static_tls=4096
  check:   qstat -f ; qhost ; qsub -b y -N hello hostname ; qacct -j   (finished jobs)
  logs:    $QMASTER_SPOOL/messages  $EXECD_SPOOL/*/messages
  stop:    $HERE/gridengine-stop.sh
EOF
}

# ---------------------------------------------------------------------------------------------
# 1. packages (debconf preseeded so that the cell 'default' is created with this master)
# ---------------------------------------------------------------------------------------------
if [ -n "$(missing_pkgs "${PACKAGES[@]}")" ]; then
    debconf-set-selections <<EOF
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string default
gridengine-common shared/gridenginemaster string $HOST
EOF
fi
apt_install "${PACKAGES[@]}"
[ -r "$COMMON/bootstrap" ] || die "$COMMON/bootstrap is missing: the cell was not created" \
    "(purge gridengine-common and re-run, or run: dpkg-reconfigure gridengine-common)"
[ -r "$DRMAA_LIB" ] || die "DRMAA library $DRMAA_LIB is missing (package gridengine-drmaa1.0)"

# ---------------------------------------------------------------------------------------------
# 2. host names: master name, and "localhost" as an alias of this host
# ---------------------------------------------------------------------------------------------
RESTART_QMASTER=0
if [ "$(cat "$COMMON/act_qmaster" 2>/dev/null || true)" != "$HOST" ]; then
    log "setting the master host to $HOST in $COMMON/act_qmaster"
    echo "$HOST" >"$COMMON/act_qmaster"
    chown sgeadmin:sgeadmin "$COMMON/act_qmaster"
    RESTART_QMASTER=1
fi
# When the host name resolves to 127.0.0.1, connections from this host come from "localhost",
# which the qmaster rejects ("access denied ... resolved to host name localhost"). Declaring
# localhost an alias of this host fixes it without touching /etc/hosts.
if ! grep -qxF "$HOST localhost" "$COMMON/host_aliases" 2>/dev/null; then
    log "adding '$HOST localhost' to $COMMON/host_aliases"
    { grep -vw localhost "$COMMON/host_aliases" 2>/dev/null || true; echo "$HOST localhost"; } >"$WORK/aliases"
    install -o sgeadmin -g sgeadmin -m 0644 "$WORK/aliases" "$COMMON/host_aliases"
    RESTART_QMASTER=1
fi
install -d -o sgeadmin -g sgeadmin -m 0755 /var/run/gridengine "$EXECD_SPOOL"

# ---------------------------------------------------------------------------------------------
# 3. sge_qmaster
# ---------------------------------------------------------------------------------------------
if running "$QMASTER_PID" sge_qmaster && [ "$RESTART_QMASTER" = 1 ]; then
    log "host configuration changed: restarting sge_qmaster"
    stop_by_pidfile "$QMASTER_PID" sge_qmaster 30
fi
if running "$QMASTER_PID" sge_qmaster && wait_for 10 "sge_qmaster to answer" qmaster_up; then
    log "sge_qmaster already running (pid $(pid_of_file "$QMASTER_PID" sge_qmaster))"
    QMASTER_STARTED=0
else
    if running "$QMASTER_PID" sge_qmaster; then
        warn "sge_qmaster running but not answering: restarting it"
        stop_by_pidfile "$QMASTER_PID" sge_qmaster 30
    fi
    warn_strays sge_qmaster "$QMASTER_PID"
    rm -f "$QMASTER_PID"
    log "starting sge_qmaster"
    /usr/sbin/sge_qmaster || { show_messages; die "sge_qmaster failed to start"; }
    wait_for 30 "sge_qmaster to answer qconf" qmaster_up || { show_messages; die "sge_qmaster is not answering"; }
    log "sge_qmaster running (pid $(pid_of_file "$QMASTER_PID" sge_qmaster))"
    QMASTER_STARTED=1
fi

# ---------------------------------------------------------------------------------------------
# 4. configuration (through files; only what differs is changed)
# ---------------------------------------------------------------------------------------------
configure

# ---------------------------------------------------------------------------------------------
# 5. sge_execd
# ---------------------------------------------------------------------------------------------
EXECD_STARTED=0
if execd_running; then
    log "sge_execd already running (pid $(execd_pid))"
else
    warn_strays sge_execd /dev/null
    rm -f "$EXECD_SPOOL"/*/execd.pid
    log "starting sge_execd"
    /usr/sbin/sge_execd || { show_messages; die "sge_execd failed to start"; }
    wait_for 15 "sge_execd pid file" execd_running || { show_messages; die "sge_execd did not stay up"; }
    log "sge_execd running (pid $(execd_pid))"
    EXECD_STARTED=1
fi

# ---------------------------------------------------------------------------------------------
# 6. wait until the queue instance on this host takes jobs
# ---------------------------------------------------------------------------------------------
deadline=$((SECONDS + 60))
cleared=0
until queue_ready; do
    state=$(queue_state)
    if [ "$SECONDS" -ge "$deadline" ]; then
        qstat -f >&2 || true
        show_messages
        die "queue $QUEUE@$HOST not ready after 60 s (state: $state)"
    fi
    case "$state" in
        *E* | *d*)
            if [ "$cleared" = 0 ]; then
                log "queue $QUEUE@$HOST is in state '$state': clearing and enabling it"
                qmod -c "$QUEUE@$HOST" >/dev/null 2>&1 || true
                qmod -e "$QUEUE@$HOST" >/dev/null 2>&1 || true
                cleared=1
            fi
            ;;
    esac
    sleep 0.5
done
log "queue $QUEUE@$HOST is ready"

# ---------------------------------------------------------------------------------------------
# 7. smoke test after a (re)start: a trivial job must run and finish
# ---------------------------------------------------------------------------------------------
if [ "$SMOKE" = 1 ] && { [ "$QMASTER_STARTED" = 1 ] || [ "$EXECD_STARTED" = 1 ]; }; then
    log "smoke test: qsub -sync y true"
    if ! out=$(timeout 60 qsub -b y -sync y -N smoke -wd /tmp -o /dev/null -e /dev/null true 2>&1); then
        echo "$out" >&2
        qstat -f >&2 || true
        qdel smoke >/dev/null 2>&1 || true
        show_messages
        die "smoke job did not complete within 60 s"
    fi
    log "smoke job finished: $(tail -n 1 <<<"$out")"
fi

qstat -f
log "ready in $((SECONDS - START_TIME)) s"
print_env_hint
