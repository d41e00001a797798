"""The loop of one warm worker process of the local pool.

A worker imports the configured processes once at start, then runs jobs one at a
time: it receives a pickled ``JobSpec``, reports progress as the handler calls
``update_status``, and sends back the ``JobOutcome``.  The status documents are
written by the worker itself into the job folder, exactly as the joblauncher does
on a compute node.
"""
from __future__ import annotations

import os
import pickle
import signal
from multiprocessing.connection import Connection
from typing import Sequence

from ..jobs.runner import run_job
from ..registry import load_processes


def worker_main(connection: Connection, process_paths: Sequence[str]) -> None:
    """Serve jobs until the gateway closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is for the gateway, which stops us
    processes = load_processes(process_paths)
    connection.send(("ready", os.getpid()))
    while True:
        try:
            data = connection.recv_bytes()
        except (EOFError, OSError):
            return
        spec = pickle.loads(data)
        process = processes[spec.process_identifier]

        def progress(message: str, percent: int, uuid: str = spec.uuid) -> None:
            connection.send(("progress", uuid, message, percent))

        outcome = run_job(process, spec, progress)
        connection.send(("done", spec.uuid, outcome))
