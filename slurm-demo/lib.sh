# shellcheck shell=bash
# Helpers shared by the slurm-demo start/stop scripts. Sourced, not executed.

log()  { printf '[%s] %s\n' "${LOG_TAG:-demo}" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "${LOG_TAG:-demo}" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "${LOG_TAG:-demo}" "$*" >&2; exit 1; }

require_root() {
    [ "$(id -u)" -eq 0 ] || die "must be run as root (as root: bash $0; from another account: sudo bash $0)"
}

# pkg_installed PKG: true when dpkg reports PKG as fully installed.
pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

# missing_pkgs PKG...: print the packages that are not installed.
missing_pkgs() {
    local p
    for p in "$@"; do pkg_installed "$p" || printf '%s ' "$p"; done
}

# apt_lists_fresh: true when the package lists exist and are less than one day old.
apt_lists_fresh() {
    local newest
    newest=$(find /var/lib/apt/lists -maxdepth 1 -type f -name '*_Packages*' -mmin -1440 2>/dev/null | head -n 1)
    [ -n "$newest" ]
}

# apt_install PKG...: install what is missing, running apt-get update only when needed
# (no lists, lists older than a day, or an install that fails on stale lists).
apt_install() {
    local missing
    missing=$(missing_pkgs "$@")
    if [ -z "$missing" ]; then
        log "packages already installed: $*"
        return 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    local -a opts=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    # shellcheck disable=SC2086
    if ! apt_lists_fresh; then
        log "apt-get update (package lists missing or older than a day)"
        apt-get update -q >/dev/null || die "apt-get update failed"
        log "installing: $missing"
        apt-get install "${opts[@]}" $missing >/dev/null || die "apt-get install $missing failed"
    else
        log "installing: $missing"
        if ! apt-get install "${opts[@]}" $missing >/dev/null; then
            log "install failed, retrying after apt-get update"
            apt-get update -q >/dev/null || die "apt-get update failed"
            apt-get install "${opts[@]}" $missing >/dev/null || die "apt-get install $missing failed"
        fi
    fi
    missing=$(missing_pkgs "$@")
    [ -z "$missing" ] || die "still not installed after apt-get install: $missing"
}

# pid_of_file FILE NAME: print the pid recorded in FILE when that process is alive and its
# command name is NAME (guards against a recycled pid); print nothing otherwise.
pid_of_file() {
    local file=$1 name=$2 pid comm
    [ -r "$file" ] || return 0
    pid=$( { head -n 1 "$file" | tr -dc '0-9'; } 2>/dev/null || true)
    [ -n "$pid" ] || return 0
    [ -r "/proc/$pid/comm" ] || return 0
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
    # /proc/PID/comm is truncated to 15 characters.
    [ "$comm" = "${name:0:15}" ] || return 0
    # A zombie has exited already.
    if grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then return 0; fi
    printf '%s\n' "$pid"
}

# running FILE NAME: true when the daemon recorded in FILE is alive.
running() { [ -n "$(pid_of_file "$1" "$2")" ]; }

# wait_for SECONDS DESCRIPTION CMD...: run CMD every 0.5 s until it succeeds or SECONDS pass.
wait_for() {
    local secs=$1 what=$2; shift 2
    local deadline=$((SECONDS + secs))
    while ! "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            warn "timed out after ${secs}s waiting for: $what"
            return 1
        fi
        sleep 0.5
    done
}

# stop_by_pidfile FILE NAME [SECONDS]: SIGTERM the daemon recorded in FILE, wait for it to exit
# (SIGKILL after SECONDS, default 20), then remove the pid file.
stop_by_pidfile() {
    local file=$1 name=$2 secs=${3:-20} pid deadline
    pid=$(pid_of_file "$file" "$name")
    if [ -z "$pid" ]; then
        if [ -e "$file" ]; then
            log "$name: not running, removing stale pid file $file"
            rm -f "$file"
        else
            log "$name: not running (no pid file $file)"
        fi
        return 0
    fi
    log "$name: stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + secs))
    while [ -n "$(pid_of_file "$file" "$name")" ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            warn "$name (pid $pid) still alive after ${secs}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
    rm -f "$file"
    log "$name: stopped"
}

# warn_strays NAME PIDFILE: warn about processes called NAME that the pid file does not account for.
warn_strays() {
    local name=$1 file=$2 known others
    known=$(pid_of_file "$file" "$name")
    others=$(pidof "$name" 2>/dev/null | tr ' ' '\n' | grep -vx "${known:-0}" | tr '\n' ' ' || true)
    if [ -n "${others// /}" ]; then
        warn "$name processes not recorded in $file: $others(stop them by pid: kill $others)"
    fi
}
