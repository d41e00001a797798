"""The audit log: who asked for what, from where, and what came of it (logger ``wpsgate.audit``, INFO).

One line per Execute (accepted, finished when synchronous, or refused), per dismiss, per
refusal for a per-user limit, and per end of an asynchronous job:

``execute accepted: job=3f2c... user="alice" client="10.0.0.7" process=regrid``

The same fields (``audit``, ``job_id``, ``user``, ``client``, ``process``, ``outcome``, ``reason``)
are on the record for ``logging.format: json``.  Values a client chose are quoted with escapes,
so that no line break in them can forge a line.  ``user`` is ``-`` while identity is off.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..monitoring.json_log import FIELDS_ATTRIBUTE
from ..monitoring.lifecycle_log import _quoted
from .caller import Caller
from .owners import UNKNOWN, JobOwners

LOGGER = "wpsgate.audit"
MAX_PENDING = 100_000  # clients of unfinished jobs remembered for their end line
_ENDS = {"succeeded": "succeeded", "failed": "failed"}


def _user_of(who: Any) -> str | None:
    return who.user if isinstance(who, Caller) else who


def _address_of(who: Any, client: str) -> str:
    return client or (who.address if isinstance(who, Caller) else "")


def write(action: str, outcome: str, *, user: str | None, client: str = "", process: str = "",
          job_id: str | None = None, reason: str = "", logger: logging.Logger | None = None) -> None:
    """One audit line (nothing is formatted when the audit logger is off)."""
    logger = logger or logging.getLogger(LOGGER)
    if not logger.isEnabledFor(logging.INFO):
        return
    fields: dict[str, Any] = {"audit": action, "outcome": outcome, "user": user or "-"}
    if job_id:
        fields["job_id"] = job_id
    if client:
        fields["client"] = client
    if process:
        fields["process"] = process
    if reason:
        fields["reason"] = reason
    parts = [f"job={job_id}"] if job_id else []
    parts.append(f"user={_quoted(user) if user else '-'}")
    if client:
        parts.append(f"client={_quoted(client)}")
    if process:
        parts.append(f"process={_quoted(process)}")
    if reason:
        parts.append(f"reason={_quoted(reason)}")
    logger.info("%s %s: %s", action, outcome, " ".join(parts), extra={FIELDS_ATTRIBUTE: fields})


def executed(caller: Caller, process: str, outcome: str, job_id: str | None = None, reason: str = "") -> None:
    """An Execute: ``accepted`` (asynchronous), the state of a synchronous one, or ``refused`` with the reason."""
    write("execute", outcome, user=caller.user, client=caller.address, process=process, job_id=job_id,
          reason=reason)


def refused(who: Caller | str | None, process: str, reason: str, job_id: str | None = None,
            client: str = "") -> None:
    """A refusal for a per-user limit: ``who`` is the caller, or the job's owner (``spec.owner``)."""
    write("limit", "refused", user=_user_of(who), client=_address_of(who, client), process=process,
          job_id=job_id, reason=reason)


def dismissed(caller: Caller, job_id: str, process: str, outcome: str) -> None:
    """A dismiss by ``caller`` (the owner, or an admin); ``outcome`` is the job's state after it."""
    write("dismiss", outcome, user=caller.user, client=caller.address, process=process, job_id=job_id)


class AuditLog:
    """The job engine observer writing the end of each asynchronous job, with its owner and client.

    Jobs accepted here are remembered at accept (``accepted``); for others (recovered after a
    restart) the owner is read from the job table on a worker thread before the line is written.
    """

    def __init__(self, owners: JobOwners) -> None:
        self.owners = owners
        self.clients: dict[str, str] = {}

    def accepted(self, uuid: str, caller: Caller) -> None:
        self.owners.remember(uuid, caller.user)
        if len(self.clients) < MAX_PENDING:
            self.clients[uuid] = caller.address

    def observe(self, event: Any) -> None:
        kind = getattr(event, "kind", "")
        if kind not in _ENDS:
            if kind in ("dismissed", "expired"):
                self.clients.pop(event.uuid, None)
            return
        client = self.clients.pop(event.uuid, "")
        reason = getattr(event, "reason", "") or ""
        owner = self.owners.known(event.uuid)
        if owner is not UNKNOWN:
            write("job", _ENDS[kind], user=owner, client=client, process=event.process, job_id=event.uuid,
                  reason=reason)
            return
        asyncio.ensure_future(self._write_later(event.uuid, _ENDS[kind], event.process, reason))

    async def _write_later(self, uuid: str, outcome: str, process: str, reason: str) -> None:
        try:
            owner = await self.owners.owner_of(uuid)
        except Exception:  # the store is away: the line is still written, without the owner
            owner = UNKNOWN
        write("job", outcome, user=None if owner is UNKNOWN else owner, process=process, job_id=uuid, reason=reason)
