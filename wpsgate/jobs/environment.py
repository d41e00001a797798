"""The environment a job gets: an explicit allow-list, never the gateway's own environment.

The gateway's environment holds what the gateway needs and process code must not
see: database URLs and passwords (``WPSGATE_DATABASE__URL``), tokens, the signing
key's location.  ``scheduler.environment`` names what a job gets instead: ``NAME``
passes the gateway's value when it has one, ``NAME=value`` sets a value.
"""
from __future__ import annotations

import os
from typing import Iterable, Mapping


def job_environment(entries: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a job gets, resolved against ``environ`` (the gateway's environment by default)."""
    source = os.environ if environ is None else environ
    result: dict[str, str] = {}
    for entry in entries:
        name, equals, value = entry.partition("=")
        if equals:
            result[name] = value
        elif name in source:
            result[name] = source[name]
    return result
