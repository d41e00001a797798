"""The caller of a request, for every route: resolved in ``prepare`` per the route's ``ACCESS``.

``ACCESS`` on each handler class (default ``caller``: deny unless identified, so that a route
added later is closed until it says otherwise):

* ``public``: never needs an identity (health, metrics, the OGC API landing page, conformance, API).
* ``catalogue``: public when ``auth.public_capabilities``, else needs an identity (process lists).
* ``caller``: needs an identity (every route that lists, reads, runs or dismisses jobs).
* ``deferred``: the handler resolves it itself once it knows the request (``/wps``: GetCapabilities
  and DescribeProcess are catalogue, Execute needs a caller).

With identity off, nothing is resolved and the caller is anonymous (no cost on the hot paths).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Awaitable

from ..auth.access import Access
from ..auth.caller import ANONYMOUS, Caller
from ..auth.identity import PENDING, Identity


def access_of(handler: Any) -> Access | None:
    access = handler.settings.get("access")
    return access if access is not None and access.on else None


def identify(handler: Any) -> Awaitable[None] | None:
    """Set ``handler.caller``; returns an awaitable when a token must be looked up, raises Unauthenticated."""
    access = access_of(handler)
    if access is None or handler.ACCESS in ("public", "deferred"):
        return None
    identity = access.identity
    required = handler.ACCESS == "caller" or not identity.public_capabilities
    if not required:
        return None  # a public catalogue route: nobody is looked up
    found = identity.resolve_now(handler.request.headers, handler.request.remote_ip or "", required)
    if found is PENDING:
        return _identify_later(handler, identity, required)
    handler.caller = _settled(identity, found, required)
    return None


async def _identify_later(handler: Any, identity: Identity, required: bool) -> None:
    found = await identity.resolve(handler.request.headers, handler.request.remote_ip or "", required)
    handler.caller = _settled(identity, found, required)


def _settled(identity: Identity, found: Caller | None, required: bool) -> Caller:
    if found is None:
        if required:
            how = ("a bearer token (Authorization: Bearer ...)" if identity.mode == "token"
                   else f"an identity from the front end ({identity.header})")
            raise identity.refusal(f"this resource needs {how}")
        return ANONYMOUS
    return found


async def require_caller(handler: Any) -> Caller:
    """For ``deferred`` routes: the caller, identified now (raises Unauthenticated without one)."""
    access = access_of(handler)
    if access is None:
        return handler.caller
    found = await access.identity.resolve(handler.request.headers, handler.request.remote_ip or "", True)
    handler.caller = _settled(access.identity, found, True)
    return handler.caller


def with_address(handler: Any) -> Caller:
    """The caller with the client's address (X-Forwarded-For only from a trusted proxy), for the audit log."""
    access = handler.settings.get("access")
    peer = handler.request.remote_ip or ""
    address = access.identity.client_address(peer, handler.request.headers) if access is not None else peer
    return dataclasses.replace(handler.caller, address=address)


async def may_see(handler: Any, uuid: str) -> bool:
    """Whether the caller may read job ``uuid`` (always with identity off; the owner may need a store read)."""
    access = access_of(handler)
    if access is None:
        return True
    return access.may_see(handler.caller, await access.owners.owner_of(uuid))
