"""The scheduler runner's decisions, against a fake scheduler: what it does with each thing a job folder and
the scheduler can say (final document, interrupted job, NFS grace, unreachable scheduler, progress), how
accepted jobs are submitted (refusal, retries, batches) and what a restart does with jobs that have no
scheduler id (found by name, or submitted exactly once)."""
from __future__ import annotations

import asyncio
import os
import threading

import pytest

from wpsgate.config import config_from_mapping
from wpsgate.jobs.cluster import SchedulerRunner, job_name, settings_from_config
from wpsgate.jobs.events import Accepted, Failed, Progress, SchedulerCall, Started, Submitted, Succeeded
from wpsgate.jobs.folder import FinalRecord, JobFolder
from wpsgate.jobs.jobfile import load_or_create_key
from wpsgate.jobs.lifecycle import Job, Lifecycle
from wpsgate.jobs.scheduling import SchedulerState, SubmitError, Submission
from wpsgate.jobs.serial import SerialExecutor
from wpsgate.jobs.store import JobStore
from wpsgate.protocol.documents import ExceptionInfo, JobStatus, render_execute_response
from wpsgate.protocol.kvp import parse_kvp
from wpsgate.protocol.status import read_document_state
from wpsgate.registry import load_processes
from wpsgate.service import Urls, WPSService


class FakeScheduler:
    """Says what a test tells it to, and counts what it was asked."""

    name = "fake"

    def __init__(self) -> None:
        self.states: dict[str, SchedulerState] = {}
        self.refuse: dict[str, SubmitError] = {}
        self.unreachable = 0  # the next calls that fail as if the controller were down
        self.known: dict[str, str] = {}  # name -> id, for find
        self.submitted: list[str] = []
        self.batches: list[int] = []
        self.cancelled: list[str] = []
        self.next_id = 100

    def submit_many(self, jobs):
        self.batches.append(len(jobs))
        if self.unreachable:
            self.unreachable -= 1
            error = SubmitError("cannot connect to the controller", transient=True)
            return [Submission(job.uuid, None, error) for job in jobs]
        results = []
        for job in jobs:
            if job.uuid in self.refuse:
                results.append(Submission(job.uuid, None, self.refuse[job.uuid]))
                continue
            self.next_id += 1
            self.submitted.append(job.uuid)
            self.known[job.name] = str(self.next_id)
            results.append(Submission(job.uuid, str(self.next_id)))
        return results

    def poll(self, ids):
        if self.unreachable:
            self.unreachable -= 1
            raise SubmitError("cannot connect to the controller", transient=True)
        return {i: self.states.get(i, SchedulerState("queued")) for i in ids}

    def cancel(self, job_id):
        self.cancelled.append(job_id)

    def valid_id(self, job_id):
        return job_id.isdigit()

    def find(self, names):
        if self.unreachable:
            self.unreachable -= 1
            raise SubmitError("cannot connect to the controller", transient=True)
        return {name: self.known[name] for name in names if name in self.known}

    def close(self):
        pass


class Bench:
    """A lifecycle on a real job table and spool, with a scheduler runner on the fake scheduler."""

    def __init__(self, root: str) -> None:
        self.config = config_from_mapping({"server": {"workdir": os.path.join(root, "gw")},
                                           "scheduler": {"nfs_grace": 5, "submit_retries": 3}}, environ={})
        os.makedirs(self.config.spool)
        key_path = os.path.join(self.config.workdir, "job.key")
        self.key = load_or_create_key(key_path)
        self.store = JobStore(self.config.database_url)
        self.documents: list = []  # what the HTTP layer would serve from memory
        self.lifecycle = Lifecycle(store=self.store, spool=self.config.spool, key=self.key, io=SerialExecutor(),
                                   on_document=lambda uuid, document: self.documents.append((uuid, document)))
        self.events: list = []
        self.lifecycle.observers.add(self.events.append)
        self.fake = FakeScheduler()
        self.service = WPSService(self.config, load_processes(None), engine=None, urls=Urls("http://127.0.0.1:9"))
        self.runner = self.new_runner()

    def new_runner(self) -> SchedulerRunner:
        key_path = os.path.join(self.config.workdir, "job.key")
        runner = SchedulerRunner(backend_factory=lambda: self.fake, spool=self.config.spool, key=self.key,
                                 settings=settings_from_config(self.config.scheduler, key_path))
        runner.backend, runner.name, runner.events = self.fake, "fake", self.lifecycle
        return runner

    def stop_runner(self) -> None:
        """The gateway dies: its runner's threads stop (the job table, spool and fake scheduler stay)."""
        self.runner.thread.shutdown()
        self.runner.disk.shutdown()

    async def restarted(self) -> None:
        """A new runner after ``stop_runner``: recovery, the look-up of unrecorded jobs, one submission round."""
        self.runner = self.new_runner()
        await self.lifecycle.recover(self.runner)
        await self.runner._verify_unrecorded()
        await self.runner._submit_batch()
        await self.settle()

    async def accept(self, name: str = "x") -> Job:
        process, spec, timeout, expire = self.service.prepare(parse_kvp(
            "service=WPS&request=Execute&version=1.0.0&identifier=hello&storeExecuteResponse=true"
            f"&status=true&DataInputs=name={name}"))
        spec.store = True
        job = Job(spec, timeout, expire, process)
        await self.lifecycle.accept(job, self.runner.name, self.runner.persist)
        self.runner.submit(job)
        return job

    async def submitted(self, name: str = "x") -> Job:
        job = await self.accept(name)
        await self.runner._submit_batch()
        return job

    def write(self, job: Job, status: JobStatus, record: FinalRecord | None = None) -> None:
        folder = JobFolder(self.config.spool, job.uuid)
        document = render_execute_response(job.context, status)
        if record is not None:
            folder.write_final(record, document)
        else:
            folder.write_status(document)

    def row(self, job: Job):
        return self.store.get(job.uuid)

    async def settle(self) -> None:
        """Until every row update handed over so far is written."""
        await asyncio.sleep(0)
        await self.lifecycle.io_call(lambda: None)
        await asyncio.sleep(0)
        await self.lifecycle.io_call(lambda: None)

    def close(self) -> None:
        self.runner.thread.shutdown()
        self.runner.disk.shutdown()
        self.lifecycle.io.shutdown()
        self.store.close()


@pytest.fixture
def bench(tmp_path):
    bench = Bench(str(tmp_path))
    yield bench
    bench.close()


def failed(message: str) -> JobStatus:
    return JobStatus("failed", message, error=ExceptionInfo("NoApplicableCode", message))


def test_accepting_waits_for_no_scheduler_and_a_batch_submits_what_arrived_together(bench):
    async def scenario():
        jobs = [await bench.accept(str(i)) for i in range(5)]
        assert bench.fake.submitted == [] and all(bench.row(j).backend_id is None for j in jobs)
        await bench.runner._submit_batch()
        await bench.settle()
        return jobs

    jobs = asyncio.run(scenario())
    assert bench.fake.batches == [5] and bench.fake.submitted == [j.uuid for j in jobs]  # one round, in order
    for job in jobs:
        row = bench.row(job)
        assert row.status == "accepted" and row.backend_id and row.message == "queued in the scheduler"
        assert JobFolder(bench.config.spool, job.uuid).read_scheduler_id() == row.backend_id
    # the node writes this job's later documents into its folder: none may be served from memory
    assert bench.documents == []
    kinds = [type(e) for e in bench.events]
    assert kinds.count(Accepted) == 5 and kinds.count(Submitted) == 5
    assert {e.scheduler_id for e in bench.events if isinstance(e, Submitted)} == {bench.row(j).backend_id
                                                                                  for j in jobs}


def test_a_job_dismissed_while_its_round_is_on_its_way_is_cancelled_once_its_id_is_known(bench):
    """The round is in the scheduler's hands (a thread) when the client dismisses the job: the id that
    comes back is cancelled, the row stays dismissed, and the other job of the round is recorded."""
    release = threading.Event()
    plain_submit = bench.fake.submit_many

    def slow_submit(jobs):
        release.wait(10)
        return plain_submit(jobs)
    bench.fake.submit_many = slow_submit

    async def scenario():
        kept, dismissed = await bench.accept("kept"), await bench.accept("dismissed")
        round_ = asyncio.create_task(bench.runner._submit_batch())
        while not bench.runner.in_flight:
            await asyncio.sleep(0.01)
        await bench.runner.cancel(dismissed.uuid)
        await bench.lifecycle.dismissed(dismissed.uuid)
        release.set()
        await round_
        await bench.settle()
        return kept, dismissed

    kept, dismissed = asyncio.run(scenario())
    assert bench.row(dismissed).status == "dismissed" and bench.row(kept).backend_id is not None
    assert bench.fake.cancelled == [bench.fake.known[f"wps-{dismissed.uuid}"]]
    assert dismissed.uuid not in bench.runner.active and kept.uuid in bench.runner.active


def test_a_refusal_after_accept_fails_the_job_with_the_schedulers_message_in_its_document(bench):
    async def scenario():
        job = await bench.accept()
        bench.fake.refuse[job.uuid] = SubmitError("sbatch: error: invalid partition name specified")
        await bench.runner._submit_batch()
        return job

    job = asyncio.run(scenario())
    row = bench.row(job)
    assert row.status == "failed" and "invalid partition name" in row.message
    document = read_document_state(JobFolder(bench.config.spool, job.uuid).status)
    assert (document.state, document.message) == ("failed", "the scheduler refused the job: sbatch: error: "
                                                             "invalid partition name specified")
    assert [e.reason for e in bench.events if isinstance(e, Failed)] == [row.message]


def test_an_unreachable_scheduler_is_retried_then_the_job_is_submitted_once(bench):
    async def scenario():
        job = await bench.accept()
        bench.fake.unreachable = 2
        retry = [await bench.runner._submit_batch() for _ in range(3)]
        await bench.settle()
        return job, retry

    job, retry = asyncio.run(scenario())
    assert retry == [True, True, False]
    assert bench.fake.submitted == [job.uuid] and bench.row(job).backend_id
    calls = [e for e in bench.events if isinstance(e, SchedulerCall)]  # what the metrics time and count
    assert [(c.kind, c.ok) for c in calls] == [("scheduler_submit", False)] * 2 + [("scheduler_submit", True)]
    assert all(c.duration >= 0 and c.runner == "fake" for c in calls)


def test_a_scheduler_unreachable_for_every_attempt_fails_the_job_saying_so(bench):
    async def scenario():
        job = await bench.accept()
        bench.fake.unreachable = 3
        for _ in range(3):
            await bench.runner._submit_batch()
        return job

    job = asyncio.run(scenario())
    assert bench.row(job).status == "failed"
    assert "could not be reached after 3 attempts: cannot connect" in bench.row(job).message
    assert not bench.runner.pending


def test_a_final_document_ends_the_job_with_its_record(bench):
    async def scenario():
        job = await bench.submitted()
        bench.write(job, JobStatus("succeeded", "Process Hello finished", 100),
                    FinalRecord("succeeded", "Process Hello finished", started="2020-01-02T03:04:05+00:00",
                                outputs=["out.txt"]))
        await bench.runner.reconcile()
        await bench.settle()
        return job

    job = asyncio.run(scenario())
    row = bench.row(job)
    assert (row.status, row.percent, row.outputs) == ("succeeded", 100, '["out.txt"]')
    assert row.started.year == 2020  # the node's start, from the final record
    assert not bench.runner.active and bench.fake.cancelled == []
    assert isinstance(bench.events[-1], Succeeded)


def test_progress_reaches_the_row_and_started_is_written_once(bench):
    async def scenario():
        job = await bench.submitted()
        bench.fake.states[bench.row(job).backend_id] = SchedulerState("running")
        bench.write(job, JobStatus("started", "step 1", 10))
        await bench.runner.reconcile()
        await bench.settle()
        first = bench.row(job)
        bench.write(job, JobStatus("started", "step 2", 60))
        await bench.runner.reconcile()
        await bench.settle()
        return first, bench.row(job)

    first, second = asyncio.run(scenario())
    assert (first.status, first.percent, first.message) == ("started", 10, "step 1")
    assert (second.status, second.percent, second.message) == ("started", 60, "step 2")
    assert second.started == first.started  # not rewritten by progress
    assert [type(e) for e in bench.events].count(Started) == 1
    assert [e.percent for e in bench.events if isinstance(e, Progress)] == [10, 60]


def test_an_interrupted_job_takes_the_schedulers_reason(bench):
    async def scenario():
        job = await bench.submitted()
        message = "the job was stopped by a signal (SIGTERM) from the scheduler or an operator"
        bench.write(job, failed(message), FinalRecord("failed", message, interrupted=True, signal=15, exit=143))
        await bench.runner.reconcile()  # the scheduler does not say yet why: wait
        waiting = bench.row(job).status
        bench.fake.states[bench.row(job).backend_id] = SchedulerState(
            "failed", "the scheduler stopped the job at its walltime limit (TIMEOUT)")
        await bench.runner.reconcile()
        return job, waiting

    job, waiting = asyncio.run(scenario())
    assert waiting == "accepted"
    row = bench.row(job)
    assert row.status == "failed" and row.message.startswith("the scheduler stopped the job at its walltime limit")
    assert "(the job was stopped by a signal (SIGTERM)" in row.message


def test_an_interrupted_job_the_scheduler_says_nothing_about_ends_with_its_own_message(bench):
    async def scenario():
        job = await bench.submitted()
        bench.write(job, failed("stopped by a signal"), FinalRecord("failed", "stopped by a signal", interrupted=True))
        await bench.runner.reconcile()
        bench.runner.active[job.uuid].over_since -= 2 * bench.runner.settings.nfs_grace  # the grace has passed
        await bench.runner.reconcile()
        await bench.settle()
        return job

    job = asyncio.run(scenario())
    assert (bench.row(job).status, bench.row(job).message) == ("failed", "stopped by a signal")


def test_a_failure_whose_message_mentions_a_signal_is_not_taken_for_an_interruption(bench):
    """The explicit ``interrupted`` field decides, not the words of the message."""
    async def scenario():
        job = await bench.submitted()
        message = "the job was stopped by a signal, says the handler"
        bench.write(job, failed(message), FinalRecord("failed", message))
        await bench.runner.reconcile()
        await bench.settle()
        return job

    job = asyncio.run(scenario())
    assert (bench.row(job).status, bench.row(job).message) == ("failed", "the job was stopped by a signal, says "
                                                                         "the handler")


def test_a_job_the_scheduler_says_is_over_gets_the_nfs_grace_before_it_fails(bench):
    async def scenario():
        job = await bench.submitted()
        backend_id = bench.row(job).backend_id
        bench.fake.states[backend_id] = SchedulerState("failed", "the job exceeded its memory limit (OUT_OF_MEMORY)")
        await bench.runner.reconcile()
        during = bench.row(job).status
        bench.runner.active[job.uuid].over_since -= bench.runner.settings.nfs_grace
        await bench.runner.reconcile()
        return job, during

    job, during = asyncio.run(scenario())
    assert during == "accepted"  # the final document may still be on its way over NFS
    row = bench.row(job)
    assert row.status == "failed" and row.message == "the job exceeded its memory limit (OUT_OF_MEMORY)"
    document = read_document_state(JobFolder(bench.config.spool, job.uuid).status)
    assert (document.state, document.message) == ("failed", row.message)


def test_a_document_arriving_within_the_grace_wins(bench):
    async def scenario():
        job = await bench.submitted()
        bench.fake.states[bench.row(job).backend_id] = SchedulerState("done", exit_code=0)
        await bench.runner.reconcile()
        bench.write(job, JobStatus("succeeded", "done", 100), FinalRecord("succeeded", "done"))
        await bench.runner.reconcile()
        await bench.settle()
        return job

    job = asyncio.run(scenario())
    assert bench.row(job).status == "succeeded"


def test_an_unreachable_scheduler_decides_nothing(bench):
    async def scenario():
        job = await bench.submitted()
        bench.runner.active[job.uuid].over_since = 0.0  # even a job that looked over long ago
        bench.fake.unreachable = 5
        for _ in range(3):
            await bench.runner.reconcile()
        return job

    job = asyncio.run(scenario())
    assert bench.row(job).status == "accepted" and job.uuid in bench.runner.active
    polls = [e.ok for e in bench.events if isinstance(e, SchedulerCall) and e.kind == "scheduler_poll"]
    assert polls == [False, False, False]  # each failed query timed and told (wpsgate_scheduler_errors_total)


def test_after_a_restart_jobs_without_an_id_are_found_by_name_or_submitted_exactly_once(bench):
    async def before():
        with_id = await bench.submitted("c")
        gone_unrecorded = await bench.accept("a")  # submitted, but the gateway died before it recorded the id
        bench.fake.known[job_name(gone_unrecorded.uuid)] = "77"
        never = await bench.accept("b")  # persisted, never submitted
        return gone_unrecorded, never, with_id

    found, never, with_id = asyncio.run(before())
    bench.fake.submitted.clear()
    bench.stop_runner()
    asyncio.run(bench.restarted())
    active = dict(bench.runner.active)
    assert bench.fake.submitted == [never.uuid]  # only the one the scheduler never had
    assert bench.row(found).backend_id == "77" and bench.row(never).backend_id
    assert set(active) == {found.uuid, never.uuid, with_id.uuid}


def test_after_a_restart_an_unreachable_scheduler_submits_nothing_until_it_can_be_asked(bench):
    async def before():
        return await bench.accept()

    job = asyncio.run(before())
    bench.stop_runner()

    async def restart():
        bench.runner = bench.new_runner()
        await bench.lifecycle.recover(bench.runner)
        bench.fake.unreachable = 1
        first = await bench.runner._verify_unrecorded()
        submitted_while_down = list(bench.fake.submitted)
        second = await bench.runner._verify_unrecorded()
        await bench.runner._submit_batch()
        return first, submitted_while_down, second

    first, while_down, second = asyncio.run(restart())
    assert (first, while_down, second) == (True, [], False)
    assert bench.fake.submitted == [job.uuid]


def test_a_job_that_vanished_from_the_scheduler_fails_after_the_grace(bench):
    async def scenario():
        job = await bench.submitted()
        bench.fake.states[bench.row(job).backend_id] = SchedulerState("unknown", "the scheduler no longer knows "
                                                                                 "the job")
        await bench.runner.reconcile()
        bench.runner.active[job.uuid].over_since -= bench.runner.settings.nfs_grace
        await bench.runner.reconcile()
        return job

    job = asyncio.run(scenario())
    assert (bench.row(job).status, bench.row(job).message) == ("failed", "the scheduler no longer knows the job")


def test_dismissing_a_job_not_submitted_yet_means_it_never_is(bench):
    async def scenario():
        job = await bench.accept()
        await bench.runner.cancel(job.uuid)
        await bench.runner._submit_batch()
        return job

    asyncio.run(scenario())
    assert bench.fake.submitted == [] and bench.fake.batches == []


class FakeArrays(FakeScheduler):
    """A scheduler with arrays: one call submits a round; a task's id is '<array>_<index>'."""

    supports_arrays = True

    def __init__(self) -> None:
        super().__init__()
        self.arrays: list = []

    def submit_array(self, array):
        self.arrays.append(array)
        if array.template.uuid in self.refuse:
            raise self.refuse[array.template.uuid]
        self.next_id += 1
        self.known[array.name] = str(self.next_id)
        return [self.array_task_id(str(self.next_id), i) for i in range(array.size)]

    def array_task_id(self, array_id, index):
        return f"{array_id}_{index}"

    def valid_id(self, job_id):
        return job_id.replace("_", "").isdigit()


def test_a_round_is_one_array_whose_manifest_and_markers_name_every_job(bench):
    bench.fake = FakeArrays()
    bench.runner = bench.new_runner()

    async def scenario():
        jobs = [await bench.accept(str(i)) for i in range(3)]
        await bench.runner._submit_batch()
        await bench.settle()
        return jobs

    jobs = asyncio.run(scenario())
    (array,) = bench.fake.arrays  # one call for the round
    assert array.size == 3 and array.command[-2:] == ("--batch", array.manifest)
    with open(array.manifest) as handle:
        assert handle.read().split() == [job.uuid for job in jobs]  # line i: task i's job
    for index, job in enumerate(jobs):
        assert JobFolder(bench.config.spool, job.uuid).read_batch() == (array.name, index)
        assert bench.row(job).backend_id == f"{bench.fake.known[array.name]}_{index}"


def test_after_a_restart_a_job_of_an_unrecorded_array_gets_its_task_id_and_is_not_submitted_again(bench):
    bench.fake = FakeArrays()
    bench.runner = bench.new_runner()

    async def before():
        jobs = [await bench.accept(str(i)) for i in range(2)]
        await bench.runner._submit_batch()
        await bench.settle()
        return jobs

    jobs = asyncio.run(before())
    recorded = [bench.row(job).backend_id for job in jobs]
    for job in jobs:  # as if the gateway died after sbatch answered, before the ids were recorded
        bench.store.update(job.uuid, backend_id=None)
        os.unlink(JobFolder(bench.config.spool, job.uuid).scheduler_id)
    bench.stop_runner()
    asyncio.run(bench.restarted())
    assert len(bench.fake.arrays) == 1  # nothing submitted again
    assert [bench.row(job).backend_id for job in jobs] == recorded


def test_a_refused_array_fails_each_of_its_jobs_with_the_schedulers_message(bench):
    bench.fake = FakeArrays()
    bench.runner = bench.new_runner()

    async def scenario():
        job = await bench.accept()
        bench.fake.refuse[job.uuid] = SubmitError("Unable to run job: job rejected: unknown queue \"nosuch\"")
        await bench.runner._submit_batch()
        return job

    job = asyncio.run(scenario())
    document = read_document_state(JobFolder(bench.config.spool, job.uuid).status)
    assert document.state == "failed" and document.message.endswith('unknown queue "nosuch"')


def test_a_memory_kill_reported_in_the_array_tasks_log_is_named(bench):
    bench.fake = FakeArrays()
    bench.runner = bench.new_runner()

    async def scenario():
        job = await bench.accept()
        await bench.runner._submit_batch()
        (array,) = bench.fake.arrays
        with open(array.log.replace("{task}", "0"), "w") as handle:  # as slurmstepd writes it
            handle.write("slurmstepd-vm: error: Exceeded job memory limit\n")
        bench.fake.states[bench.row(job).backend_id] = SchedulerState("failed", "")
        await bench.runner.reconcile()
        bench.runner.active[job.uuid].over_since -= bench.runner.settings.nfs_grace
        await bench.runner.reconcile()
        return job

    job = asyncio.run(scenario())
    assert bench.row(job).message == "the job exceeded its memory limit and was killed by the scheduler"
