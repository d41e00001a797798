"""The loop of one warm worker process of the local pool.

A worker imports the configured processes once at start, then runs jobs one at a
time: it receives a pickled ``JobSpec``, reports progress as the handler calls
``update_status``, and sends back the ``JobOutcome``.  The status documents are
written by the worker itself into the job folder, exactly as the joblauncher does
on a compute node.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
from multiprocessing.connection import Connection
from typing import Iterator, Mapping, Sequence

from ..jobs.folder import JobFolder
from ..jobs.runner import run_job
from ..registry import load_processes


def worker_main(connection: Connection, process_paths: Sequence[str], niceness: int = 0,
                environment: Mapping[str, str] | None = None) -> None:
    """Serve jobs until the gateway closes the pipe.

    With ``environment`` (the ``scheduler.environment`` allow-list), the worker's environment is
    replaced by it before any process module is imported, so that process code and the programs it
    starts do not see the gateway's secrets (a database URL, tokens) in ``os.environ``.  This is a
    guard against leaks, not a wall: a worker runs as the gateway's account, whose files (and the
    environment the worker was started with, in /proc) it can still read; only a scheduler running
    jobs under another account separates them.  It costs nothing per job.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is for the gateway, which stops us
    if environment is not None:
        os.environ.clear()
        os.environ.update(environment)
    if niceness:  # the gateway answers clients first; jobs take the CPU it leaves
        os.nice(niceness)
    processes = load_processes(process_paths)
    connection.send(("ready", os.getpid()))
    while True:
        try:
            data = connection.recv_bytes()
        except (EOFError, OSError):
            return
        spec = pickle.loads(data)
        process = processes[spec.process_identifier]

        def progress(message: str, percent: int, document: bytes | None, uuid: str = spec.uuid) -> None:
            connection.send(("progress", uuid, message, percent, document))

        with captured_output(JobFolder(spec.spool, spec.uuid).create().log):
            outcome = run_job(process, spec, progress)
        connection.send(("done", spec.uuid, outcome))


@contextlib.contextmanager
def captured_output(path: str) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so child processes' output
    too) to the job's log while its handler runs, as a scheduler does on a compute node."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        os.dup2(log, 1)
        os.dup2(log, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log):
            os.close(fd)
