"""What a restart may believe of an unfinished job's row: its request context, or why the job must fail.

The row's ``context`` column holds the response context as JSON (protocol.context_codec).
Rows written by wpsgate before that held a pickle, which is never unpickled: such a
job's context is read again from its signed job file instead (verified with the
gateway's key; a version 1 file's record through an unpickler that builds only the
context's plain dataclasses), so jobs that were running on a scheduler during an
upgrade are still followed to their end.  Any other row whose context cannot be read
(bad JSON, a wrong shape, a crafted pickle without a valid job file) fails its job
with the reason; the job file, when it verifies, still gives the failure document.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from ..protocol.context_codec import ContextUnreadable, context_from_json
from ..protocol.documents import ResponseContext
from .folder import JobFolder, is_job_id
from .jobfile import JobFileError, read_context
from .store import ActiveRow

log = logging.getLogger("wpsgate.recovery")


@dataclass
class Recovered:
    context: ResponseContext | None  # for the job's documents; None when neither the row nor the job file has one
    problem: str = ""                # why the job must fail ('' when it may go on)
    migrated: bool = False           # an older version's row: the context was read from the job file


def recover_context(row: ActiveRow, spool: str, key: bytes) -> Recovered:
    """The context of ``row``'s job and whether the job may go on (synchronous: for the I/O thread)."""
    problem, legacy = row.problem, False
    if row.context is None:
        problem = problem or "the job's record has no request context"
    else:
        try:
            return Recovered(context_from_json(row.context), problem)
        except ContextUnreadable as exc:
            legacy = row.context.startswith(b"\x80")
            if not legacy:
                problem = problem or f"the job's stored request context cannot be read: {exc}"
            reason = str(exc)
    if not is_job_id(row.uuid):
        return Recovered(None, problem)
    try:
        with open(JobFolder(spool, row.uuid).job_file, "rb") as handle:
            context = read_context(key, row.uuid, handle.read())
    except (OSError, JobFileError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc)
        if legacy:
            problem = problem or (f"the job's stored request context cannot be read: {reason}; "
                                  f"nor can its job file: {detail}")
        return Recovered(None, problem)
    if legacy and not problem:
        log.info("job %s: its row held an older version's pickled context; read it from the job file", row.uuid)
    return Recovered(context, problem, migrated=legacy and not problem)
