"""Load the configured processes from dotted import paths."""
from __future__ import annotations

import importlib
import sys
from typing import Iterable

from .config import ConfigError
from .demo import DEMO_PROCESSES
from .process import Process
from .pywps_adapter import adapt as adapt_pywps, is_pywps_process


def _resolve(path: str) -> object:
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ConfigError(f"processes: {path!r} is not a dotted path like package.module:ProcessClass")
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"processes: cannot import {module_name} for {path}: {exc}; install its package into "
                          f"this virtualenv ({sys.prefix}), or add the folder that holds it to PYTHONPATH (and, for "
                          "jobs on a scheduler, to scheduler.pythonpath)") from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"processes: {module_name} has no attribute {attribute}") from None
    return target


def _instances(target: object, path: str) -> list[Process]:
    if isinstance(target, Process):
        return [target]
    if is_pywps_process(target):  # a PyWPS process, served unchanged through the adapter
        try:
            return [adapt_pywps(target)]
        except ValueError as exc:
            raise ConfigError(f"processes: {path}: {exc}") from None
    if isinstance(target, (list, tuple)):
        return [p for item in target for p in _instances(item, path)]
    if callable(target):
        try:
            made = target()
        except Exception as exc:  # a broken process must name itself at start, not later
            raise ConfigError(f"processes: {path} failed to build: {type(exc).__name__}: {exc}") from None
        return _instances(made, path)
    raise ConfigError(f"processes: {path} is not a Process, a Process class, a factory or a list of them "
                      "(wpsgate's or PyWPS's)")


def processes_from(target: object, path: str = "processes") -> list[Process]:
    """wpsgate Processes for ``target``: a Process (wpsgate's or PyWPS's), a class, a factory or a list of them."""
    return _instances(target, path)


def load_processes(paths: Iterable[str] | None) -> dict[str, Process]:
    """Processes by identifier, in configuration order (the demo processes when ``paths`` is empty)."""
    processes: dict[str, Process] = {}
    for path in (tuple(paths or ()) or DEMO_PROCESSES):
        for process in _instances(_resolve(path), path):
            if process.identifier in processes:
                raise ConfigError(f"processes: identifier {process.identifier!r} is defined twice")
            processes[process.identifier] = process
    return processes
