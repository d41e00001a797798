"""One job folder on the spool: the contract between the gateway and whatever runs the job.

Layout::

    <spool>/<uuid>/status.xml    the WPS status document clients poll (replaced atomically)
    <spool>/<uuid>/outputs/      outputs returned by reference
    <spool>/<uuid>/work/         the handler's working folder
    <spool>/<uuid>/job.dill      the signed job (scheduler backends)
    <spool>/<uuid>/result.json   the final record: state, exit, times, peak memory
    <spool>/<uuid>/job.log       stdout and stderr of the job
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_job_id(value: str) -> bool:
    return bool(_UUID.match(value))


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

    def write_result(self, record: dict[str, Any]) -> None:
        atomic_write(self.result, json.dumps(record, indent=1, default=str).encode(), durable=True)

    def read_result(self) -> dict[str, Any] | None:
        try:
            with open(self.result, "rb") as handle:
                return json.loads(handle.read())
        except (FileNotFoundError, ValueError):
            return None
