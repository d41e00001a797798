"""``wpsgate config from-pywps pywps.cfg``: the wpsgate YAML equivalent of a PyWPS configuration.

A site moving from PyWPS keeps its settings: each key PyWPS deployments use is
mapped to its wpsgate key, and every key with no equivalent is named with the
reason, so nothing is dropped silently.  The result is checked by loading it as
``wpsgate serve`` would.
"""
from __future__ import annotations

import configparser
from typing import Any

# PyWPS key -> (wpsgate section, key); values copied as they are (sizes like "3mb" are understood by both)
_DIRECT = {
    ("server", "workdir"): ("server", "workdir"),
    ("server", "maxsingleinputsize"): ("server", "maxsingleinputsize"),
    ("server", "maxrequestsize"): ("server", "maxrequestsize"),
    ("processing", "drmaa_native_specification"): ("scheduler", "native"),
    ("logging", "database"): ("database", "url"),
    ("logging", "file"): ("logging", "file"),
    ("metadata:main", "identification_title"): ("metadata", "title"),
    ("metadata:main", "identification_abstract"): ("metadata", "abstract"),
    ("metadata:main", "identification_fees"): ("metadata", "fees"),
    ("metadata:main", "identification_accessconstraints"): ("metadata", "access_constraints"),
    ("metadata:main", "provider_name"): ("metadata", "provider_name"),
    ("metadata:main", "provider_url"): ("metadata", "provider_url"),
    ("metadata:main", "contact_name"): ("metadata", "contact_name"),
    ("metadata:main", "contact_position"): ("metadata", "contact_position"),
    ("metadata:main", "contact_phone"): ("metadata", "contact_phone"),
    ("metadata:main", "contact_email"): ("metadata", "contact_email"),
    ("metadata:main", "contact_address"): ("metadata", "contact_address"),
    ("metadata:main", "contact_city"): ("metadata", "contact_city"),
    ("metadata:main", "contact_country"): ("metadata", "contact_country"),
    ("metadata:main", "contact_role"): ("metadata", "contact_role"),
}

_NO_EQUIVALENT = {
    ("server", "outputurl"): "outputs are served by the gateway at <server.url>/outputs/<job>/<file>",
    ("server", "outputpath"): "outputs live in each job's folder on the spool (processing.spool)",
    ("server", "temp_path"): "jobs run in their own work folder on the spool",
    ("server", "processes_path"): "list processes by dotted path under processes:",
    ("server", "cleantempdir"): "work folders are removed after each job unless processing.keep_workdir",
    ("server", "storagetype"): "outputs are stored in the job folder (no S3 storage)",
    ("server", "sethomedir"): "jobs get scheduler.environment; HOME is not changed",
    ("processing", "path"): "the launcher is run as `python -I -m joblauncher` with scheduler.python",
    ("logging", "db_echo"): "no equivalent",
    ("logging", "prefix"): "the job table is named jobs",
    ("logging", "format"): "wpsgate's log format is fixed",
}

_MODES = {"default": "local", "multiprocessing": "local", "scheduler": "drmaa"}


def _value(parser: configparser.RawConfigParser, section: str, key: str) -> str:
    return parser.get(section, key, raw=True).strip()


def _list(text: str, separators: str) -> list[str]:
    for separator in separators[1:]:
        text = text.replace(separator, separators[0])
    return [item.strip() for item in text.split(separators[0]) if item.strip()]


def convert(text: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The wpsgate configuration for the pywps.cfg ``text``, and notes on what has no equivalent."""
    parser = configparser.RawConfigParser(interpolation=None)
    parser.optionxform = str.lower  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    result: dict[str, dict[str, Any]] = {}
    notes: list[str] = []

    def put(section: str, key: str, value: Any) -> None:
        result.setdefault(section, {})[key] = value

    for section in parser.sections():
        for key in parser.options(section):
            value = _value(parser, section, key)
            where = f"[{section}] {key}"
            try:
                _one(section, key, value, where, put, notes)
            except ValueError:
                notes.append(f"{where} = {value}: not a number; left out")
    return result, notes


def _one(section: str, key: str, value: str, where: str, put: Any, notes: list[str]) -> None:
    """Map one pywps.cfg key (``put(section, key, value)`` for the result, ``notes`` for the rest)."""
    if (section, key) == ("server", "url"):
        if value:  # PyWPS names the endpoint, wpsgate the prefix the endpoint /wps is under
            base = value.rstrip("/")
            put("server", "url", base[:-len("/wps")] if base.endswith("/wps") else base)
    elif (section, key) in _DIRECT:
        if value:
            put(*_DIRECT[(section, key)], value)
    elif (section, key) == ("server", "allowedinputpaths"):
        if value:
            put("server", "allowedinputpaths", _list(value, ":,"))
    elif (section, key) == ("server", "language"):
        if value:
            put("metadata", "languages", _list(value, ","))
    elif (section, key) == ("metadata:main", "identification_keywords"):
        if value:
            put("metadata", "keywords", _list(value, ","))
    elif (section, key) in (("server", "parallelprocesses"), ("processing", "parallelprocesses")):
        if value and int(value) > 0:
            put("processing", "parallelprocesses", int(value))
        elif value:
            notes.append(f"{where} = {value}: wpsgate needs a worker count; one per CPU is used")
    elif (section, key) == ("server", "maxprocesses"):
        if value and int(value) > 0:
            put("processing", "maxqueue", int(value))
    elif (section, key) == ("processing", "mode"):
        mode = _MODES.get(value.lower())
        if mode is None:
            notes.append(f"{where} = {value}: no equivalent; use processing.mode local, slurm or drmaa")
        else:
            put("processing", "mode", mode)
            if value.lower() == "scheduler":
                notes.append(f"{where} = scheduler: mapped to processing.mode drmaa (Slurm sites "
                             "without slurm-drmaa use processing.mode slurm)")
    elif (section, key) == ("logging", "level"):
        if value:
            put("logging", "level", value.upper())
    elif (section, key) in _NO_EQUIVALENT:
        notes.append(f"{where} = {value}: not needed ({_NO_EQUIVALENT[(section, key)]})")
    else:
        notes.append(f"{where} = {value}: no equivalent in wpsgate")


def check(config: dict[str, dict[str, Any]]) -> None:
    """Raise ConfigError when ``config`` would not start the gateway (a bad value in the pywps.cfg)."""
    from .config import load_config

    load_config(None, overrides=config)


def run(path: str, output: str | None) -> int:
    """The ``config from-pywps`` command: YAML to ``output`` (or stdout), notes to stderr; the exit status."""
    import sys

    import yaml

    from .config import ConfigError

    try:
        with open(path, encoding="utf-8") as handle:
            config, notes = convert(handle.read())
    except (OSError, configparser.Error, UnicodeDecodeError) as exc:
        print(f"wpsgate: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    try:
        check(config)
    except ConfigError as exc:
        print(f"wpsgate: the converted configuration would not start: {exc}", file=sys.stderr)
        return 2
    text = f"# converted from {path} by wpsgate config from-pywps\n" + yaml.safe_dump(config, sort_keys=False)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    for note in notes:
        print(f"wpsgate: {note}", file=sys.stderr)
    return 0
