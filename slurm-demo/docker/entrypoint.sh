#!/usr/bin/env bash
# Entry point of the slurm-demo containers (see ../docker-compose.yml).
#   entrypoint.sh controller        slurmctld in the foreground
#   entrypoint.sh compute           slurmd in the foreground (NodeName = container host name)
#   entrypoint.sh gateway CMD...    munged + Slurm client configuration, then exec CMD
# Every container writes the same slurm.conf from SLURM_NODES / SLURM_NODE_CPUS /
# SLURM_NODE_MEMORY / SLURM_CONTROLLER; the munge key is shared through the volume mounted at
# /etc/munge-key (created by the controller on its first start).
set -euo pipefail

role=${1:-compute}
[ $# -gt 0 ] && shift

CONTROLLER=${SLURM_CONTROLLER:-slurmctl}
NODES=${SLURM_NODES:-c1 c2}
CPUS=${SLURM_NODE_CPUS:-4}
MEMORY=${SLURM_NODE_MEMORY:-2000}
PARTITION=${SLURM_PARTITION:-debug}
SHARED_KEY=/etc/munge-key/munge.key

log() { echo "[entrypoint:$role] $*"; }
die() { echo "[entrypoint:$role] ERROR: $*" >&2; exit 1; }

# --- munge ------------------------------------------------------------------------------------
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
install -d -o munge -g munge -m 0711 /var/lib/munge
if [ "$role" = controller ] && [ ! -s "$SHARED_KEY" ]; then
    log "creating the cluster's munge key"
    dd if=/dev/urandom of="$SHARED_KEY.tmp" bs=1024 count=1 status=none
    mv "$SHARED_KEY.tmp" "$SHARED_KEY"
fi
for _ in $(seq 1 60); do
    [ -s "$SHARED_KEY" ] && break
    sleep 1
done
[ -s "$SHARED_KEY" ] || die "no munge key at $SHARED_KEY after 60 s (is the controller up?)"
install -o munge -g munge -m 0400 "$SHARED_KEY" /etc/munge/munge.key
rm -f /run/munge/munged.pid
setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged
for _ in $(seq 1 20); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.5
done
munge -n | unmunge >/dev/null || die "munged is not working"

# --- slurm.conf (same settings as slurm-start.sh, several nodes) -------------------------------
install -d -o slurm -g slurm -m 0755 /var/log/slurm /var/lib/slurm/slurmctld
install -d -m 0755 /etc/slurm /var/lib/slurm/slurmd
{
    echo "ClusterName=wpsgate"
    echo "SlurmctldHost=$CONTROLLER"
    echo "SlurmUser=slurm"
    echo "AuthType=auth/munge"
    echo "CredType=cred/munge"
    echo "SlurmctldPidFile=/run/slurmctld.pid"
    echo "SlurmdPidFile=/run/slurmd.pid"
    echo "StateSaveLocation=/var/lib/slurm/slurmctld"
    echo "SlurmdSpoolDir=/var/lib/slurm/slurmd"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "JobAcctGatherType=jobacct_gather/linux"
    echo "JobAcctGatherParams=OverMemoryKill"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core_Memory"
    echo "DefMemPerCPU=256"
    echo "SchedulerParameters=batch_sched_delay=0"
    echo "AccountingStorageType=accounting_storage/none"
    echo "JobCompType=jobcomp/filetxt"
    echo "JobCompLoc=/var/log/slurm/jobcomp.log"
    echo "MailProg=/bin/true"
    echo "KillWait=5"
    echo "ReturnToService=2"
    echo "MinJobAge=300"
    echo "SlurmdParameters=config_overrides"
    # shellcheck disable=SC2086
    for n in $NODES; do echo "NodeName=$n CPUs=$CPUS RealMemory=$MEMORY State=UNKNOWN"; done
    echo "PartitionName=$PARTITION Nodes=${NODES// /,} Default=YES MaxTime=INFINITE State=UP"
} >/etc/slurm/slurm.conf

case "$role" in
    controller)
        touch /var/log/slurm/jobcomp.log && chown slurm:slurm /var/log/slurm/jobcomp.log
        log "starting slurmctld"
        exec /usr/sbin/slurmctld -D
        ;;
    compute)
        log "starting slurmd as node $(hostname -s)"
        exec /usr/sbin/slurmd -D
        ;;
    gateway)
        [ $# -gt 0 ] || die "usage: entrypoint.sh gateway COMMAND..."
        log "waiting for slurmctld"
        for _ in $(seq 1 60); do
            scontrol ping 2>/dev/null | grep -q 'is UP' && break
            sleep 1
        done
        scontrol ping | grep -q 'is UP' || log "WARNING: slurmctld not answering yet"
        log "starting: $*"
        exec "$@"
        ;;
    *)
        die "unknown role '$role' (controller, compute or gateway)"
        ;;
esac
