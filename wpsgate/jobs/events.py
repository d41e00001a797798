"""Lifecycle events: one observer hook where every transition of every job can be seen.

``Lifecycle.observers`` is an ``Observers`` list; ``observers.add(callback)`` registers a
``callback(event)`` that is called on the event loop, after the transition was handed to the
job table, for logs and metrics (a callback must be quick and must not block; an exception
it raises is logged and ignored).  The events, each with the job's ``uuid``, the ``runner``
(local, slurm, drmaa), the ``process`` identifier and the wall-clock time ``at``:

==============  ==================================================================
Accepted        persisted (row, signed job file, ProcessAccepted document)
Submitted       the scheduler took it; ``scheduler_id`` (the local pool: its queue)
Started         it runs
Progress        ``percent`` and ``message`` changed
Succeeded       it ended with its outputs
Failed          it ended without them; ``reason`` says why
Dismissed       a client dismissed it (its files are removed)
Expired         its results were removed at the end of their life
SchedulerCall   a submission or poll command or call (``operation`` submit/poll, its
                ``duration`` in seconds, ``ok``); ``uuid`` is empty: a call covers many jobs
==============  ==================================================================
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger("wpsgate.events")


@dataclass(frozen=True)
class JobEvent:
    uuid: str
    runner: str = ""
    at: float = field(default_factory=time.time)
    process: str = ""  # the process identifier (filled in by the lifecycle for the jobs it follows)

    @property
    def kind(self) -> str:
        return type(self).__name__.lower()


@dataclass(frozen=True)
class Accepted(JobEvent):
    pass


@dataclass(frozen=True)
class Submitted(JobEvent):
    scheduler_id: str | None = None


@dataclass(frozen=True)
class Started(JobEvent):
    pass


@dataclass(frozen=True)
class Progress(JobEvent):
    percent: int = 0
    message: str = ""


@dataclass(frozen=True)
class Succeeded(JobEvent):
    pass


@dataclass(frozen=True)
class Failed(JobEvent):
    reason: str = ""


@dataclass(frozen=True)
class Dismissed(JobEvent):
    pass


@dataclass(frozen=True)
class Expired(JobEvent):
    pass


@dataclass(frozen=True)
class SchedulerCall(JobEvent):
    operation: str = "submit"  # submit or poll
    duration: float = 0.0
    ok: bool = True

    @property
    def kind(self) -> str:
        return "scheduler_" + self.operation


Observer = Callable[[JobEvent], None]


class Observers:
    """The callbacks told of every job event."""

    def __init__(self) -> None:
        self._callbacks: list[Observer] = []

    def add(self, callback: Observer) -> None:
        self._callbacks.append(callback)

    def remove(self, callback: Observer) -> None:
        self._callbacks.remove(callback)

    def emit(self, event: JobEvent) -> None:
        for callback in self._callbacks:
            try:
                callback(event)
            except Exception:  # an observer's bug must not change a job's fate
                log.exception("a job event observer failed on %s", event)
