"""Signed job files: a job is code, so only the gateway's key makes one runnable.

A job file is ``MAGIC <hex HMAC-SHA256>\\n`` followed by the payload: a JSON header line
(format version, response context, digests of the staged inputs, the operator's
python path) and the dilled job.  The HMAC covers the job's uuid as well as the
payload, so a valid file copied into another job's folder does not verify.  The key lives in a file readable only by
the service account, created on first start.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import pickle
import secrets
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from ..protocol.context_codec import ContextUnreadable, context_from_data, context_to_data
from ..protocol.documents import ResponseContext
from .folder import JobFolder, atomic_write

MAGIC = b"WPSGATE-JOB-1"
VERSION = 2


class JobFileError(Exception):
    """A job file that must not run: missing, truncated, unsigned, tampered with or misplaced."""


def load_or_create_key(path: str) -> bytes:
    """Read the signing key, creating it (mode 0600) on first use."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, "rb") as handle:
            key = handle.read().strip()
        if len(key) < 32:
            raise JobFileError(f"signing key {path} is too short or empty")
        return key
    key = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key


def _mac(key: bytes, uuid: str, payload: bytes) -> str:
    return hmac.new(key, uuid.encode() + b"\n" + payload, hashlib.sha256).hexdigest()


def sign(key: bytes, uuid: str, payload: bytes) -> bytes:
    return MAGIC + b" " + _mac(key, uuid, payload).encode() + b"\n" + payload


def verify(key: bytes, uuid: str, data: bytes) -> bytes:
    """The payload of a signed job file, or JobFileError saying why it must not run."""
    header, newline, payload = data.partition(b"\n")
    if not newline or not header.startswith(MAGIC + b" "):
        raise JobFileError("the job file is not signed (no signature header)")
    signature = header[len(MAGIC) + 1:]
    if not hmac.compare_digest(signature, _mac(key, uuid, payload).encode("ascii")):
        raise JobFileError("the job file's signature does not verify (modified, truncated, "
                           "signed with another key, or not in its own job folder)")
    return payload


def pack(key: bytes, uuid: str, context: object, job: bytes, *, inputs: Mapping[str, str] | None = None,
         pythonpath: Sequence[str] = (), context_data: dict | None = None) -> bytes:
    """A signed job file: a JSON header line, then the job bytes (dill of the process and the spec).

    The header holds the response context (JSON, see protocol.context_codec) so that a node
    which cannot load the job (a missing module) can still write a truthful ProcessFailed
    document; ``inputs``, the SHA-256 of every file the job reads from its own folder
    (``input_digests``), so that a staged input changed after signing is refused; and
    ``pythonpath``, the folders the operator vouches for, which the joblauncher adds to
    ``sys.path`` only after verifying the signature and before loading the job.  Reading the
    header needs no unpickling at all.
    """
    if context_data is None:  # the caller may have encoded it already (the job row stores the same JSON)
        context_data = context_to_data(context)  # type: ignore[arg-type]
    header = {"version": VERSION, "context": context_data,
              "inputs": dict(inputs or {}), "pythonpath": list(pythonpath)}
    return sign(key, uuid, json.dumps(header, separators=(",", ":")).encode("utf-8") + b"\n" + job)


def unpack(key: bytes, uuid: str, data: bytes) -> dict:
    """Verify, then read the record: ``context`` (a ResponseContext), ``job`` bytes, ``inputs`` digests
    and ``pythonpath``; raises JobFileError."""
    payload = verify(key, uuid, data)
    line, newline, job = payload.partition(b"\n")
    if payload.startswith(b"\x80"):
        raise JobFileError("the job file has format version 1, written by an older wpsgate without input "
                           "digests; submit the job again")
    try:
        header = json.loads(line) if newline else None
    except ValueError as exc:
        raise JobFileError(f"the job file cannot be read: {exc}") from None
    if not isinstance(header, dict) or header.get("version") != VERSION:
        raise JobFileError("the job file has an unknown format version")
    inputs, pythonpath = header.get("inputs"), header.get("pythonpath")
    if not isinstance(inputs, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in inputs.items()) \
            or not isinstance(pythonpath, list) or not all(isinstance(p, str) for p in pythonpath):
        raise JobFileError("the job file's header has an unexpected shape")
    try:
        context = context_from_data(header.get("context"))
    except ContextUnreadable as exc:
        raise JobFileError(f"the job file's response context cannot be read: {exc}") from None
    return {"version": VERSION, "context": context, "job": job, "inputs": inputs, "pythonpath": pythonpath}


# --- the one job file of every backend ------------------------------------------------------------------------

@dataclass
class LoadedJob:
    """A verified job file, loaded: what the local pool and the joblauncher run."""

    folder: JobFolder
    context: ResponseContext
    spec: Any            # jobs.runner.JobSpec
    process: Any         # the Process for a scheduler (dill); None on the local pool, whose workers hold it
    timeout: float


def job_payload(spec: Any, timeout: float, process: Any = None) -> bytes:
    """The job bytes of a job file: ``{"process", "spec", "timeout"}`` as one pickle stream.

    The standard pickler writes it when it can (the process and its handler are importable by
    name, as they must be on the node anyway): it takes a twentieth of dill's time on the accept
    path (0.06 against 1.3 ms for the demo's hello here).  A process it cannot pickle (a handler
    defined in a script or as a lambda) is written by dill, which carries it by value.
    ``dill.loads`` reads both, so there is one format and one reader."""
    record = {"process": process, "spec": spec, "timeout": timeout}
    try:
        return pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        if process is None:
            raise
    import dill

    return dill.dumps(record)


def write_job_file(folder: JobFolder, key: bytes, spec: Any, timeout: float, *, process: Any = None,
                   pythonpath: Sequence[str] = (), durable: bool = False, context_data: dict | None = None) -> None:
    """Sign and write the job file of ``folder``, with the digests of the inputs staged into it."""
    digests = input_digests(folder.path, spec.inputs)
    payload = job_payload(spec, timeout, process)
    atomic_write(folder.job_file, pack(key, folder.uuid, spec.context, payload, inputs=digests,
                                       pythonpath=pythonpath, context_data=context_data), durable=durable)


def read_job_record(folder: JobFolder, key: bytes) -> dict:
    """The verified record of ``folder``'s job file (``unpack``); raises JobFileError."""
    try:
        with open(folder.job_file, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise JobFileError(f"cannot read {folder.job_file}: {exc.strerror}") from None
    return unpack(key, folder.uuid, data)


def load_job(folder: JobFolder, record: dict, *, extend_path: bool = False) -> LoadedJob:
    """Load a verified record's job; raises whatever loading raises (ImportError, ...).

    With ``extend_path`` (the joblauncher) the operator's ``scheduler.pythonpath`` folders the
    record names are added to ``sys.path`` first, after the interpreter's own entries, so they
    cannot shadow the standard library, wpsgate or the joblauncher."""
    import dill

    if extend_path:
        for entry in record.get("pythonpath", ()):
            if entry not in sys.path:
                sys.path.append(entry)
    job = dill.loads(record["job"])
    return LoadedJob(folder, record["context"], job["spec"], job.get("process"), float(job.get("timeout") or 0.0))


def read_job_file(folder: JobFolder, key: bytes) -> LoadedJob:
    """Verify ``folder``'s job file and its staged inputs, and load the job (the gateway's own reader)."""
    record = read_job_record(folder, key)
    verify_inputs(folder.path, record["inputs"])
    return load_job(folder, record)


# --- staged inputs ---------------------------------------------------------------------------------------------

def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_digests(folder: str, inputs: Mapping[str, Iterable[Any]]) -> dict[str, str]:
    """SHA-256 of every input file inside the job's own ``folder``, by path relative to it.

    Staged inputs (downloads, copies) are written into the job folder before the job file is
    signed; a writer of the spool could change them afterwards.  Recording their digests in the
    signed header lets the joblauncher refuse such a job.  Costs one more read of every staged
    file, on the gateway's I/O thread (never the event loop).  Files outside the folder (the
    ``allowedinputpaths`` data, another job's outputs) are read where they are and not covered.
    """
    root = os.path.realpath(folder)
    digests: dict[str, str] = {}
    for values in inputs.values():
        for item in values:
            path = getattr(item, "_path", None)
            if not path:
                continue
            real = os.path.realpath(path)
            if os.path.commonpath([real, root]) != root or real == root:
                continue
            digests[os.path.relpath(real, root)] = _sha256(real)
    return digests


def verify_inputs(folder: str, digests: Mapping[str, str]) -> None:
    """Raise JobFileError naming the first input file of the job folder that is missing or was modified."""
    root = os.path.realpath(folder)
    for relative, expected in sorted(digests.items()):
        normal = os.path.normpath(relative)
        if os.path.isabs(normal) or normal.startswith(os.pardir):
            raise JobFileError(f"the job file names an input outside its folder: {relative}")
        path = os.path.join(root, normal)
        try:
            actual = _sha256(path)
        except OSError as exc:
            raise JobFileError(f"the staged input {relative} cannot be read: {exc.strerror}") from None
        if not hmac.compare_digest(actual, expected):
            raise JobFileError(f"the staged input {relative} was modified after the job was signed")


# --- reading the context of job files written by older versions ---------------------------------------------

class _ContextOnlyUnpickler(pickle.Unpickler):
    """Builds only the plain dataclasses a version 1 job file's outer record holds, nothing else."""

    _ALLOWED = {("wpsgate.protocol.documents", "ResponseContext"), ("wpsgate.protocol.requests", "ExecuteRequest"),
                ("wpsgate.protocol.requests", "RawInput"), ("wpsgate.protocol.requests", "OutputRequest"),
                ("wpsgate.protocol.requests", "InputReference"), ("wpsgate.protocol.requests", "BBoxValue")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a job file's record")


def read_context(key: bytes, uuid: str, data: bytes) -> ResponseContext:
    """The response context of a signed job file of this or the previous format (version 1, an outer
    pickle); for the rows older versions wrote, whose pickled context is never read.  Raises JobFileError."""
    payload = verify(key, uuid, data)
    if not payload.startswith(b"\x80"):
        return unpack(key, uuid, data)["context"]
    try:
        record = _ContextOnlyUnpickler(io.BytesIO(payload)).load()
    except Exception as exc:
        raise JobFileError(f"the job file cannot be read: {type(exc).__name__}: {exc}") from None
    context = record.get("context") if isinstance(record, dict) and record.get("version") == 1 else None
    if not isinstance(context, ResponseContext):
        raise JobFileError("the job file has no response context")
    return context
