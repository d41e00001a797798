"""Run PyWPS processes unchanged: their declarations become wpsgate's, their handlers run as they expect.

A PyWPS ``Process`` (an instance, a class, a factory or a list of them) in the
``processes:`` list, or given to :func:`adapt`, becomes a wpsgate ``Process``
whose declarations are converted once (``declarations``) and whose handler
(``runtime.PyWPSHandler``) calls the PyWPS handler with PyWPS's own input and
output objects, so ``.data/.file/.stream/.url``, formats, conversions and
helpers such as MetaLink behave exactly as under PyWPS.  Everything around the
handler (parsing, checks, staging, the job lifecycle, documents, the scheduler
path) is wpsgate's.

PyWPS is an optional dependency (``pip install 'wpsgate[pywps]'``); nothing
here imports it unless a PyWPS process is met.
"""
from __future__ import annotations

import sys
from typing import Any


def _pywps_process_class() -> type | None:
    """PyWPS's Process class when PyWPS has been imported (a PyWPS process cannot exist otherwise)."""
    module = sys.modules.get("pywps.app.Process")
    return getattr(module, "Process", None) if module is not None else None


def is_pywps_process(target: Any) -> bool:
    """Whether ``target`` is an instance of PyWPS's Process."""
    cls = _pywps_process_class()
    return cls is not None and isinstance(target, cls)


def is_pywps_process_class(target: Any) -> bool:
    cls = _pywps_process_class()
    return cls is not None and isinstance(target, type) and issubclass(target, cls)


def adapt(process: Any) -> Any:
    """The wpsgate Process that serves the PyWPS ``process`` (raises ValueError for what cannot be served)."""
    from .declarations import convert_process

    return convert_process(process)


__all__ = ["adapt", "is_pywps_process", "is_pywps_process_class"]
