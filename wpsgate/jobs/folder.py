"""One job folder on the spool: the contract between the gateway and whatever runs the job.

Layout::

    <spool>/<uuid>/status.xml    the WPS status document clients poll (replaced atomically)
    <spool>/<uuid>/outputs/      outputs returned by reference
    <spool>/<uuid>/work/         the handler's working folder
    <spool>/<uuid>/job.dill      the signed job (scheduler backends)
    <spool>/<uuid>/result.json   the final record (``FinalRecord``): state, exit, times, interrupted, ...
    <spool>/<uuid>/job.log       stdout and stderr of the job
    <spool>/<uuid>/scheduler.id  the scheduler's id for the job, once it was submitted
    <spool>/<uuid>/batch         the array the job is submitted in and its index (written before submitting)
    <spool>/batches/<name>.txt   an array's manifest: line i is the uuid of task i's job

Every path of the folder is built here and nowhere else; the final record is written by one
function (``JobFolder.write_final``) in one shape for the local pool and the joblauncher alike,
always before the final status document, so that whoever reads a final document finds the record.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


_BATCH = re.compile(r"wps-batch-[0-9a-f]{32}(-[A-Za-z0-9_-]{1,32})?")  # the user's name last, when it has one


def is_job_id(value: str) -> bool:
    return bool(_UUID.match(value))


def batches_folder(spool: str) -> str:
    """Where array manifests live, beside the job folders."""
    return os.path.join(spool, "batches")


def is_batch_name(value: str) -> bool:
    return bool(_BATCH.fullmatch(value))


def read_manifest_line(path: str, index: int) -> str:
    """The uuid on line ``index`` (from 0) of an array manifest; ValueError when there is none."""
    with open(path, encoding="ascii") as handle:
        for number, line in enumerate(handle):
            if number == index:
                uuid = line.strip()
                if is_job_id(uuid):
                    return uuid
                break
    raise ValueError(f"{path} has no job on line {index + 1}")


def atomic_write(path: str, data: bytes, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old or the new file, never a part.

    The temporary file lives in the same folder (rename is atomic only within one
    filesystem); ``durable`` adds an fsync before the rename, for documents that
    must survive a crash.
    """
    folder = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.chmod(temporary, 0o640)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


@dataclass
class FinalRecord:
    """How a job ended, as whatever ran it saw it (``result.json``).

    ``state`` is succeeded, failed or refused (the job file did not verify); ``interrupted``
    says that a signal stopped the job (walltime, cancel, preemption), so that the gateway
    asks the scheduler why instead of matching words of a message; ``exit`` is the exit code
    the joblauncher gave the scheduler (None on the local pool).
    """

    state: str
    message: str = ""
    started: str | None = None
    finished: str | None = None
    exit: int | None = None
    interrupted: bool = False
    signal: int | None = None
    outputs: list[str] = field(default_factory=list)
    traceback: str = ""
    host: str = ""
    peak_memory_mb: float | None = None
    cpu_seconds: float | None = None
    raw_output: str = ""  # a RawDataOutput answer: its file's name in outputs/ ...
    raw_mime_type: str = ""  # ... and its media type, for a gateway that did not run the job

    @classmethod
    def from_data(cls, data: Any) -> "FinalRecord | None":
        """The record in ``data`` (parsed JSON), or None when it is not one; unknown keys are ignored and
        values of the wrong type dropped (the spool is written by jobs, so nothing in it is trusted)."""
        if not isinstance(data, dict) or not isinstance(data.get("state"), str):
            return None
        kinds = {"message": str, "started": str, "finished": str, "exit": int, "interrupted": bool, "signal": int,
                 "traceback": str, "host": str, "peak_memory_mb": (int, float), "cpu_seconds": (int, float),
                 "raw_output": str, "raw_mime_type": str}
        values: dict[str, Any] = {"state": data["state"]}
        for name, kind in kinds.items():
            value = data.get(name)
            if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
                values[name] = value
        outputs = data.get("outputs")
        if isinstance(outputs, list):
            values["outputs"] = [item for item in outputs if isinstance(item, str)]
        if not is_plain_name(values.get("raw_output", "")):  # a name inside outputs/, never a path
            values.pop("raw_output", None)
        return cls(**values)

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), indent=1).encode()


def is_plain_name(name: str) -> bool:
    """A file name without a folder part (nor ``.``/``..``): what a record may name inside outputs/."""
    return bool(name) and "/" not in name and "\\" not in name and "\0" not in name and name not in (".", "..")


class JobFolder:
    """Paths of one job's folder; creating it is the only side effect."""

    def __init__(self, spool: str, uuid: str) -> None:
        if not is_job_id(uuid):
            raise ValueError(f"not a job id: {uuid!r}")
        self.uuid = uuid
        self.path = os.path.join(spool, uuid)

    @property
    def status(self) -> str:
        return os.path.join(self.path, "status.xml")

    @property
    def outputs(self) -> str:
        return os.path.join(self.path, "outputs")

    @property
    def work(self) -> str:
        return os.path.join(self.path, "work")

    @property
    def job_file(self) -> str:
        return os.path.join(self.path, "job.dill")

    @property
    def result(self) -> str:
        return os.path.join(self.path, "result.json")

    @property
    def log(self) -> str:
        return os.path.join(self.path, "job.log")

    @property
    def scheduler_id(self) -> str:
        return os.path.join(self.path, "scheduler.id")


    def create(self) -> "JobFolder":
        """Make the folder with its outputs/ and work/ (plain mkdir: this is on every job's accept path)."""
        for path in (self.path, self.outputs, self.work):
            try:
                os.mkdir(path, 0o750)
            except FileExistsError:
                pass
            except FileNotFoundError:  # the spool itself is missing (it is made at start; made here too)
                os.makedirs(path, mode=0o750, exist_ok=True)
        return self

    def write_status(self, document: bytes, durable: bool = True) -> None:
        atomic_write(self.status, document, durable)

    def write_final(self, record: FinalRecord, document: bytes | None) -> None:
        """The end of a job: its final record, then (when given) its final status document.

        In this order, so that a reader who sees the final document finds the record beside it."""
        atomic_write(self.result, record.to_json(), durable=True)
        if document is not None:
            self.write_status(document, durable=True)

    def raw_output(self, record: FinalRecord) -> str | None:
        """The path of the RawDataOutput file ``record`` names, None when it names none."""
        return os.path.join(self.outputs, record.raw_output) if record.raw_output else None

    def read_final(self) -> FinalRecord | None:
        """The final record, or None when there is none (yet) or it is not one."""
        try:
            with open(self.result, "rb") as handle:
                return FinalRecord.from_data(json.loads(handle.read()))
        except (OSError, ValueError):
            return None

    def write_scheduler_id(self, scheduler_id: str) -> None:
        """Atomic, not fsynced: it is written on the thread that also persists new jobs, once per job of
        every submission round, and the promise is the accept path's (survives a gateway crash, not a
        power loss; after one, the job is found again by its array's or its own name)."""
        atomic_write(self.scheduler_id, scheduler_id.encode(), durable=False)

    @property
    def batch(self) -> str:
        return os.path.join(self.path, "batch")

    def write_batch(self, name: str, index: int) -> None:
        """Name the array and the task the job is about to be submitted as (for recovery after a crash)."""
        atomic_write(self.batch, f"{name} {index}".encode(), durable=False)

    def read_batch(self) -> tuple[str, int] | None:
        name, _, index = _read_text(self.batch).partition(" ")
        return (name, int(index)) if _BATCH.fullmatch(name) and index.isdigit() else None

    def read_scheduler_id(self) -> str:
        """The id the scheduler gave the job ('' when none was recorded); checked by the caller before use."""
        return _read_text(self.scheduler_id)


def _read_text(path: str, limit: int = 256) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", errors="replace").strip()
    except OSError:
        return ""
