#!/usr/bin/env bash
# Install (if needed), configure and start both demo schedulers on this machine: a single-node
# Slurm and a single-node Grid Engine. Idempotent; used by CI. Run as root.
#   slurm-demo/start-all.sh        then   slurm-demo/stop-all.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
LOG_TAG=start-all

require_root
START_TIME=$SECONDS
failed=()
"$HERE/slurm-start.sh" || failed+=(slurm)
"$HERE/gridengine-start.sh" || failed+=(gridengine)
if [ "${#failed[@]}" -gt 0 ]; then
    die "failed to start: ${failed[*]} (see the messages above)"
fi
log "Slurm and Grid Engine are running ($((SECONDS - START_TIME)) s). Stop both with: $HERE/stop-all.sh"
