"""Build the gateway's ``Access`` (identity, owners, audit log) from ``auth`` and the job engine."""
from __future__ import annotations

import logging
from typing import Any

from ..config import AuthConfig
from .access import Access
from .audit import AuditLog
from .identity import Identity
from .owners import JobOwners
from .tokens import TokenStore

log = logging.getLogger("wpsgate.auth")


def make_access(config: AuthConfig, store: Any, engine: Any) -> Access:
    """The tokens table is created (in the job store's database) only in token mode; the start is logged."""
    tokens = TokenStore(store.engine) if config.mode == "token" else None
    identity = Identity(config, tokens, engine.read)
    (log.warning if config.mode == "none" else log.info)("%s", identity.startup_message())
    owners = JobOwners(engine.read, store.get)
    return Access(identity, owners, AuditLog(owners))
