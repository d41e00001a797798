"""Signed job files: a job is code, so only the gateway's key makes one runnable.

A job file is ``MAGIC <hex HMAC-SHA256>\\n`` followed by the serialised job.  The
HMAC covers the job's uuid as well as the payload, so a valid file copied into
another job's folder does not verify.  The key lives in a file readable only by
the service account, created on first start.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets

MAGIC = b"WPSGATE-JOB-1"


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


def pack(key: bytes, uuid: str, context: object, job: bytes) -> bytes:
    """A signed job file: the response context (plain pickle of wpsgate types) and the job bytes.

    The context sits outside the job so that a node which cannot load the job (a
    missing module) can still write a truthful ProcessFailed document.
    """
    import pickle

    return sign(key, uuid, pickle.dumps({"version": 1, "context": context, "job": job},
                                        protocol=pickle.HIGHEST_PROTOCOL))


def unpack(key: bytes, uuid: str, data: bytes) -> dict:
    """Verify, then read the outer record (``context`` and ``job`` bytes); raises JobFileError."""
    import pickle

    payload = verify(key, uuid, data)
    try:
        record = pickle.loads(payload)
    except Exception as exc:  # verified but unreadable: written by another version
        raise JobFileError(f"the job file cannot be read: {type(exc).__name__}: {exc}") from None
    if not isinstance(record, dict) or record.get("version") != 1:
        raise JobFileError("the job file has an unknown format version")
    return record
