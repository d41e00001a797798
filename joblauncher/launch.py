"""Verify, load and run one job folder; write its documents, outputs and final record.

Exit codes tell the scheduler (and an operator) what happened:

====  =====================================================================
0     the process succeeded
1     the process failed (the status document says why)
2     usage error
3     the job file was refused (missing, unsigned, tampered with, misplaced), or a staged
      input in the job folder no longer matches the digest signed with it
4     the job could not be loaded (e.g. a module missing on this node)
143   stopped by SIGTERM (130 for SIGINT), after writing ProcessFailed
====  =====================================================================
"""
from __future__ import annotations

import datetime as _dt
import os
import signal
import socket
import sys
from typing import Any

from wpsgate.jobs.folder import FinalRecord, JobFolder, is_job_id
from wpsgate.jobs.jobfile import JobFileError, LoadedJob, load_job as _load_job, read_job_record, verify_inputs
from wpsgate.jobs.runner import JobInterrupted, JobOutcome, run_job
from wpsgate.protocol.documents import ExceptionInfo, JobStatus, render_execute_response

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_UNLOADABLE = 0, 1, 2, 3, 4

__all__ = ["LoadedJob", "job_folder", "read_key", "load_record", "load_job", "run_folder"]


def job_folder(path: str) -> JobFolder:
    """The JobFolder for ``path``; its name must be a job uuid (the signature is bound to it)."""
    real = os.path.realpath(path)
    uuid = os.path.basename(real)
    if not is_job_id(uuid):
        raise JobFileError(f"{path} is not a job folder (its name is not a job id)")
    return JobFolder(os.path.dirname(real), uuid)


def read_key(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            key = handle.read().strip()
    except OSError as exc:
        raise JobFileError(f"cannot read the signing key {path}: {exc.strerror}") from None
    if len(key) < 32:
        raise JobFileError(f"the signing key {path} is too short")
    return key


def load_record(folder: JobFolder, key: bytes) -> dict:
    """The verified record of the folder's job file (the gateway's own reader, jobs.jobfile)."""
    return read_job_record(folder, key)


def load_job(folder: JobFolder, record: dict) -> LoadedJob:
    """Load the verified job, with the operator's python path the record names (jobs.jobfile.load_job)."""
    return _load_job(folder, record, extend_path=True)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def write_failure(folder: JobFolder, context: Any, record: FinalRecord) -> None:
    """The end of a job that did not run: its final record, then ProcessFailed with the record's message."""
    error = ExceptionInfo("NoApplicableCode", record.message)
    document = render_execute_response(context, JobStatus("failed", record.message, error=error))
    folder.write_final(record, document)


class _Signals:
    """Turns SIGTERM/SIGINT into JobInterrupted inside the running handler, once."""

    def __init__(self) -> None:
        self.received: int | None = None

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def ignore(self) -> None:
        """Record later signals without raising (the job is over; only the bookkeeping remains)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._record)

    def _record(self, signum: int, _frame: Any) -> None:
        self.received = self.received or signum

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.received is not None:
            return
        self.received = signum
        name = signal.Signals(signum).name
        raise JobInterrupted(f"the job was stopped by a signal ({name}) from the scheduler or an operator: "
                             "walltime reached, cancelled or preempted")


def run_folder(path: str, key_path: str, log: Any = sys.stderr) -> int:
    """Run the job in ``path``; returns the exit code."""
    started = _now()
    signals = _Signals()
    signals.install()

    def ended(state: str, code: int, message: str, **extra: Any) -> FinalRecord:
        return FinalRecord(state=state, exit=code, message=message, started=started.isoformat(),
                           finished=_now().isoformat(), host=socket.gethostname(), **extra)

    def interrupted(folder: JobFolder, context: Any, exc: JobInterrupted) -> int:
        signals.ignore()
        code = 128 + (signals.received or signal.SIGTERM)
        write_failure(folder, context, ended("failed", code, str(exc), interrupted=True, signal=signals.received))
        return code

    try:
        folder = job_folder(path)
        record = load_record(folder, read_key(key_path))
    except JobInterrupted as exc:
        print(f"joblauncher: {exc}", file=log)
        return 128 + (signals.received or signal.SIGTERM)
    except JobFileError as exc:
        print(f"joblauncher: job refused: {exc}", file=log)
        _final_record_if_possible(path, ended("refused", EXIT_REFUSED, f"job refused: {exc}"))
        return EXIT_REFUSED
    context = record["context"]
    try:
        verify_inputs(folder.path, record["inputs"])
    except JobInterrupted as exc:
        return interrupted(folder, context, exc)
    except JobFileError as exc:
        message = f"job refused: {exc}"
        print(f"joblauncher: {message}", file=log)
        write_failure(folder, context, ended("refused", EXIT_REFUSED, message))
        return EXIT_REFUSED
    try:
        job = load_job(folder, record)
    except JobInterrupted as exc:
        return interrupted(folder, context, exc)
    except Exception as exc:  # a missing module, a class that changed: the job cannot run here
        message = f"the job could not be loaded on {socket.gethostname()}: {type(exc).__name__}: {exc}"
        print(f"joblauncher: {message}", file=log)
        write_failure(folder, context, ended("failed", EXIT_UNLOADABLE, message))
        return EXIT_UNLOADABLE
    job.spec.store = True  # on a node the status document is the only way back
    job.spec.spool = os.path.dirname(folder.path)  # the folder we were given, wherever the spool is mounted
    exit_code = EXIT_FAILED

    def finish(outcome: JobOutcome, final: FinalRecord) -> None:
        nonlocal exit_code
        signals.ignore()  # the job is over: a late signal must not tear its final record
        exit_code = EXIT_OK if outcome.state == "succeeded" else EXIT_FAILED
        if signals.received is not None:
            exit_code = 128 + signals.received
        final.exit, final.signal, final.host = exit_code, signals.received, socket.gethostname()
        final.started, final.finished = started.isoformat(), _now().isoformat()
        # cpu_seconds and peak_memory_mb: the job's own, measured by run_job as on every backend (jobs.usage)
        folder.write_final(final, outcome.document)

    outcome = run_job(job.process, job.spec, finish=finish)
    print(f"joblauncher: job {folder.uuid} {outcome.state}: {outcome.message}", file=log)
    return exit_code


def _final_record_if_possible(path: str, record: FinalRecord) -> None:
    try:
        real = os.path.realpath(path)
        if os.path.isdir(real) and is_job_id(os.path.basename(real)):
            JobFolder(os.path.dirname(real), os.path.basename(real)).write_final(record, None)
    except OSError:
        pass
