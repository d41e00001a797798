#!/usr/bin/env bash
# Stop the single-node Slurm started by slurm-start.sh: slurmd, slurmctld, then munged, each by
# the pid in its pid file; waits for each to exit (SIGKILL after a bounded wait) and removes
# stale pid files. Safe to run when nothing is running.
#
#   SLURM_DEMO_KEEP_MUNGE=1  leave munged running
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
LOG_TAG=slurm

require_root

stop_by_pidfile /run/slurmd.pid slurmd 20
stop_by_pidfile /run/slurmctld.pid slurmctld 20
if [ "${SLURM_DEMO_KEEP_MUNGE:-0}" = 1 ]; then
    log "munged left running (SLURM_DEMO_KEEP_MUNGE=1)"
else
    stop_by_pidfile /run/munge/munged.pid munged 10
fi
warn_strays slurmd /run/slurmd.pid
warn_strays slurmctld /run/slurmctld.pid
log "Slurm stopped. Start again with: $HERE/slurm-start.sh"
