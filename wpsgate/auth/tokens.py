"""Bearer tokens: made here, shown once, stored as a SHA-256 hash in the ``tokens`` table of the job store.

A token is ``wpsg_<id>_<secret>``: ``id`` (16 hex digits) names its row, so that ``token list`` and
``token revoke`` can name a token without knowing it, and verification reads one row by its key;
``secret`` is 32 random bytes (URL-safe base64).  Only SHA-256(secret) is stored: a high-entropy
secret needs no slow hash, and a copy of the database gives no usable token.  The stored and the
presented hash are compared with ``hmac.compare_digest`` (constant time).

Every method is synchronous: run it on a worker thread (the gateway) or from the command line.
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, String, Table, select, update
from sqlalchemy.engine import Engine

from .caller import is_user_name

PREFIX = "wpsg_"
TOKEN = re.compile(r"wpsg_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
MAX_TOKEN_TEXT = 100  # longer Authorization values are refused before any work

metadata = MetaData()
tokens = Table(
    "tokens", metadata,
    Column("id", String(16), primary_key=True),
    Column("user", String(128), nullable=False, index=True),
    Column("hash", String(64), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("revoked", DateTime(timezone=True)),
    Column("note", String(200), nullable=False, default=""),
)


@dataclass(frozen=True)
class TokenInfo:
    id: str
    user: str
    created: _dt.datetime
    revoked: _dt.datetime | None
    note: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def split_token(text: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token, else None (nothing is looked up for it)."""
    if len(text) > MAX_TOKEN_TEXT:
        return None
    match = TOKEN.fullmatch(text)
    return (match.group(1), match.group(2)) if match else None


def _utc(value: _dt.datetime | None) -> _dt.datetime | None:
    return value.replace(tzinfo=_dt.timezone.utc) if value is not None and value.tzinfo is None else value


class TokenStore:
    """The ``tokens`` table, in the job store's database (created there like the jobs table)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def add(self, user: str, note: str = "") -> tuple[str, str]:
        """A new token for ``user``: returns (id, token); the token is not kept anywhere."""
        if not is_user_name(user):
            raise ValueError(f"{user!r} is not a valid user name (1-128 of letters, digits and ._@+-, starting "
                             "with a letter or digit)")
        token_id = secrets.token_hex(8)
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
        with self.engine.begin() as connection:
            connection.execute(tokens.insert().values(
                id=token_id, user=user, hash=_hash(secret), created=_dt.datetime.now(_dt.timezone.utc),
                note=note[:200]))
        return token_id, f"{PREFIX}{token_id}_{secret}"

    def list(self, user: str | None = None) -> list[TokenInfo]:
        statement = select(tokens.c.id, tokens.c.user, tokens.c.created, tokens.c.revoked, tokens.c.note)
        if user is not None:
            statement = statement.where(tokens.c.user == user)
        with self.engine.connect() as connection:
            rows = connection.execute(statement.order_by(tokens.c.created)).all()
        return [TokenInfo(row.id, row.user, _utc(row.created), _utc(row.revoked), row.note) for row in rows]

    def revoke(self, token_id: str) -> bool:
        """Revoke a token by id; False when there is no such (unrevoked) token."""
        with self.engine.begin() as connection:
            result = connection.execute(update(tokens).where(tokens.c.id == token_id, tokens.c.revoked.is_(None))
                                        .values(revoked=_dt.datetime.now(_dt.timezone.utc)))
        return bool(result.rowcount)

    def verify(self, token: str) -> str | None:
        """The user of a valid, unrevoked token, else None; one read by primary key."""
        parts = split_token(token)
        if parts is None:
            return None
        token_id, secret = parts
        with self.engine.connect() as connection:
            row = connection.execute(select(tokens.c.user, tokens.c.hash)
                                     .where(tokens.c.id == token_id, tokens.c.revoked.is_(None))).first()
        presented = _hash(secret)
        stored = row.hash if row is not None else "0" * 64  # compared either way: the same work for both answers
        if not hmac.compare_digest(stored.encode("ascii"), presented.encode("ascii")) or row is None:
            return None
        return row.user if is_user_name(row.user) else None


def describe(info: Any) -> str:
    """One line of ``wpsgate token list``."""
    state = f"revoked {info.revoked:%Y-%m-%d %H:%M}" if info.revoked else "active"
    note = f"  {info.note}" if info.note else ""
    return f"{info.id}  {info.user}  created {info.created:%Y-%m-%d %H:%M}  {state}{note}"
