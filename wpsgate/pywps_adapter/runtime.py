"""Run a PyWPS handler inside a wpsgate job, with the request and response objects it expects.

Adapt, not reimplement: the handler gets PyWPS's own input and output objects
(clones of the process's declarations, as PyWPS's Service makes them), so every
conversion and convenience a PyWPS author relies on (``.data`` of a text input
as ``str``, ``.stream`` as a binary ``FileIO``, ``.file`` written into the
work folder on demand, anyURI as a parsed URL, ``output_format``, MetaLink,
``data_format`` chosen by the client) is PyWPS's code, not a lookalike.  What
is wpsgate's: the checks before the job (done on the converted declarations),
the staged references (a reference input is the file the gateway fetched;
``.url`` is the client's href and nothing is fetched again), progress,
outputs, documents and the job lifecycle.

Errors: a PyWPS ``ProcessError`` fails the job with its (PyWPS-formatted)
message; any other exception fails it with a generic message, as PyWPS does
outside debug mode, while the job's ``result.json`` keeps the traceback.
"""
from __future__ import annotations

import copy
import os
import re
from typing import Any

from ..process import ProcessError
from .declarations import _kind, convert_format

GENERIC_FAILURE = "the process failed ({}); the details are in the job's log"


class PyWPSHandler:
    """The handler of an adapted PyWPS process; it pickles with the process (the job file carries it to a node)."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def __repr__(self) -> str:
        return f"<PyWPS handler of {type(self.source).__module__}.{type(self.source).__qualname__}>"

    def __call__(self, request: Any, response: Any) -> Any:
        from pywps.app.exceptions import ProcessError as PyWPSProcessError

        process = copy.deepcopy(self.source)  # one copy per job, as PyWPS's Service does
        workdir = os.getcwd()  # the runner runs the handler in the job's work folder
        process.set_workdir(workdir)
        process.uuid = request.uuid
        for item in (*process.inputs, *process.outputs):
            item.uuid = request.uuid
        py_request = _request(process, request)
        py_response = PyWPSResponse(process, py_request, response)
        outputs_folder = getattr(request, "output_folder", "") or ""
        reserved = frozenset(re.sub(r"[^A-Za-z0-9._-]", "_", o.identifier) for o in process.outputs)
        from .settings import job_settings

        with job_settings(workdir=workdir, outputs_folder=outputs_folder,
                          output_url=getattr(request, "output_url", "") or "", language=request.language,
                          reserved_names=reserved):
            try:
                process.handler(py_request, py_response)
            except ProcessError:
                raise
            except PyWPSProcessError as exc:
                raise ProcessError(str(exc)) from exc
            except Exception as exc:  # shown generically; the traceback stays in the job's record
                raise ProcessError(GENERIC_FAILURE.format(type(exc).__name__)) from exc
            _transfer(py_response.outputs, response)
        return response


# --- the request -------------------------------------------------------------------------------------------

def _request(process: Any, request: Any) -> Any:
    from pywps.app.WPSRequest import WPSRequest

    py_request = WPSRequest()
    py_request.operation = "execute"
    py_request.version = "1.0.0"
    py_request.language = request.language
    py_request.identifier = request.identifier
    py_request.store_execute = "true" if request.store_execute else "false"
    py_request.status = "true" if request.status else "false"
    py_request.lineage = "true" if request.lineage else "false"
    py_request.outputs = {}
    py_request.raw = False
    for identifier, choice in (request.outputs or {}).items():
        entry: dict[str, Any] = {"identifier": identifier,
                                 "asReference": "true" if getattr(choice, "as_reference", False) else "false"}
        fmt = getattr(choice, "format", None)
        if fmt is not None:
            entry.update(mimetype=fmt.mime_type, encoding=fmt.encoding, schema=fmt.schema)
        if getattr(choice, "uom", None):
            entry["uom"] = choice.uom
        py_request.outputs[identifier] = entry
    py_request.inputs = _inputs(process, request.inputs)
    _choose_outputs(process, request.outputs or {})
    return py_request


def _inputs(process: Any, given: dict[str, list[Any]]) -> dict[str, list[Any]]:
    declarations = {d.identifier: d for d in process.inputs}
    inputs: dict[str, list[Any]] = {}
    for identifier, values in given.items():
        declaration = declarations[identifier]
        try:
            inputs[identifier] = [_input(declaration, value) for value in values]
        except ProcessError:
            raise
        except Exception as exc:  # PyWPS's own validation of the value (its validator for the mode)
            text = getattr(exc, "description", None) or str(exc) or type(exc).__name__
            raise ProcessError(f"input {identifier}: {text}") from exc
    for declaration in process.inputs:  # PyWPS gives a missing input its default (also a complex one)
        if declaration.identifier not in inputs and getattr(declaration, "_default", None) is not None:
            if _kind(declaration) == "complex" and not declaration.data_set:
                declaration._set_default_value()
            inputs[declaration.identifier] = [declaration.clone()]
    return inputs


def _pywps_format(declaration: Any, chosen: Any) -> Any:
    if chosen is None:
        return declaration.data_format or declaration.supported_formats[0]
    for fmt in declaration.supported_formats:
        if (fmt.mime_type or "").lower() == chosen.mime_type.lower() and \
                (fmt.encoding or "") == (chosen.encoding or "") and (fmt.schema or "") == (chosen.schema or ""):
            return fmt
    for fmt in declaration.supported_formats:
        if (fmt.mime_type or "").lower() == chosen.mime_type.lower():
            return fmt
    return declaration.data_format or declaration.supported_formats[0]


def _input(declaration: Any, value: Any) -> Any:
    kind = _kind(declaration)
    item = declaration.clone()
    if kind == "literal":
        if value.uom:
            item.uom = value.uom
        item.data = value.data
        return item
    if kind == "bbox":
        item.data = list(value.data)
        item.crs = value.crs
        item.dimensions = value.dimensions
        return item
    item.data_format = _pywps_format(declaration, value.data_format)
    item.method = "GET"
    path = getattr(value, "_path", None)
    if path is not None and value.url:
        item._iohandler = _staged_reference_handler()(path, value.url, item)
        item._check_valid()
    elif path is not None:
        item.file = path
    else:
        item.data = value.data
    return item


_STAGED_CLASS: list[type] = []


def _staged_reference_handler() -> type:
    """A PyWPS file handler for a reference input the gateway has already fetched into the job folder."""
    if not _STAGED_CLASS:
        from pywps.inout.basic import FileHandler

        class StagedReference(FileHandler):
            """``.file``/``.data``/``.stream`` read the staged copy; ``.url`` is the client's href, as in PyWPS."""

            prop = "url"

            def __init__(self, path: str, href: str, ref: Any) -> None:
                super().__init__(path, ref)
                self._href = href

            @property
            def url(self) -> str:
                return self._href

            @property
            def post_data(self) -> None:  # the body was sent when the gateway fetched the reference
                return None

        _STAGED_CLASS.append(StagedReference)
    return _STAGED_CLASS[0]


def _choose_outputs(process: Any, choices: dict[str, Any]) -> None:
    """The client's output choices on PyWPS's output objects (as PyWPS's setup_outputs_from_wps_request)."""
    for output in process.outputs:
        choice = choices.get(output.identifier)
        if choice is None:
            continue
        output.as_reference = bool(getattr(choice, "as_reference", False))
        fmt = getattr(choice, "format", None)
        if fmt is not None and _kind(output) == "complex":
            output.data_format = _pywps_format(output, fmt)


# --- the response ------------------------------------------------------------------------------------------

class PyWPSResponse:
    """What a PyWPS handler fills: ``outputs`` (PyWPS output objects) and ``update_status``.

    Progress goes to the wpsgate response, which writes the status document and tells the gateway.
    """

    def __init__(self, process: Any, wps_request: Any, target: Any) -> None:
        from pywps.response.status import WPS_STATUS

        self.process = process
        self.wps_request = wps_request
        self.uuid = target.uuid
        self.outputs = {o.identifier: o for o in process.outputs}
        self.status = WPS_STATUS.STARTED
        self.message = ""
        self.status_percentage = 0
        self.store_status_file = wps_request.store_execute == "true"
        self.doc = None
        self._target = target

    def update_status(self, message: Any = None, status_percentage: Any = None, status: Any = None,
                      clean: bool = True) -> None:
        """``update_status(message, percent)``, also with keywords, and the older ``(percent, message)`` order."""
        if isinstance(message, (int, float)) and not isinstance(message, bool) and isinstance(status_percentage, str):
            message, status_percentage = status_percentage, message
        if status is not None:
            self.status = status
        if status_percentage is None:
            status_percentage = self.status_percentage
        try:
            percent = max(0, min(100, int(float(status_percentage))))
        except (TypeError, ValueError):
            percent = self.status_percentage
        self.status_percentage = percent
        self.message = "" if message is None else str(message)
        self._target.update_status(self.message, percent)

    def _update_status(self, status: Any, message: Any, status_percentage: Any, clean: bool = True) -> None:
        self.update_status(message, status_percentage, status)


def _literal_value(value: Any) -> Any:
    return value.geturl() if hasattr(value, "geturl") else value


def _bbox_data(value: Any) -> Any:
    if isinstance(value, str):
        return [float(v) for v in value.replace(" ", ",").split(",") if v]
    return value


def _transfer(outputs: dict[str, Any], response: Any) -> None:
    """Hand what the handler set on PyWPS's outputs over to the wpsgate response."""
    for identifier, output in outputs.items():
        target = response.outputs.get(identifier)
        if target is None:
            continue
        kind = _kind(output)
        prop = getattr(getattr(output, "_iohandler", None), "prop", None)
        if kind == "complex" and prop is None or kind != "complex" and output.data in (None, []):
            continue  # left unset by the handler
        if kind == "literal":
            target.data = _literal_value(output.data)
            uom = getattr(output, "uom", None)
            if uom is not None:
                target.uom = getattr(uom, "uom", uom)
            continue
        if kind == "bbox":
            target.data = _bbox_data(output.data)
            target.crs = getattr(output, "crs", None)
            continue
        if output.data_format is not None:
            target.data_format = convert_format(output.data_format)
        if prop == "file":
            target.file = output.file
        elif prop == "url":
            target.url = output.url
        else:  # data, or a stream PyWPS reads for us
            target.data = output.data
