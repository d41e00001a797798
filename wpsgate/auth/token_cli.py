"""``wpsgate token add USER`` / ``list`` / ``revoke ID``: the bearer tokens of ``auth.mode: token``.

They work on the tokens table of the configured job store (``database.url``, or the SQLite file
in the work folder), so run them with the gateway's configuration, as the gateway's account.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from ..config import load_config
from .tokens import TokenStore, describe


def add_parser(commands: Any) -> None:
    token = commands.add_parser("token", help="bearer tokens for auth.mode: token (add, list, revoke)")
    token.add_argument("--config", "-c", metavar="FILE", help="YAML configuration file (see etc/wpsgate.yml)")
    token.add_argument("--workdir", metavar="DIR", help="folder for the job store, spool and signing key")
    actions = token.add_subparsers(dest="token_command", metavar="ACTION")
    add = actions.add_parser("add", help="make a token for USER and print it (once: it is stored hashed)")
    add.add_argument("user", metavar="USER")
    add.add_argument("--note", default="", help="a note shown by list (e.g. what the token is for)")
    listing = actions.add_parser("list", help="the tokens: id, user, created, revoked")
    listing.add_argument("--user", metavar="USER", help="only this user's tokens")
    revoke = actions.add_parser("revoke", help="revoke a token by its id (effective within "
                                               "auth.token_cache_seconds)")
    revoke.add_argument("id", metavar="ID")
    token.add_argument("--mode", help=argparse.SUPPRESS)  # _overrides reads it


def run(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    from sqlalchemy import create_engine

    config = load_config(args.config, overrides=overrides)
    if args.token_command not in ("add", "list", "revoke"):
        print("wpsgate token: say add USER, list or revoke ID", file=sys.stderr)
        return 2
    engine = create_engine(config.database_url, future=True)
    try:
        tokens = TokenStore(engine)
        if args.token_command == "add":
            try:
                token_id, token = tokens.add(args.user, args.note)
            except ValueError as exc:
                print(f"wpsgate token: {exc}", file=sys.stderr)
                return 2
            print(token)
            print(f"token {token_id} for {args.user}: shown once, keep it secret "
                  "(clients send it as 'Authorization: Bearer <token>')", file=sys.stderr)
            if config.auth.mode != "token":
                print(f"note: auth.mode is {config.auth.mode}; the gateway reads tokens only in mode token",
                      file=sys.stderr)
            return 0
        if args.token_command == "list":
            for info in tokens.list(args.user):
                print(describe(info))
            return 0
        if not tokens.revoke(args.id):
            print(f"wpsgate token: no active token has the id {args.id!r}", file=sys.stderr)
            return 1
        print(f"token {args.id} revoked", file=sys.stderr)
        return 0
    finally:
        engine.dispose()
