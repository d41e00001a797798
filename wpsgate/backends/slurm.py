"""Slurm through its own commands, for sites without a DRMAA library.

One ``squeue`` call answers for all unfinished jobs; jobs Slurm has already
forgotten are looked up in accounting (``sacct``, or ``sacct -c`` where only the
job completion log is kept).
"""
from __future__ import annotations

import collections
import dataclasses
import os
import pwd
import re
import shlex
import subprocess
import threading

from concurrent.futures import ThreadPoolExecutor

from .base import ArrayJob, ClusterBackend, ClusterJob, SchedulerState, SubmitError, Submission, walltime_minutes

_QUEUED = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED",
           "STOPPED", "RESIZING", "SIGNALING", "STAGE_OUT"}
_RUNNING = {"RUNNING", "COMPLETING"}
_REASONS = {
    "TIMEOUT": "the scheduler stopped the job at its walltime limit (TIMEOUT)",
    "CANCELLED": "the job was cancelled in the scheduler (CANCELLED)",
    "OUT_OF_MEMORY": "the job exceeded its memory limit (OUT_OF_MEMORY)",
    "NODE_FAIL": "the compute node failed while running the job (NODE_FAIL)",
    "BOOT_FAIL": "the compute node failed to boot for the job (BOOT_FAIL)",
    "PREEMPTED": "the job was preempted by the scheduler (PREEMPTED)",
    "DEADLINE": "the job missed its deadline (DEADLINE)",
    "FAILED": "the job failed in the scheduler (FAILED)",
}


_TRANSIENT = ("unable to contact", "socket timed out", "connection refused", "try again", "temporarily",
              "slurm_receive_msg", "communication", "not responding", "resource temporarily unavailable")


def is_transient(message: str) -> bool:
    """Whether an sbatch error says the controller is unreachable or busy (worth a retry)."""
    lowered = message.lower()
    return any(marker in lowered for marker in _TRANSIENT)


def map_state(state: str, exit_code: str = "", reason: str = "") -> SchedulerState:
    """Slurm's job state (and exit code ``N:S``) as a SchedulerState."""
    base = state.split()[0].rstrip("+") if state else ""
    if base.startswith("CANCELLED"):
        base = "CANCELLED"
    code, _, signal = exit_code.partition(":")
    exit_value = int(code) if code.isdigit() else None
    raw = f"{state} {exit_code} {reason}".strip()
    if base in _QUEUED:
        return SchedulerState("queued", reason, raw=raw)
    if base in _RUNNING:
        return SchedulerState("running", raw=raw)
    if base == "COMPLETED":
        return SchedulerState("done", exit_code=exit_value, raw=raw)
    text = _REASONS.get(base, f"the scheduler reports state {base or 'unknown'}")
    if base == "FAILED" and signal == "9":
        text = "the job was killed by signal 9 (a scheduler limit such as memory, an operator, or the node)"
    elif base == "FAILED" and exit_value:
        text = f"the job failed in the scheduler with exit code {exit_value}"
    return SchedulerState("failed", text, exit_value, raw=raw)


class SlurmBackend(ClusterBackend):
    name = "slurm"
    supports_arrays = True

    def __init__(self, partition: str = "", native: str = "", timeout: float = 30.0, in_flight: int = 4) -> None:
        self.user = pwd.getpwuid(os.getuid()).pw_name  # jobs are submitted as, and listed for, this account
        self.partition = partition
        self.native = native
        self.timeout = timeout
        self.in_flight = max(1, in_flight)
        self._sbatch: ThreadPoolExecutor | None = None
        self.calls: collections.Counter = collections.Counter()  # commands run, by name (logs, bench/)
        self.raw_ids: dict[str, str] = {}  # array task id -> its own job id, as squeue shows them
        self._count_lock = threading.Lock()

    def _run(self, args: list[str]) -> subprocess.CompletedProcess:
        with self._count_lock:
            self.calls[args[0]] += 1
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise SubmitError(f"{args[0]} is not installed on the gateway host") from None
        except subprocess.TimeoutExpired:
            raise SubmitError(f"{args[0]} did not answer within {self.timeout:g} s", transient=True) from None

    def sbatch_arguments(self, job: ClusterJob) -> list[str]:
        """sbatch's arguments.  ``--export=NONE``: the job gets none of the gateway's environment (only
        Slurm's own SLURM_* variables), and the batch script sets the job's allow-listed variables
        itself before it execs the launcher (sbatch cannot take values holding commas on --export).
        The script is stored by slurmctld, visible to the account and the operators: the allow-list
        is for values that are not secret."""
        args = ["sbatch", "--parsable", f"--job-name={job.name}", f"--output={job.log}", f"--error={job.log}",
                f"--chdir={job.workdir}", "--export=NONE"]
        if job.walltime:
            args.append(f"--time={walltime_minutes(job.walltime)}")
        if job.memory:
            args.append(f"--mem={int(job.memory)}M")
        if job.cpus:
            args.append(f"--cpus-per-task={int(job.cpus)}")
        partition = job.queue or self.partition
        if partition:
            args.append(f"--partition={partition}")
        if job.account:  # who is charged (sacct's Account); only when configured: a site may have no such accounts
            args.append(f"--account={job.account}")
        if job.comment:  # who the job is for, beside the gateway's own user (squeue %k, sacct Comment)
            args.append(f"--comment={job.comment}")
        args += shlex.split(self.native) + shlex.split(job.native)
        return args + ["--wrap", self.wrap(job.environment, job.command)]

    @staticmethod
    def wrap(environment: dict[str, str], command: tuple[str, ...]) -> str:
        exports = [f"export {k}={shlex.quote(v)}" for k, v in environment.items()]
        return "; ".join([*exports, "exec " + " ".join(shlex.quote(part) for part in command)])

    def array_arguments(self, array: ArrayJob) -> list[str]:
        """sbatch's arguments for an array: the shared resources of ``array.template``, ``--array=0-N``, the
        manifest-reading launcher as the script, and each task's output in ``array.log`` (``%a``)."""
        log = array.log.replace("{task}", "%a")
        args = self.sbatch_arguments(dataclasses.replace(array.template, name=array.name, command=array.command,
                                                         log=log))
        return [args[0], f"--array=0-{array.size - 1}", *args[1:]]

    def submit_array(self, array: ArrayJob) -> list[str]:
        """One sbatch for the whole array (slurmctld's MaxArraySize bounds ``array.size``)."""
        array_id = self.submit_arguments(self.array_arguments(array))
        return [self.array_task_id(array_id, index) for index in range(array.size)]

    def array_task_id(self, array_id: str, index: int) -> str:
        return f"{array_id}_{index}"

    def valid_id(self, job_id: str) -> bool:
        return bool(re.fullmatch(r"[0-9]{1,20}(_[0-9]{1,10})?", job_id))

    def submit(self, job: ClusterJob) -> str:
        return self.submit_arguments(self.sbatch_arguments(job))

    def submit_arguments(self, arguments: list[str]) -> str:
        result = self._run(arguments)
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip()
            raise SubmitError(f"sbatch: {message}", transient=is_transient(message))
        job_id = result.stdout.strip().split(";", 1)[0]
        if not job_id.isdigit():
            raise SubmitError(f"sbatch answered something unexpected: {result.stdout.strip()!r}")
        return job_id

    def poll(self, ids: list[str]) -> dict[str, SchedulerState]:
        if not ids:
            return {}
        wanted = set(ids)
        states: dict[str, SchedulerState] = {}
        listing = self._run(["squeue", "-h", "-r", "-t", "all", "-u", self.user, "-o", "%i|%A|%T|%r"])
        if listing.returncode != 0:
            raise SubmitError(f"squeue failed: {listing.stderr.strip()}", transient=True)
        for line in listing.stdout.splitlines():
            job_id, _, rest = line.partition("|")
            raw_id, _, rest = rest.partition("|")
            state, _, reason = rest.partition("|")
            if "_" in job_id and raw_id.isdigit():
                self.raw_ids[job_id] = raw_id  # an array task's own job id, which the completion log knows
            if job_id in wanted:
                states[job_id] = map_state(state, "", reason if reason not in ("None", "") else "")
        # squeue knows no exit codes: ask accounting about ended jobs too (one call for all of them)
        ask = sorted((wanted - set(states)) | {i for i, st in states.items() if st.finished})
        if ask:
            states.update(self._accounting(ask))
        for job_id in wanted - set(states):
            states[job_id] = SchedulerState("unknown", "the scheduler no longer knows the job")
        return states

    def _accounting(self, ids: list[str]) -> dict[str, SchedulerState]:
        """Ended jobs from accounting; an array task by its own job id where squeue told it (the job
        completion log, ``sacct -c``, knows no ``<array>_<task>`` ids)."""
        found: dict[str, SchedulerState] = {}
        asked = {self.raw_ids.get(job_id, job_id): job_id for job_id in ids}
        for extra in ([], ["-c"]):
            query = ["sacct", *extra, "-n", "-P", "-X", "-o", "JobID,State,ExitCode", "-j", ",".join(asked)]
            result = self._run(query)
            if result.returncode != 0:
                continue
            for line in result.stdout.splitlines():
                parts = line.split("|")
                if len(parts) >= 3 and parts[0] in asked:
                    found[asked[parts[0]]] = map_state(parts[1], parts[2])
                elif len(parts) >= 3 and parts[0] in ids:
                    found[parts[0]] = map_state(parts[1], parts[2])
            if found:
                break
        return found

    def cancel(self, job_id: str) -> None:
        self._run(["scancel", job_id])

    def submit_many(self, jobs: list[ClusterJob]) -> list[Submission]:
        """Up to ``in_flight`` sbatch commands at once: slurmctld serves several submissions in parallel,
        so a batch takes a fraction of one-after-the-other (bench/schedulers.py measures it)."""
        if len(jobs) <= 1 or self.in_flight == 1:
            return super().submit_many(jobs)
        if self._sbatch is None:
            self._sbatch = ThreadPoolExecutor(self.in_flight, thread_name_prefix="wpsgate-sbatch")

        def one(job: ClusterJob) -> Submission:
            try:
                return Submission(job.uuid, self.submit(job))
            except SubmitError as exc:
                return Submission(job.uuid, None, exc)
        return list(self._sbatch.map(one, jobs))

    def find(self, names: list[str]) -> dict[str, str]:
        """Jobs by name: one squeue for those Slurm still lists, then accounting for the ended ones."""
        wanted, found = set(names), {}
        listing = self._run(["squeue", "-h", "-t", "all", "-u", self.user, "-o", "%F|%j"])  # %F: an array's id
        if listing.returncode != 0:
            raise SubmitError(f"squeue failed: {listing.stderr.strip()}", transient=True)
        for line in listing.stdout.splitlines():
            job_id, _, name = line.partition("|")
            if name in wanted and self.valid_id(job_id):
                found[name] = job_id
        missing = sorted(wanted - set(found))
        for extra in ([], ["-c"]):
            if not missing:
                break
            query = ["sacct", *extra, "-n", "-P", "-X", "-o", "JobID,JobName", f"--name={','.join(missing)}"]
            result = self._run(query)
            if result.returncode != 0:
                continue
            for line in result.stdout.splitlines():
                job_id, _, name = line.partition("|")
                job_id = job_id.split("_", 1)[0]  # an array task: the array's id
                if name in wanted and self.valid_id(job_id):
                    found[name] = job_id
            missing = sorted(wanted - set(found))
        return found

    def close(self) -> None:
        if self._sbatch is not None:
            self._sbatch.shutdown(wait=True)
