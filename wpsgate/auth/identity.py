"""How a request's headers become a ``Caller``, per ``auth.mode``.

* ``none``: nobody is identified; every client may see and dismiss every job (the local quick start).
* ``header``: a front end (nginx ``auth_request``, Apache, Twitcher, an OIDC proxy) authenticates
  and sets ``auth.header`` to the user's name.  The header is believed only when the TCP peer is
  in ``auth.trusted_proxies``; from any other peer it is ignored, so such a client is anonymous
  whatever it sends (it gets 401 on job routes, public routes still answer).  Ignored rather than
  refused: a client cannot tell a header that was ignored from one that was never sent, and
  public routes stay usable through any path.
* ``token``: ``Authorization: Bearer <token>`` (see ``tokens``); a trusted proxy's header is
  believed too, so a centre can have its web front end and its scripts side by side.

Verified tokens are remembered for ``auth.token_cache_seconds`` (default 30): a revoked token
stops working within that time.  Lookups run on a worker thread, never on the event loop.
"""
from __future__ import annotations

import collections
import hashlib
import logging
import threading
import time
from typing import Any, Awaitable, Callable, Mapping

from ..config import AuthConfig
from ..exceptions import NoApplicableCode
from ..jobs.store import StoreUnavailable
from .caller import ANONYMOUS, Caller, is_user_name
from .networks import TrustedProxies
from .tokens import TokenStore, split_token

log = logging.getLogger("wpsgate.auth")
REALM = "wpsgate"
MAX_CACHED_TOKENS = 4096
PENDING = object()  # a token not in the cache: it needs a store read


class Unauthenticated(NoApplicableCode):
    """401: a job route without an identity, or with a wrong one; ``challenge`` is the WWW-Authenticate value."""

    def __init__(self, message: str, locator: str, challenge: str) -> None:
        super().__init__(message, locator, http_status=401)
        self.challenge = challenge


class Identity:
    """The configured identity mode: resolves callers, knows the admins and the groups."""

    def __init__(self, config: AuthConfig, tokens: TokenStore | None = None,
                 read: Callable[..., Awaitable[Any]] | None = None) -> None:
        self.mode = config.mode
        self.on = config.mode != "none"
        self.header = config.header
        self.proxies = TrustedProxies(config.trusted_proxies)
        self.admins = frozenset(config.admins)
        self.public_capabilities = config.public_capabilities
        groups: dict[str, list[str]] = {}
        for group, users in config.groups.items():
            for user in users:
                groups.setdefault(user, []).append(group)
        self.groups = {user: tuple(names) for user, names in groups.items()}
        self.tokens = tokens
        self.read = read
        self.cache_seconds = config.token_cache_seconds
        self._verified: collections.OrderedDict[str, tuple[str | None, float]] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.locator = "Authorization" if self.mode == "token" else self.header
        self.challenge = f'Bearer realm="{REALM}"' if self.mode == "token" else f'{self.header} realm="{REALM}"'

    def startup_message(self) -> str:
        if self.mode == "none":
            return "identity is off: every client may see and dismiss every job (auth.mode: none)"
        proxies = ", ".join(str(n) for n in self.proxies.networks) or "none"
        if self.mode == "header":
            return (f"identity from the {self.header} header of trusted proxies ({proxies}); "
                    f"{len(self.admins)} admins")
        return f"identity from bearer tokens (and the {self.header} header of trusted proxies: {proxies}); " \
               f"{len(self.admins)} admins"

    def caller(self, user: str, address: str = "") -> Caller:
        return Caller(user, user in self.admins, self.groups.get(user, ()), address)

    def client_address(self, peer: str, headers: Mapping[str, str]) -> str:
        return self.proxies.client_address(peer, headers.get("X-Forwarded-For"))

    def refusal(self, message: str, error: str = "") -> Unauthenticated:
        challenge = self.challenge + (f', error="{error}"' if error else "")
        return Unauthenticated(message, self.locator, challenge)

    # --- resolution -------------------------------------------------------------------------------------------

    def resolve_now(self, headers: Mapping[str, str], peer: str, required: bool) -> Any:
        """The caller, None (anonymous), or PENDING (a token to look up: ``resolve``).

        A wrong credential raises ``Unauthenticated`` when ``required``, else the caller is anonymous.
        """
        if self.mode == "none":
            return ANONYMOUS
        if self.mode == "token":
            authorization = headers.get("Authorization")
            if authorization is not None:
                return self._from_token(authorization, required)
        return self._from_header(headers, peer, required)

    def _from_header(self, headers: Mapping[str, str], peer: str, required: bool) -> Caller | None:
        value = headers.get(self.header)
        if value is None or not self.proxies or not self.proxies.trusts(peer):
            return None  # not sent, or not from a trusted proxy: ignored
        if not is_user_name(value):
            log.warning("a trusted proxy sent %s with a value that is not a user name; refused", self.header)
            if required:
                raise self.refusal(f"the {self.header} header does not hold a valid user name")
            return None
        return self.caller(value)

    def _token_text(self, authorization: str, required: bool) -> str | None:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or split_token(token) is None:
            if required:
                raise self.refusal("the Authorization header does not hold a bearer token of this gateway",
                                   "invalid_token" if scheme.lower() == "bearer" else "invalid_request")
            return None
        return token

    def _from_token(self, authorization: str, required: bool) -> Any:
        token = self._token_text(authorization, required)
        if token is None:
            return None
        key = hashlib.sha256(token.encode("ascii")).hexdigest()
        cached = self._verified.get(key)
        if cached is None or cached[1] < time.monotonic():
            return PENDING
        return self._token_caller(cached[0], required)

    def _token_caller(self, user: str | None, required: bool) -> Caller | None:
        if user is None:
            if required:
                raise self.refusal("the bearer token is not valid (unknown or revoked)", "invalid_token")
            return None
        return self.caller(user)

    async def resolve(self, headers: Mapping[str, str], peer: str, required: bool) -> Caller | None:
        """``resolve_now``, with a token not in the cache looked up on a worker thread."""
        found = self.resolve_now(headers, peer, required)
        if found is not PENDING:
            return found
        token = self._token_text(headers.get("Authorization", ""), required)
        assert token is not None and self.tokens is not None and self.read is not None
        try:
            user = await self.read(self.tokens.verify, token)
        except Exception as exc:  # the database is away: 503 on every front door, not a traceback
            log.warning("a bearer token could not be checked: %s", exc)
            raise StoreUnavailable("the token store is unavailable; try again later") from None
        self._remember(hashlib.sha256(token.encode("ascii")).hexdigest(), user)
        return self._token_caller(user, required)

    def _remember(self, key: str, user: str | None) -> None:
        with self._lock:
            self._verified.pop(key, None)
            self._verified[key] = (user, time.monotonic() + self.cache_seconds)
            while len(self._verified) > MAX_CACHED_TOKENS:
                self._verified.popitem(last=False)
