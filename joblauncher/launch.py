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
import resource
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

from wpsgate.jobs.folder import JobFolder, is_job_id
from wpsgate.jobs.jobfile import JobFileError, unpack, verify_inputs
from wpsgate.jobs.runner import JobInterrupted, run_job
from wpsgate.protocol.documents import ExceptionInfo, JobStatus, render_execute_response

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_UNLOADABLE = 0, 1, 2, 3, 4


@dataclass
class LoadedJob:
    folder: JobFolder
    context: Any
    process: Any
    spec: Any
    timeout: float


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
    try:
        with open(folder.job_file, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise JobFileError(f"cannot read {folder.job_file}: {exc.strerror}") from None
    return unpack(key, folder.uuid, data)


def load_job(folder: JobFolder, record: dict) -> LoadedJob:
    """Unpickle the job (process and spec); raises whatever loading raises (ImportError, ...).

    ``record`` has been verified: only now are the operator's ``scheduler.pythonpath`` folders it
    names added to ``sys.path`` (after the interpreter's own entries, so they cannot shadow the
    standard library, wpsgate or the joblauncher), for the process modules the job refers to.
    """
    import dill

    for entry in record.get("pythonpath", ()):
        if entry not in sys.path:
            sys.path.append(entry)

    job = dill.loads(record["job"])
    return LoadedJob(folder, record["context"], job.get("process"), job["spec"], job.get("timeout", 0.0))


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _peak_memory_mb() -> float:
    """The larger of this process's peak and its largest child's (a handler may run external tools)."""
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return round(peak / 1024.0, 1)


def write_failure(folder: JobFolder, context: Any, message: str) -> None:
    error = ExceptionInfo("NoApplicableCode", message)
    folder.write_status(render_execute_response(context, JobStatus("failed", message, error=error)), durable=True)


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
    try:
        folder = job_folder(path)
        record = load_record(folder, read_key(key_path))
    except JobInterrupted as exc:
        print(f"joblauncher: {exc}", file=log)
        return 128 + (signals.received or signal.SIGTERM)
    except JobFileError as exc:
        print(f"joblauncher: job refused: {exc}", file=log)
        _final_record_if_possible(path, {"state": "refused", "exit": EXIT_REFUSED, "message": f"job refused: {exc}",
                                         "started": started.isoformat(), "finished": _now().isoformat()})
        return EXIT_REFUSED
    context = record["context"]
    try:
        verify_inputs(folder.path, record["inputs"])
    except JobInterrupted as exc:
        write_failure(folder, context, str(exc))
        return 128 + (signals.received or signal.SIGTERM)
    except JobFileError as exc:
        message = f"job refused: {exc}"
        print(f"joblauncher: {message}", file=log)
        write_failure(folder, context, message)
        folder.write_result({"state": "refused", "exit": EXIT_REFUSED, "message": message,
                             "started": started.isoformat(), "finished": _now().isoformat()})
        return EXIT_REFUSED
    try:
        job = load_job(folder, record)
    except JobInterrupted as exc:
        write_failure(folder, context, str(exc))
        return 128 + (signals.received or signal.SIGTERM)
    except Exception as exc:  # a missing module, a class that changed: the job cannot run here
        message = f"the job could not be loaded on {socket.gethostname()}: {type(exc).__name__}: {exc}"
        print(f"joblauncher: {message}", file=log)
        write_failure(folder, context, message)
        folder.write_result({"state": "failed", "exit": EXIT_UNLOADABLE, "message": message,
                             "started": started.isoformat(), "finished": _now().isoformat(),
                             "host": socket.gethostname()})
        return EXIT_UNLOADABLE
    job.spec.store = True  # on a node the status document is the only way back
    job.spec.spool = os.path.dirname(folder.path)  # the folder we were given, wherever the spool is mounted
    outcome = run_job(job.process, job.spec)
    signals.ignore()  # the documents are written: a late signal must not tear the final record
    exit_code = EXIT_OK if outcome.state == "succeeded" else EXIT_FAILED
    if signals.received is not None:
        exit_code = 128 + signals.received
    folder.write_result({"state": outcome.state, "exit": exit_code, "message": outcome.message,
                         "started": started.isoformat(), "finished": _now().isoformat(),
                         "signal": signals.received, "peak_memory_mb": _peak_memory_mb(),
                         "host": socket.gethostname(), "outputs": outcome.output_files,
                         "cpu_seconds": round(time.process_time(), 3)})
    print(f"joblauncher: job {folder.uuid} {outcome.state}: {outcome.message}", file=log)
    return exit_code


def _final_record_if_possible(path: str, record: dict) -> None:
    try:
        real = os.path.realpath(path)
        if os.path.isdir(real) and is_job_id(os.path.basename(real)):
            JobFolder(os.path.dirname(real), os.path.basename(real)).write_result(record)
    except OSError:
        pass
