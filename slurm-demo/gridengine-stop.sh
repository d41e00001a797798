#!/usr/bin/env bash
# Stop the single-node Grid Engine started by gridengine-start.sh: sge_execd, then sge_qmaster,
# each by the pid in its pid file; waits for each to exit (SIGKILL after a bounded wait) and
# removes stale pid files. Safe to run when nothing is running. Jobs still running are left to
# their sge_shepherd and are picked up again by the next sge_execd.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
LOG_TAG=gridengine

require_root

EXECD_SPOOL=/var/spool/gridengine/execd
QMASTER_PID=/var/spool/gridengine/qmaster/qmaster.pid

# The execd's pid file lives in $EXECD_SPOOL/<its own idea of the host name>/execd.pid
# ('localhost' when the host name maps to 127.0.0.1): stop whatever each pid file names.
found=0
for f in "$EXECD_SPOOL"/*/execd.pid; do
    [ -e "$f" ] || continue
    found=1
    stop_by_pidfile "$f" sge_execd 20
done
[ "$found" = 1 ] || log "sge_execd: not running (no pid file under $EXECD_SPOOL)"
stop_by_pidfile "$QMASTER_PID" sge_qmaster 30
warn_strays sge_execd /dev/null
warn_strays sge_qmaster "$QMASTER_PID"
log "Grid Engine stopped. Start again with: $HERE/gridengine-start.sh"
