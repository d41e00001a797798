"""What the HTTP layer holds of identity: the configured ``Identity``, the job owners and the audit log,
and the check of the answers sent from memory at the connection (``answer_cache``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .audit import AuditLog
from .caller import Caller
from .identity import PENDING, Identity
from .owners import UNKNOWN, JobOwners

STATUS_PREFIX = "/status/"


@dataclass
class Access:
    identity: Identity
    owners: JobOwners
    audit: AuditLog

    @property
    def on(self) -> bool:
        return self.identity.on

    def may_see(self, caller: Caller, owner: Any) -> bool:
        """Whether ``caller`` may read and dismiss a job of ``owner`` (UNKNOWN: no such job)."""
        if owner is UNKNOWN:
            return False
        return not self.identity.on or caller.may_see(owner)

    def memory_gate(self) -> Callable[[str, Mapping[str, str], str], bool] | None:
        """For the connection-level answer cache: may this GET be answered from memory?

        None with identity off (no check at all).  With it on, a status document only for its
        owner or an admin, identified without a store read (a token must be in the cache of
        verified tokens) and with the owner remembered; the catalogue answers (capabilities,
        descriptions, the API's fixed JSON) only when ``auth.public_capabilities``.  Anything
        else is left to the Application, which checks it in full.
        """
        if not self.identity.on:
            return None
        identity = self.identity
        owners = self.owners

        def gate(path: str, headers: Mapping[str, str], peer: str) -> bool:
            if not path.startswith(STATUS_PREFIX):
                return identity.public_capabilities
            try:
                caller = identity.resolve_now(headers, peer, False)
            except Exception:
                return False
            if caller is None or caller is PENDING:
                return False
            owner = owners.known(path[len(STATUS_PREFIX):].split(".", 1)[0])
            return owner is not UNKNOWN and caller.may_see(owner)
        return gate
