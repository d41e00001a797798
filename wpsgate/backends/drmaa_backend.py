"""DRMAA 1.0 through the PyPI ``drmaa`` package: Grid Engine, and Slurm where a site has slurm-drmaa.

The library keeps one process-wide session and is not thread-safe, so the job
engine calls this backend from one dedicated thread only.  Templates are always
deleted.  Jobs the scheduler has already forgotten (DRMAA's InvalidJobException)
are looked up in accounting (``qacct`` on Grid Engine) before their fate is decided.
"""
from __future__ import annotations

import collections
import os
import shutil
import subprocess
import time
from typing import Any

from .base import ArrayJob, ClusterBackend, ClusterJob, SchedulerState, SubmitError, hms, walltime_minutes


class DrmaaBackend(ClusterBackend):
    name = "drmaa"

    def __init__(self, library: str = "", native: str = "", queue: str = "") -> None:
        if library:
            os.environ["DRMAA_LIBRARY_PATH"] = library
        try:
            import drmaa  # noqa: F401 - loads the C library named by DRMAA_LIBRARY_PATH
        except (ImportError, RuntimeError, OSError) as exc:
            raise SubmitError(f"cannot load the DRMAA library ({os.environ.get('DRMAA_LIBRARY_PATH', 'unset')}): "
                              f"{exc}") from None
        self.drmaa = drmaa
        self.native = native
        self.queue = queue
        self.calls: collections.Counter = collections.Counter()  # DRMAA calls and commands, by name (logs, bench/)
        self.session = drmaa.Session()
        self.session.initialize()
        self.contact = self.session.contact
        self.is_grid_engine = is_grid_engine(str(self.session.drmsInfo))

    def native_specification(self, job: ClusterJob) -> str:
        parts = [self.native, job.native]
        if self.is_grid_engine:
            if job.walltime:
                parts.append(f"-l h_rt={hms(job.walltime)}")
            if job.memory:  # per slot: Grid Engine multiplies h_vmem by the slots granted
                slots = int(job.cpus) if job.cpus and job.cpus > 1 else 1
                parts.append(f"-l h_vmem={-(-int(job.memory) // slots)}M")
            if job.cpus and job.cpus > 1:
                parts.append(f"-pe smp {int(job.cpus)}")
            if job.queue or self.queue:
                parts.append(f"-q {job.queue or self.queue}")
            if job.account:  # qacct's "account" (the job name carries the user)
                parts.append(f"-A {job.account}")
        else:  # slurm-drmaa takes sbatch options
            if job.walltime:
                minutes = walltime_minutes(job.walltime)  # slurm-drmaa reads --time as hours:minutes
                parts.append(f"--time={minutes // 60}:{minutes % 60:02d}")
            if job.memory:
                parts.append(f"--mem={int(job.memory)}")
            if job.cpus:
                parts.append(f"--cpus-per-task={int(job.cpus)}")
            if job.queue or self.queue:
                parts.append(f"--partition={job.queue or self.queue}")
            if job.account:
                parts.append(f"--account={job.account}")
            if job.comment:
                parts.append(f"--comment={job.comment}")
        return " ".join(p for p in parts if p)

    @property
    def supports_arrays(self) -> bool:
        """Grid Engine's bulk jobs set SGE_TASK_ID, which the joblauncher reads to pick its folder."""
        return self.is_grid_engine

    def submit(self, job: ClusterJob) -> str:
        self.calls["runJob"] += 1
        return self._with_template(job, job.command, job.name, job.log,
                                   lambda template: [str(self.session.runJob(template))])[0]

    def submit_array(self, array: ArrayJob) -> list[str]:
        """One runBulkJobs for the whole array; each task's log takes DRMAA's index placeholder."""
        self.calls["runBulkJobs"] += 1
        log = array.log.replace("{task}", self.drmaa.JobTemplate.PARAMETRIC_INDEX)
        return self._with_template(array.template, array.command, array.name, log,
                                   lambda template: [str(i) for i in self.session.runBulkJobs(template, 1,
                                                                                              array.size, 1)])

    def array_task_id(self, array_id: str, index: int) -> str:
        return f"{array_id}.{index + 1}"

    def _with_template(self, job: ClusterJob, command: tuple[str, ...], name: str, log: str,
                       run: Any) -> list[str]:
        drmaa = self.drmaa
        template = None
        try:
            template = self.session.createJobTemplate()
            template.remoteCommand = command[0]
            template.args = list(command[1:])
            template.jobName = name
            template.workingDirectory = job.workdir
            template.outputPath = ":" + log
            template.joinFiles = True
            # the job's whole environment: none of the gateway's (no -V), only the allow-list
            template.jobEnvironment = dict(job.environment)
            native = self.native_specification(job)
            if native:
                template.nativeSpecification = native
            return run(template)
        except (drmaa.errors.DrmCommunicationException, drmaa.errors.TryLaterException) as exc:
            raise SubmitError(f"cannot take the job now: {exc}", transient=True) from None
        except drmaa.errors.DrmaaException as exc:
            raise SubmitError(str(exc).strip()) from None
        finally:
            if template is not None:
                try:
                    self.session.deleteJobTemplate(template)
                except drmaa.errors.DrmaaException:
                    pass

    def poll(self, ids: list[str]) -> dict[str, SchedulerState]:
        """On Grid Engine one ``qstat -xml`` answers for every queued and running job; DRMAA (and accounting)
        is asked only about the others, which have ended.  Elsewhere DRMAA is asked about each."""
        drmaa = self.drmaa
        states: dict[str, SchedulerState] = {}
        listed: dict[str, str] = {}
        if self.is_grid_engine and shutil.which("qstat"):
            listed = parse_qstat_states(self._command(["qstat", "-xml", "-u", "*"]))
        for job_id in ids:
            if job_id in listed:
                states[job_id] = SchedulerState(listed[job_id], raw=f"qstat: {listed[job_id]}")
                continue
            try:
                self.calls["jobStatus"] += 1
                status = self.session.jobStatus(job_id)
            except drmaa.errors.InvalidJobException:
                states[job_id] = self._accounting(job_id)
                continue
            except drmaa.errors.DrmCommunicationException as exc:
                raise SubmitError(f"the scheduler cannot be reached: {exc}", transient=True) from None
            states[job_id] = self._map(job_id, status)
        return states

    def _map(self, job_id: str, status: str) -> SchedulerState:
        js = self.drmaa.JobState
        if status in (js.QUEUED_ACTIVE, js.SYSTEM_ON_HOLD, js.USER_ON_HOLD, js.USER_SYSTEM_ON_HOLD,
                      js.SYSTEM_SUSPENDED, js.USER_SUSPENDED, js.USER_SYSTEM_SUSPENDED):
            return SchedulerState("queued", raw=status)
        if status == js.RUNNING:
            return SchedulerState("running", raw=status)
        if status in (js.DONE, js.FAILED):
            return self._reap(job_id, status)
        return SchedulerState("queued", raw=status)  # undetermined: ask again next time

    def _reap(self, job_id: str, status: str) -> SchedulerState:
        """Exit information of a finished job of this session (wait), else accounting."""
        try:
            self.calls["wait"] += 1
            info = self.session.wait(job_id, self.drmaa.Session.TIMEOUT_NO_WAIT)
        except (self.drmaa.errors.InvalidJobException, self.drmaa.errors.ExitTimeoutException):
            return self._accounting(job_id, status)
        return self._from_info(info, status)

    def _from_info(self, info: Any, status: str) -> SchedulerState:
        usage = info.resourceUsage or {}
        wallclock = float(usage.get("ru_wallclock", 0) or 0)
        if info.wasAborted:
            return SchedulerState("failed", "the job was cancelled in the scheduler before it ended", raw=status)
        if info.hasSignal:
            signal = info.terminatedSignal or "a signal"
            return SchedulerState("failed", f"the scheduler killed the job with {signal} after {wallclock:g} s "
                                            "(walltime or memory limit, or cancelled)", raw=status)
        if info.hasExited:
            return SchedulerState("done" if status == "done" else "failed",
                                  "" if status == "done" else "the scheduler reports the job failed",
                                  int(info.exitStatus), raw=status)
        return SchedulerState("failed", "the job ended without an exit status", raw=status)

    def _accounting(self, job_id: str, status: str = "") -> SchedulerState:
        """Grid Engine's qacct for jobs DRMAA no longer knows; 'unknown' elsewhere."""
        if not shutil.which("qacct"):
            return SchedulerState("unknown", "the scheduler no longer knows the job", raw=status)
        array_id, _, task = job_id.partition(".")
        query = ["qacct", "-j", array_id] + (["-t", task] if task.isdigit() else [])
        for attempt in range(3):  # accounting is flushed about every second
            self.calls["qacct"] += 1
            result = subprocess.run(query, capture_output=True, text=True, timeout=30, check=False)
            if result.returncode == 0:
                return parse_qacct(result.stdout)
            time.sleep(0.5 * (attempt + 1))
        return SchedulerState("unknown", "the scheduler no longer knows the job", raw=status)

    def find(self, names: list[str]) -> dict[str, str]:
        """Jobs by name on Grid Engine: ``qstat -xml`` for those it still holds (one call), then
        ``qacct -j NAME`` for the ended ones; nothing elsewhere (DRMAA itself cannot look up a name)."""
        if not self.is_grid_engine or not names or not shutil.which("qstat"):
            return {}
        found = parse_qstat_names(self._command(["qstat", "-xml", "-u", "*"]), set(names))
        for name in names:
            if name not in found and shutil.which("qacct"):
                self.calls["qacct"] += 1
                result = subprocess.run(["qacct", "-j", name], capture_output=True, text=True, timeout=30,
                                        check=False)
                numbers = [line.split()[1] for line in result.stdout.splitlines()
                           if line.startswith("jobnumber") and len(line.split()) == 2]
                if result.returncode == 0 and numbers and numbers[-1].isdigit():
                    found[name] = numbers[-1]
        return found

    def _command(self, args: list[str]) -> str:
        self.calls[args[0]] += 1
        try:
            result = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SubmitError(f"{args[0]} failed: {exc}", transient=True) from None
        if result.returncode != 0:
            raise SubmitError(f"{args[0]} failed: {result.stderr.strip()}", transient=True)
        return result.stdout

    def cancel(self, job_id: str) -> None:
        try:
            self.calls["control"] += 1
            self.session.control(job_id, self.drmaa.JobControlAction.TERMINATE)
        except (self.drmaa.errors.InvalidJobException, self.drmaa.errors.DrmaaException):
            pass

    def close(self) -> None:
        try:
            self.session.exit()
        except Exception:  # the session may already be gone
            pass


def is_grid_engine(drms_info: str) -> bool:
    """Whether the DRMAA library is Grid Engine's (SGE, Son of Grid Engine, Univa/Altair GE, OGS)."""
    lowered = drms_info.lower()
    return "grid engine" in lowered or any(lowered.startswith(p) for p in ("sge", "ge ", "ogs", "univa", "uge"))


def parse_qacct(text: str) -> SchedulerState:
    """A finished Grid Engine job from ``qacct -j`` output."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key and not key.startswith("="):
            fields[key] = value.strip()
    failed = fields.get("failed", "0").split(":", 1)
    code = failed[0].strip()
    detail = failed[1].strip() if len(failed) > 1 else ""
    status_text = (fields.get("exit_status", "").split() or [""])[0]
    exit_status = int(status_text) if status_text.isdigit() else None
    raw = f"failed={fields.get('failed', '')} exit_status={fields.get('exit_status', '')}"
    if "h_rt" in detail or "wallclock" in detail:
        return SchedulerState("failed", "the scheduler stopped the job at its walltime limit (h_rt)", exit_status,
                              raw=raw)
    if "vmem" in detail or "memory" in detail:
        return SchedulerState("failed", "the job exceeded its memory limit", exit_status, raw=raw)
    if exit_status is not None and exit_status > 128:
        return SchedulerState("failed", f"the job was killed by signal {exit_status - 128}: cancelled in the "
                                        "scheduler or stopped at one of its limits", exit_status, raw=raw)
    if code not in ("", "0"):
        return SchedulerState("failed", f"the scheduler reports the job failed ({detail or 'failed ' + code})",
                              exit_status, raw=raw)
    if exit_status not in (None, 0):
        return SchedulerState("failed", f"the job exited with status {exit_status}", exit_status, raw=raw)
    return SchedulerState("done", exit_code=exit_status, raw=raw)


def parse_qstat_names(xml: str, names: set[str]) -> dict[str, str]:
    """Job ids by name, of the jobs in ``qstat -xml`` output whose names are in ``names``."""
    from lxml import etree

    try:
        root = etree.fromstring(xml.encode())
    except etree.XMLSyntaxError:
        return {}
    found: dict[str, str] = {}
    for job in root.iter("job_list"):
        name, number = job.findtext("JB_name"), job.findtext("JB_job_number")
        if name in names and number and number.isdigit():
            found[name] = number
    return found


def _task_ids(number: str, tasks: str | None) -> list[str]:
    """The ids a qstat job entry stands for: the job itself, or its tasks ('3-9:2', '1,4')."""
    if not tasks:
        return [number]
    ids: list[str] = []
    for part in tasks.split(","):
        span, _, step = part.partition(":")
        first, _, last = span.partition("-")
        if not first.isdigit() or (last and not last.isdigit()) or (step and not step.isdigit()):
            continue
        start, end, stride = int(first), int(last or first), max(1, int(step or 1))
        ids += [f"{number}.{task}" for task in range(start, min(end, start + 100000 * stride) + 1, stride)]
    return ids


def parse_qstat_states(xml: str) -> dict[str, str]:
    """queued or running for every job and array task ``qstat -xml`` lists (the others have ended)."""
    from lxml import etree

    try:
        root = etree.fromstring(xml.encode())
    except etree.XMLSyntaxError:
        return {}
    states: dict[str, str] = {}
    for job in root.iter("job_list"):
        number = job.findtext("JB_job_number") or ""
        if not number.isdigit():
            continue
        code = job.findtext("state") or ""
        state = "running" if job.get("state") == "running" and "r" in code else "queued"
        for job_id in _task_ids(number, job.findtext("tasks")):
            states[job_id] = state
    return states
