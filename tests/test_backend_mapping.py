"""What the scheduler backends tell the gateway: states, reasons, submit arguments (no real scheduler)."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from types import SimpleNamespace

import pytest

from wpsgate.backends.base import ClusterJob, SchedulerState, SubmitError, hms, walltime_minutes
from wpsgate.backends.drmaa_backend import DrmaaBackend, is_grid_engine, parse_qacct
from wpsgate.backends.slurm import SlurmBackend, is_transient, map_state
from wpsgate.protocol.status import DocumentState, read_document_state
from wpsgate.protocol.documents import ExceptionInfo, JobStatus, ResponseContext, render_execute_response

UUID = "0b6f4a3e-9c1d-4e2f-8a7b-5c6d7e8f9a0b"


def cluster_job(**overrides) -> ClusterJob:
    values = dict(uuid=UUID, name=f"wps-{UUID}",
                  command=("/usr/bin/python3", "-m", "joblauncher", "--key", "/srv/wps/job.key",
                           f"/srv/wps/spool/{UUID}"),
                  folder=f"/srv/wps/spool/{UUID}", workdir=f"/srv/wps/spool/{UUID}/work",
                  log=f"/srv/wps/spool/{UUID}/job.log", walltime=61, memory=2048, cpus=4, queue="short",
                  native="", environment={"PYTHONPATH": "/srv/wps/processes"})
    values.update(overrides)
    return ClusterJob(**values)


# --- Slurm: states ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["PENDING", "CONFIGURING", "REQUEUED", "SUSPENDED", "REQUEUE_HOLD"])
def test_slurm_waiting_states_are_queued(state):
    mapped = map_state(state, "", "Resources")
    assert mapped.state == "queued"
    assert mapped.reason == "Resources"
    assert not mapped.finished


@pytest.mark.parametrize("state", ["RUNNING", "COMPLETING"])
def test_slurm_running_states(state):
    mapped = map_state(state, "0:0")
    assert mapped.state == "running"
    assert not mapped.finished


def test_slurm_completed_is_done_with_exit_code():
    mapped = map_state("COMPLETED", "0:0")
    assert mapped == SchedulerState("done", "", 0, raw="COMPLETED 0:0")
    assert mapped.finished


def test_slurm_failed_with_exit_code():
    mapped = map_state("FAILED", "3:0")
    assert mapped.state == "failed" and mapped.finished
    assert mapped.exit_code == 3
    assert "exit code 3" in mapped.reason


def test_slurm_failed_by_signal_9():
    mapped = map_state("FAILED", "0:9")
    assert mapped.state == "failed"
    assert mapped.exit_code == 0
    assert "signal 9" in mapped.reason
    assert "memory" in mapped.reason


@pytest.mark.parametrize("state, exit_code, words", [
    ("TIMEOUT", "0:0", ("walltime", "TIMEOUT")),
    ("CANCELLED by 0", "0:15", ("cancelled", "CANCELLED")),
    ("CANCELLED by 1234", "0:0", ("cancelled",)),
    ("CANCELLED+", "0:0", ("cancelled",)),
    ("OUT_OF_MEMORY", "0:125", ("memory", "OUT_OF_MEMORY")),
    ("NODE_FAIL", "0:0", ("node failed", "NODE_FAIL")),
    ("PREEMPTED", "0:0", ("preempted",)),
    ("BOOT_FAIL", "0:0", ("boot",)),
    ("DEADLINE", "0:0", ("deadline",)),
])
def test_slurm_ends_without_success_are_failures_with_a_reason(state, exit_code, words):
    mapped = map_state(state, exit_code)
    assert mapped.state == "failed"
    assert mapped.finished
    for word in words:
        assert word in mapped.reason, mapped.reason
    assert state.split()[0].rstrip("+") in mapped.raw


def test_slurm_unknown_state_is_a_failure_naming_it():
    mapped = map_state("SPECIAL_EXIT", "0:0")
    assert mapped.state == "failed"
    assert "SPECIAL_EXIT" in mapped.reason


def test_scheduler_state_finished():
    assert SchedulerState("unknown").finished
    assert SchedulerState("done").finished and SchedulerState("failed").finished
    assert not SchedulerState("queued").finished and not SchedulerState("running").finished


@pytest.mark.parametrize("message, transient", [
    ("sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)", True),
    ("sbatch: error: Batch job submission failed: Socket timed out on send/recv operation", True),
    ("sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying", True),
    ("sbatch: error: Batch job submission failed: Resource temporarily unavailable", True),
    ("sbatch: error: Batch job submission failed: Invalid partition name specified", False),
    ("sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified",
     False),
    ("sbatch: error: Batch job submission failed: Requested node configuration is not available", False),
    ("sbatch: error: Memory specification can not be satisfied", False),
])
def test_is_transient(message, transient):
    assert is_transient(message) is transient


# --- Slurm: sbatch arguments ------------------------------------------------------------------------------

def test_sbatch_arguments_carry_the_job():
    backend = SlurmBackend(partition="default", native="--exclusive --comment='from the gateway'")
    job = cluster_job(native="--account=geo --qos 'high prio'")
    args = backend.sbatch_arguments(job)
    assert args[0] == "sbatch"
    assert "--parsable" in args
    assert f"--job-name=wps-{UUID}" in args
    assert f"--output={job.log}" in args
    assert f"--chdir={job.workdir}" in args
    assert "--time=2" in args  # 61 s: whole minutes, rounded up
    assert "--mem=2048M" in args
    assert "--cpus-per-task=4" in args
    assert "--partition=short" in args  # the job's queue wins over the backend's default partition
    assert "--partition=default" not in args
    assert "--exclusive" in args and "--comment=from the gateway" in args
    assert "--account=geo" in args
    index = args.index("--qos")
    assert args[index + 1] == "high prio"
    assert args[-2] == "--wrap"
    wrap = args[-1]
    assert "export PYTHONPATH=/srv/wps/processes" in wrap
    assert wrap.endswith("exec /usr/bin/python3 -m joblauncher --key /srv/wps/job.key "
                         f"/srv/wps/spool/{UUID}")
    # every option comes before --wrap
    assert all(not a.startswith("--") for a in args[args.index("--wrap") + 2:])


def test_an_array_is_one_sbatch_with_the_shared_resources_and_each_task_reading_the_manifest():
    from wpsgate.jobs.scheduling import ArrayJob

    backend = SlurmBackend(partition="default")
    job = cluster_job()
    manifest = "/srv/wps/spool/batches/wps-batch-" + "a" * 32 + ".txt"
    array = ArrayJob(name="wps-batch-" + "a" * 32, manifest=manifest, log="/srv/wps/spool/batches/x.{task}.log",
                     command=("/usr/bin/python3", "-I", "-m", "joblauncher", "--key", "k", "--batch", manifest),
                     size=3, template=job)
    args = backend.array_arguments(array)
    assert args[:2] == ["sbatch", "--array=0-2"]
    assert f"--job-name={array.name}" in args and "--output=/srv/wps/spool/batches/x.%a.log" in args
    assert "--time=2" in args and "--mem=2048M" in args and "--partition=short" in args  # the template's
    assert args[-1].endswith(f"--batch {manifest}") and "export PYTHONPATH=/srv/wps/processes" in args[-1]
    assert [backend.array_task_id("41", i) for i in range(2)] == ["41_0", "41_1"]
    assert backend.valid_id("41_0") and backend.valid_id("41") and not backend.valid_id("41_0; rm")


@pytest.mark.parametrize("seconds, minutes", [(0.5, 1), (59, 1), (60, 1), (61, 2), (3600, 60), (3600.5, 61),
                                              (7200, 120)])
def test_sbatch_time_is_in_whole_minutes_rounded_up(seconds, minutes):
    args = SlurmBackend().sbatch_arguments(cluster_job(walltime=seconds))
    assert [a for a in args if a.startswith("--time=")] == [f"--time={minutes}"]


def test_sbatch_arguments_without_resources_and_with_the_default_partition():
    args = SlurmBackend(partition="batch").sbatch_arguments(
        cluster_job(walltime=None, memory=None, cpus=None, queue=None, environment={}))
    assert not [a for a in args if a.startswith(("--time", "--mem", "--cpus-per-task"))]
    assert "--partition=batch" in args
    assert args[-1] == "exec " + " ".join(shlex.quote(p) for p in cluster_job().command)
    args = SlurmBackend().sbatch_arguments(cluster_job(queue=None))
    assert not [a for a in args if a.startswith("--partition")]


def test_sbatch_wrap_runs_the_command_with_its_environment_under_sh():
    """The --wrap text is a shell script: exports and arguments must survive quoting."""
    code = "import json, os, sys; print(json.dumps([os.environ['PYTHONPATH'], os.environ['ODD'], sys.argv[1:]]))"
    job = cluster_job(command=(sys.executable, "-c", code, "a b", "it's", "$HOME", "x;y"),
                      environment={"PYTHONPATH": "/opt/my procs:/opt/other", "ODD": "a'b\"c $d"})
    wrap = SlurmBackend().sbatch_arguments(job)[-1]
    out = subprocess.run(["/bin/sh", "-c", wrap], capture_output=True, text=True, timeout=20, check=True)
    assert json.loads(out.stdout) == ["/opt/my procs:/opt/other", "a'b\"c $d", ["a b", "it's", "$HOME", "x;y"]]


# --- Slurm: the commands, faked on PATH ---------------------------------------------------------------------

FAKE = """#!/bin/sh
name=$(basename "$0")
dir=$(dirname "$0")
printf '%s\\n' "$name $*" >> "$FAKE_SLURM_LOG"
if [ -f "$dir/$name.sleep" ]; then exec sleep "$(cat "$dir/$name.sleep")"; fi
if [ -f "$dir/$name.out" ]; then cat "$dir/$name.out"; fi
if [ -f "$dir/$name.err" ]; then cat "$dir/$name.err" >&2; fi
exit "$(cat "$dir/$name.rc" 2>/dev/null || echo 0)"
"""


class FakeSlurm:
    def __init__(self, folder) -> None:
        self.bin = folder / "bin"
        self.bin.mkdir()
        self.log = folder / "calls.log"
        self.log.write_text("")
        for name in ("sbatch", "squeue", "sacct", "scancel"):
            script = self.bin / name
            script.write_text(FAKE)
            script.chmod(0o755)

    def answer(self, name: str, out: str = "", err: str = "", rc: int = 0) -> None:
        (self.bin / f"{name}.out").write_text(out)
        (self.bin / f"{name}.err").write_text(err)
        (self.bin / f"{name}.rc").write_text(str(rc))

    def replace(self, name: str, script: str) -> None:
        path = self.bin / name
        path.write_text(script)
        path.chmod(0o755)

    def calls(self, name: str | None = None) -> list[str]:
        lines = [line for line in self.log.read_text().splitlines() if line]
        return [line for line in lines if name is None or line.split()[0] == name]


@pytest.fixture
def fake(tmp_path, monkeypatch) -> FakeSlurm:
    slurm = FakeSlurm(tmp_path)
    monkeypatch.setenv("PATH", f"{slurm.bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_LOG", str(slurm.log))
    return slurm


@pytest.mark.parametrize("answer", ["123\n", "123;cluster\n", "  123\n\n"])
def test_submit_returns_the_job_id(fake, answer):
    fake.answer("sbatch", out=answer)
    assert SlurmBackend().submit(cluster_job()) == "123"
    calls = fake.calls("sbatch")
    assert len(calls) == 1
    assert "--parsable" in calls[0] and f"--job-name=wps-{UUID}" in calls[0] and "--wrap" in calls[0]


def test_submit_refused_for_an_invalid_partition_is_not_transient(fake):
    fake.answer("sbatch", err="sbatch: error: Batch job submission failed: Invalid partition name specified\n",
                rc=1)
    with pytest.raises(SubmitError) as info:
        SlurmBackend().submit(cluster_job())
    assert info.value.transient is False
    assert "Invalid partition name specified" in str(info.value)


def test_submit_when_the_controller_is_down_is_transient(fake):
    fake.answer("sbatch", err="sbatch: error: Batch job submission failed: Unable to contact slurm controller "
                              "(connect failure)\n", rc=1)
    with pytest.raises(SubmitError) as info:
        SlurmBackend().submit(cluster_job())
    assert info.value.transient is True
    assert "Unable to contact slurm controller" in str(info.value)


def test_submit_with_an_unexpected_answer_is_an_error(fake):
    fake.answer("sbatch", out="Submitted batch job 123\n")
    with pytest.raises(SubmitError, match="unexpected"):
        SlurmBackend().submit(cluster_job())


def test_submit_without_sbatch_is_an_error(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(SubmitError, match="not installed"):
        SlurmBackend().submit(cluster_job())


def test_submit_that_hangs_is_a_transient_error(fake):
    (fake.bin / "sbatch.sleep").write_text("10")
    with pytest.raises(SubmitError) as info:
        SlurmBackend(timeout=0.5).submit(cluster_job())
    assert info.value.transient is True


SQUEUE = "101|101|RUNNING|None\n102|102|PENDING|Resources\n999|999|RUNNING|None\n107|107|COMPLETING|None\n"
SACCT = "103|COMPLETED|0:0\n104|TIMEOUT|0:0\n106|OUT_OF_MEMORY|0:125\n"


def test_poll_merges_squeue_and_accounting(fake):
    fake.answer("squeue", out=SQUEUE)
    fake.answer("sacct", out=SACCT)
    ids = ["101", "102", "103", "104", "105", "106", "107"]
    states = SlurmBackend().poll(ids)
    assert set(states) == set(ids)
    assert states["101"].state == "running"
    assert states["107"].state == "running"
    assert states["102"].state == "queued" and states["102"].reason == "Resources"
    assert states["103"].state == "done" and states["103"].exit_code == 0
    assert states["104"].state == "failed" and "walltime" in states["104"].reason
    assert states["106"].state == "failed" and "memory" in states["106"].reason
    assert states["105"].state == "unknown" and states["105"].finished
    assert len(fake.calls("squeue")) == 1
    sacct = fake.calls("sacct")
    assert len(sacct) == 1, "accounting answered on the first call"
    assert "-j 103,104,105,106" in sacct[0]


def test_an_ended_array_task_is_asked_of_accounting_by_its_own_job_id(fake):
    """The job completion log (sacct -c) knows an array task only by the job id squeue showed for it."""
    fake.answer("squeue", out="200_0|200|FAILED|None\n200_1|203|RUNNING|None\n")
    fake.answer("sacct", out="200|FAILED|0:9\n")
    states = SlurmBackend().poll(["200_0", "200_1"])
    assert states["200_1"].state == "running"
    assert states["200_0"].state == "failed" and "signal 9" in states["200_0"].reason
    assert "-j 200 " in fake.calls("sacct")[0] + " "


def test_poll_falls_back_to_the_job_completion_log(fake):
    fake.answer("squeue", out="")
    fake.replace("sacct", FAKE.replace('if [ -f "$dir/$name.out" ]',
                                       'case " $* " in *" -c "*) ;; *) exit 0;; esac\nif [ -f "$dir/$name.out" ]'))
    fake.answer("sacct", out="103|COMPLETED|0:0\n")
    states = SlurmBackend().poll(["103", "104"])
    assert states["103"].state == "done"
    assert states["104"].state == "unknown"
    calls = fake.calls("sacct")
    assert len(calls) == 2 and " -c " in calls[1] + " "


def test_poll_asks_squeue_once_for_many_jobs(fake):
    ids = [str(5000 + i) for i in range(60)]
    fake.answer("squeue", out="".join(f"{i}|{i}|RUNNING|None\n" for i in ids))
    fake.answer("sacct", out="")
    states = SlurmBackend().poll(ids)
    assert all(states[i].state == "running" for i in ids)
    assert len(fake.calls("squeue")) == 1
    assert fake.calls("sacct") == []


def test_poll_of_nothing_calls_nothing(fake):
    assert SlurmBackend().poll([]) == {}
    assert fake.calls() == []


def test_poll_when_squeue_fails_is_a_transient_error(fake):
    fake.answer("squeue", err="slurm_load_jobs error: Unable to contact slurm controller\n", rc=1)
    with pytest.raises(SubmitError) as info:
        SlurmBackend().poll(["101"])
    assert info.value.transient is True


# --- Grid Engine / DRMAA ---------------------------------------------------------------------------------------

QACCT_HEAD = """==============================================================
qname        all.q
hostname     node01.cluster
group        wps
owner        wps
jobname      wps-0b6f4a3e
jobnumber    42
qsub_time    Mon Mar  4 10:00:00 2024
start_time   Mon Mar  4 10:00:01 2024
end_time     Mon Mar  4 10:00:05 2024
granted_pe   NONE
slots        1
"""


def qacct(failed: str, exit_status: str) -> str:
    return QACCT_HEAD + f"failed       {failed}\nexit_status  {exit_status}\nru_wallclock 4s\nmaxvmem      20.5M\n"


def test_qacct_success():
    state = parse_qacct(qacct("0", "0"))
    assert state.state == "done"
    assert state.exit_code == 0


def test_qacct_exit_status_3():
    state = parse_qacct(qacct("0", "3"))
    assert state.state == "failed"
    assert state.exit_code == 3
    assert "status 3" in state.reason


def test_qacct_walltime_enforced_by_qmaster():
    state = parse_qacct(qacct("37  : qmaster enforced h_rt limit", "137"))
    assert state.state == "failed"
    assert "walltime" in state.reason
    assert state.exit_code == 137


def test_qacct_killed_by_signal():
    state = parse_qacct(qacct("0", "137"))
    assert state.state == "failed"
    assert "signal 9" in state.reason
    assert state.exit_code == 137


def test_qacct_other_failure_keeps_the_detail():
    state = parse_qacct(qacct("1   : failed before job (e.g. prolog)", "0"))
    assert state.state == "failed"
    assert "failed before job" in state.reason


@pytest.mark.parametrize("info, expected", [
    ("SGE 8.1.9", True), ("Son of Grid Engine 8.1.9", True), ("Univa Grid Engine 8.6.4", True),
    ("OGS/GE 2011.11p1", True), ("Slurm 22.05", False), ("SLURM 23.02.7", False), ("PBS Pro 19", False),
])
def test_is_grid_engine(info, expected):
    assert is_grid_engine(info) is expected


def drmaa_backend(grid_engine: bool, native: str = "", queue: str = "") -> DrmaaBackend:
    backend = object.__new__(DrmaaBackend)
    backend.native = native
    backend.queue = queue
    backend.is_grid_engine = grid_engine
    return backend


def test_grid_engine_native_specification():
    spec = drmaa_backend(True, native="-P geo").native_specification(
        cluster_job(walltime=3661, memory=2048, cpus=1, queue="all.q", native="-l tmpfree=1G"))
    assert spec.split(" -")[0] == "-P geo"
    assert "-l tmpfree=1G" in spec
    assert "-l h_rt=1:01:01" in spec
    assert "-l h_vmem=2048M" in spec
    assert "-pe" not in spec  # one slot: no parallel environment
    assert "-q all.q" in spec


def test_grid_engine_native_specification_uses_the_backend_queue_and_a_pe_for_cpus():
    spec = drmaa_backend(True, queue="long.q").native_specification(
        cluster_job(walltime=59.2, memory=None, cpus=4, queue=None))
    assert "-l h_rt=0:01:00" in spec
    assert "-pe smp 4" in spec
    assert "-q long.q" in spec
    assert "h_vmem" not in spec


def test_grid_engine_memory_is_per_slot():
    """Grid Engine multiplies h_vmem by the slots granted: 8 GiB over 4 slots is h_vmem=2048M per slot."""
    spec = drmaa_backend(True).native_specification(cluster_job(memory=8192, cpus=4))
    assert "-pe smp 4" in spec
    assert "-l h_vmem=2048M" in spec, spec


def slurm_drmaa_minutes(value: str) -> int:
    """The time limit slurm-drmaa reads from ``--time=VALUE``.

    slurm-drmaa parses the value with drmaa-utils' date/time grammar (``hours:minutes[:seconds]``; its README:
    ``-t, --time=hours:minutes``) and uses 60*hours+minutes; a bare number is a syntax error there
    ("invalid date/time format").
    """
    match = re.fullmatch(r"(\d+):(\d+)(?::(\d+))?", value)
    assert match, f"slurm-drmaa cannot parse --time={value} (it expects hours:minutes)"
    return 60 * int(match.group(1)) + int(match.group(2))


def time_value(spec: str) -> str:
    times = [t.split("=", 1)[1] for t in spec.split() if t.startswith("--time=")]
    assert len(times) == 1, spec
    return times[0]


def test_slurm_drmaa_native_specification():
    spec = drmaa_backend(False, native="--account=geo").native_specification(
        cluster_job(walltime=3661, memory=2048, cpus=4, queue="short", native="--qos=high"))
    tokens = spec.split()
    assert tokens[:2] == ["--account=geo", "--qos=high"]
    assert "--mem=2048" in tokens  # MB, no unit: slurm-drmaa reads a plain number
    assert "--cpus-per-task=4" in tokens
    assert "--partition=short" in tokens
    assert all(t.startswith("--") and "=" in t for t in tokens), "slurm-drmaa wants --name=value"
    time_value(spec)


@pytest.mark.parametrize("seconds, minutes", [(61, 2), (3661, 62)])
def test_slurm_drmaa_time_is_hours_and_minutes(seconds, minutes):
    """slurm-drmaa's --time is hours:minutes (a bare number of minutes is refused by its parser)."""
    spec = drmaa_backend(False).native_specification(cluster_job(walltime=seconds))
    assert slurm_drmaa_minutes(time_value(spec)) == minutes


@pytest.mark.parametrize("seconds, minutes", [(30, 1), (60, 1), (61, 2), (60.5, 2), (3600, 60), (7200.2, 121)])
def test_slurm_drmaa_time_is_whole_minutes_rounded_up(seconds, minutes):
    """Whatever the notation, the limit is never below the job's walltime (fractions of a second included)."""
    value = time_value(drmaa_backend(False).native_specification(
        cluster_job(walltime=seconds, memory=None, cpus=None, queue=None)))
    given = int(value) if value.isdigit() else slurm_drmaa_minutes(value)
    assert given == minutes


def test_slurm_drmaa_native_specification_default_partition():
    spec = drmaa_backend(False, queue="batch").native_specification(cluster_job(queue=None, walltime=None))
    assert "--partition=batch" in spec.split()
    assert "--time" not in spec


class FakeJobState:
    UNDETERMINED = "undetermined"
    QUEUED_ACTIVE = "queued_active"
    SYSTEM_ON_HOLD = "system_on_hold"
    USER_ON_HOLD = "user_on_hold"
    USER_SYSTEM_ON_HOLD = "user_system_on_hold"
    RUNNING = "running"
    SYSTEM_SUSPENDED = "system_suspended"
    USER_SUSPENDED = "user_suspended"
    USER_SYSTEM_SUSPENDED = "user_system_suspended"
    DONE = "done"
    FAILED = "failed"


def test_drmaa_states_are_mapped():
    backend = drmaa_backend(True)
    backend.drmaa = SimpleNamespace(JobState=FakeJobState)
    assert backend._map("1", "queued_active").state == "queued"
    assert backend._map("1", "user_on_hold").state == "queued"
    assert backend._map("1", "running").state == "running"
    assert backend._map("1", "undetermined").state == "queued"


def info(**values) -> SimpleNamespace:
    base = dict(resourceUsage={"ru_wallclock": "12.0"}, wasAborted=False, hasSignal=False, terminatedSignal="",
                hasExited=True, exitStatus=0)
    base.update(values)
    return SimpleNamespace(**base)


def test_drmaa_exit_information():
    backend = drmaa_backend(True)
    assert backend._from_info(info(), "done") == SchedulerState("done", "", 0, raw="done")
    failed = backend._from_info(info(exitStatus=2), "failed")
    assert failed.state == "failed" and failed.exit_code == 2
    aborted = backend._from_info(info(wasAborted=True, hasExited=False), "failed")
    assert aborted.state == "failed" and "cancelled" in aborted.reason
    killed = backend._from_info(info(hasSignal=True, terminatedSignal="SIGKILL", hasExited=False), "failed")
    assert killed.state == "failed" and "SIGKILL" in killed.reason and "12 s" in killed.reason


def test_hms_rounds_up_to_whole_seconds():
    assert hms(0.2) == "0:00:01"
    assert hms(59.1) == "0:01:00"
    assert hms(61) == "0:01:01"
    assert hms(3661) == "1:01:01"
    assert hms(90000) == "25:00:00"


def test_walltime_minutes_rounds_up():
    assert [walltime_minutes(s) for s in (0.1, 59, 60, 61, 3600, 3600.5)] == [1, 1, 1, 2, 60, 61]


# --- status documents as the monitor reads them ------------------------------------------------------------

def context() -> ResponseContext:
    return ResponseContext(service_instance="http://127.0.0.1:9/wps?service=WPS&request=GetCapabilities",
                           process_identifier="sleep", process_title="Sleep Process",
                           status_location="http://127.0.0.1:9/status/x.xml")


def write(tmp_path, status: JobStatus, name="status.xml") -> str:
    path = tmp_path / name
    path.write_bytes(render_execute_response(context(), status))
    return str(path)


def test_read_accepted(tmp_path):
    state = read_document_state(write(tmp_path, JobStatus("accepted", "Process accepted")))
    assert state == DocumentState("accepted", 0, "Process accepted")
    assert not state.final


def test_read_started_with_percent(tmp_path):
    state = read_document_state(write(tmp_path, JobStatus("started", "Waiting... (40%)", 40)))
    assert state == DocumentState("started", 40, "Waiting... (40%)")
    assert not state.final


def test_read_started_percent_is_clamped_below_100(tmp_path):
    state = read_document_state(write(tmp_path, JobStatus("started", "almost", 100)))
    assert state.state == "started" and state.percent == 99


def test_read_succeeded(tmp_path):
    state = read_document_state(write(tmp_path, JobStatus("succeeded", "Process Sleep Process finished", 100)))
    assert state.state == "succeeded"
    assert state.message == "Process Sleep Process finished"
    assert state.final


def test_read_failed_with_its_message(tmp_path):
    message = "the job was stopped by a signal (SIGTERM) <walltime> & more"
    state = read_document_state(write(tmp_path, JobStatus("failed", message,
                                                          error=ExceptionInfo("NoApplicableCode", message))))
    assert state == DocumentState("failed", 0, message)
    assert state.final


def test_read_failed_without_an_explicit_error(tmp_path):
    state = read_document_state(write(tmp_path, JobStatus("failed", "plain reason")))
    assert state.state == "failed" and state.message == "plain reason"


def test_read_missing_or_corrupt_documents(tmp_path):
    assert read_document_state(str(tmp_path / "missing.xml")) is None
    assert read_document_state(str(tmp_path)) is None  # a folder
    full = (tmp_path / "full.xml")
    full.write_bytes(render_execute_response(context(), JobStatus("succeeded", "done")))
    torn = tmp_path / "torn.xml"
    torn.write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    assert read_document_state(str(torn)) is None
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    assert read_document_state(str(empty)) is None
    other = tmp_path / "other.xml"
    other.write_bytes(b"<?xml version='1.0'?><html><body>502 Bad Gateway</body></html>")
    assert read_document_state(str(other)) is None


def test_qstat_xml_gives_the_state_of_jobs_and_array_tasks():
    from wpsgate.backends.drmaa_backend import parse_qstat_states

    xml = """<?xml version='1.0'?><job_info><queue_info>
      <job_list state="running"><JB_job_number>7</JB_job_number><state>r</state></job_list>
      <job_list state="running"><JB_job_number>8</JB_job_number><state>r</state><tasks>2</tasks></job_list>
      </queue_info><job_info>
      <job_list state="pending"><JB_job_number>8</JB_job_number><state>qw</state><tasks>3-7:2</tasks></job_list>
      <job_list state="pending"><JB_job_number>9</JB_job_number><state>hqw</state><tasks>1,4</tasks></job_list>
      <job_list state="pending"><JB_job_number>x; rm</JB_job_number><state>qw</state></job_list>
      </job_info></job_info>"""
    assert parse_qstat_states(xml) == {"7": "running", "8.2": "running", "8.3": "queued", "8.5": "queued",
                                       "8.7": "queued", "9.1": "queued", "9.4": "queued"}
    assert parse_qstat_states("not xml") == {}
