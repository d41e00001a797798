#!/usr/bin/env bash
# Stop both demo schedulers started by start-all.sh (each by pid). Safe when nothing runs.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
LOG_TAG=stop-all

require_root
rc=0
"$HERE/slurm-stop.sh" || rc=1
"$HERE/gridengine-stop.sh" || rc=1
[ "$rc" = 0 ] || die "could not stop everything (see the messages above)"
log "Slurm and Grid Engine stopped."
