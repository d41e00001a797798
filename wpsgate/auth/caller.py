"""The identity of one request, and what a valid user name is."""
from __future__ import annotations

import re
from dataclasses import dataclass

# A user name is what a front end or the token table says it is, and it is written into the job
# table, job files, log lines and (part of) scheduler job names and accounts: so ASCII only,
# no spaces, quotes, slashes or control characters, bounded.  E-mail-like names (alice@example.org)
# and Kerberos-like ones (alice.smith) fit.
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")


def is_user_name(text: object) -> bool:
    """Whether ``text`` is a valid user name: 1-128 of letters, digits and ``._@+-``, not starting with a sign."""
    return isinstance(text, str) and USER_NAME.fullmatch(text) is not None


@dataclass(frozen=True)
class Caller:
    user: str | None  # None: anonymous (identity off, or a public route)
    admin: bool = False
    groups: tuple[str, ...] = ()
    address: str = ""  # the client address (X-Forwarded-For only from a trusted proxy)

    def may_see(self, owner: str | None) -> bool:
        """Whether this caller may read and dismiss a job of ``owner`` (identity on)."""
        return self.admin or (self.user is not None and owner == self.user)


ANONYMOUS = Caller(None)
