"""Who a scheduler job is for: the user in its name and comment, and the account it is charged to.

Every job runs under the gateway's one scheduler account; so that ``sacct``/``squeue`` and
``qacct``/``qstat`` tell who used what (and fair share can be applied), a job of a user carries
the user in its job name (``wps-<uuid>-<user>``, arrays ``wps-batch-<hex>-<user>``), on Slurm
in its ``--comment`` too, and, when configured (``accounting.account`` template or
``accounting.accounts`` map), an account (Slurm ``--account``, Grid Engine ``-A``).

User names come from clients (through the front end) and end up in scheduler command lines
and native specifications, which are split on white space: only ``[A-Za-z0-9_-]`` of a name
is kept (anything else becomes ``_``, at most 32 characters), so no name can add an option.
Accounts are checked when the configuration is loaded and again here.
"""
from __future__ import annotations

import re
from typing import Mapping

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_ACCOUNT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}")
USER_TOKEN_LENGTH = 32


def scheduler_user(user: str | None) -> str:
    """The user as it may appear in a scheduler's job name, comment or account ('' for no user)."""
    if not user:
        return ""
    return _UNSAFE.sub("_", user)[:USER_TOKEN_LENGTH].lstrip("-") or "_"


def job_comment(user: str, job: str) -> str:
    """The Slurm comment of a job (``job``: its uuid, or the array's name): one word, no white space."""
    return f"wpsgate:user={user}:{job}" if user else ""


class AccountMap:
    """The scheduler account of each user: the map's entry, else the template, else none."""

    def __init__(self, template: str = "", accounts: Mapping[str, str] | None = None) -> None:
        self.template = template
        self.accounts = dict(accounts or {})

    @classmethod
    def from_config(cls, accounting: object) -> "AccountMap":
        return cls(getattr(accounting, "account", ""), getattr(accounting, "accounts", {}))

    def account_for(self, user: str | None) -> str:
        """The account of ``user`` ('' when none is configured or the user is unknown)."""
        if not user:
            return ""
        account = self.accounts.get(user)
        if account is None and self.template:
            account = self.template.format(user=scheduler_user(user))
        return account if account and _ACCOUNT.fullmatch(account) else ""
