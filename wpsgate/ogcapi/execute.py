"""An execute request of OGC API – Processes, parsed into the typed ExecuteRequest WPS uses.

From there on both front doors share everything: the checks against the process
(``WPSService.prepare``), admission, staging, the job engine.  This module only reads the JSON:
inputs (plain values, qualified values with a format, links, bounding boxes, arrays of them),
outputs (format, transmissionMode), ``response`` (raw or document), ``subscriber`` (callbacks)
and the gateway's ``timeout`` / ``expire`` (seconds, as TIMEOUT and EXPIRE in WPS); and the
``Prefer`` header, which asks for asynchronous execution (RFC 7240).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from ..exceptions import InvalidParameterValue
from ..protocol.kvp import parse_seconds
from ..protocol.requests import BBoxValue, ExecuteRequest, InputReference, OutputRequest, RawInput
from .crs import declared_crs
from .problems import Problem, invalid

MAX_URI_LENGTH = 2048
MAX_VALUES = 10_000  # occurrences of all inputs together: a bound on work before any check of the process


@dataclass(frozen=True)
class Subscriber:
    """Where the gateway tells of a job's progress (``inProgressUri``) and end (success, failure)."""

    success: str | None = None
    in_progress: str | None = None
    failed: str | None = None

    @property
    def any(self) -> bool:
        return bool(self.success or self.in_progress or self.failed)


@dataclass(frozen=True)
class Execution:
    request: ExecuteRequest
    asynchronous: bool
    raw: bool
    subscriber: Subscriber | None = None


def prefers_async(prefer: str | None) -> bool:
    """Whether a ``Prefer`` header (RFC 7240: comma-separated preferences) asks for ``respond-async``."""
    if not prefer:
        return False
    return any(part.split(";", 1)[0].strip().lower() == "respond-async" for part in prefer.split(","))


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise invalid("the request body is not a JSON document (UTF-8)", "body") from None
    except RecursionError:
        raise invalid("the request body is nested too deeply", "body") from None


def _uri(value: Any, locator: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_URI_LENGTH:
        raise invalid(f"{locator} must be a URI of at most {MAX_URI_LENGTH} characters", locator)
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise invalid(f"{locator} must be an http or https URI", locator)
    return value


def _text(value: Any, identifier: str) -> str:
    """A JSON value as the text a literal or complex input is parsed from."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise invalid(f"input {identifier} is not a finite number", identifier)
        return repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _string(value: Any, name: str, identifier: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_URI_LENGTH:
        raise invalid(f"input {identifier}: {name} must be a string", identifier)
    return value


def _bbox(value: dict, identifier: str, declaration: Any) -> RawInput:
    coordinates = value.get("bbox")
    if not isinstance(coordinates, list) or len(coordinates) not in (4, 6) or \
            not all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in coordinates):
        raise invalid(f"input {identifier}: bbox must be 4 or 6 finite numbers", identifier)
    crs = value.get("crs")
    if crs is not None:
        crs = _string(crs, "crs", identifier)
        declared = getattr(declaration, "crss", None)
        if declared:  # either spelling of a declared CRS; anything else is refused by the shared checks
            crs = declared_crs(crs, declared) or crs
    half = len(coordinates) // 2
    box = BBoxValue(tuple(float(c) for c in coordinates[:half]), tuple(float(c) for c in coordinates[half:]),
                    crs, half)
    return RawInput(identifier, kind="bbox", bbox=box)


def _one(identifier: str, value: Any, declaration: Any) -> RawInput:
    kind = getattr(declaration, "kind", None)
    if isinstance(value, dict):
        if "href" in value and "value" not in value:
            href = value["href"]
            if not isinstance(href, str) or not href or len(href) > MAX_URI_LENGTH:
                raise invalid(f"input {identifier}: href must be a URI", identifier)
            return RawInput(identifier, kind="complex" if kind != "literal" else "literal",
                            reference=InputReference(href), mime_type=_string(value.get("type"), "type", identifier))
        if "bbox" in value:
            return _bbox(value, identifier, declaration)
        if "value" in value:
            inner = value["value"]
            if isinstance(inner, dict) and "bbox" in inner:
                return _bbox(inner, identifier, declaration)
            schema = value.get("schema")
            return RawInput(identifier, kind=kind, text=_text(inner, identifier),
                            mime_type=_string(value.get("mediaType"), "mediaType", identifier),
                            encoding=_string(value.get("encoding"), "encoding", identifier),
                            schema=schema if isinstance(schema, str) else None,
                            uom=_string(value.get("uom"), "uom", identifier))
        if kind == "literal":
            raise invalid(f"input {identifier} is a literal: give a value, not an object", identifier)
    if value is None:
        raise invalid(f"input {identifier} has no value (null)", identifier)
    return RawInput(identifier, kind=kind, text=_text(value, identifier))


def _inputs(inputs: Any, process: Any) -> tuple[RawInput, ...]:
    if inputs is None:
        return ()
    if not isinstance(inputs, dict):
        raise invalid("inputs must be an object of input id to value", "inputs")
    parsed: list[RawInput] = []
    for identifier, value in inputs.items():
        declaration = process.input_map.get(identifier)
        if declaration is None:
            raise Problem("http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-input", 400,
                          f"process {process.identifier} has no input {identifier!r}", identifier)
        values = value if isinstance(value, list) and not (
            declaration.kind == "bbox" and value and not isinstance(value[0], dict)) else [value]
        if len(parsed) + len(values) > MAX_VALUES:
            raise invalid(f"more than {MAX_VALUES} input values", "inputs")
        parsed.extend(_one(identifier, item, declaration) for item in values)
    return tuple(parsed)


def _outputs(outputs: Any, process: Any) -> tuple[OutputRequest, ...]:
    if outputs is None:
        return ()
    if not isinstance(outputs, dict):
        raise invalid("outputs must be an object of output id to its format and transmissionMode", "outputs")
    chosen = []
    for identifier, wanted in outputs.items():
        if identifier not in process.output_map:
            raise Problem("http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-output", 400,
                          f"process {process.identifier} has no output {identifier!r}", identifier)
        wanted = wanted if wanted is not None else {}
        if not isinstance(wanted, dict):
            raise invalid(f"output {identifier} must be an object", identifier)
        mode = wanted.get("transmissionMode")
        if mode not in (None, "value", "reference"):
            raise invalid(f"output {identifier}: transmissionMode must be value or reference", identifier)
        fmt = wanted.get("format") or {}
        if not isinstance(fmt, dict):
            raise invalid(f"output {identifier}: format must be an object", identifier)
        schema = fmt.get("schema")
        chosen.append(OutputRequest(identifier, None if mode is None else mode == "reference",
                                    mime_type=_string(fmt.get("mediaType"), "mediaType", identifier),
                                    encoding=_string(fmt.get("encoding"), "encoding", identifier),
                                    schema=schema if isinstance(schema, str) else None))
    return tuple(chosen)


def _subscriber(value: Any) -> Subscriber | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("subscriber must be an object with successUri, inProgressUri, failedUri", "subscriber")
    uris = {}
    for name, aliases in (("success", ("successUri", "successUrl")), ("in_progress", ("inProgressUri",)),
                          ("failed", ("failedUri",))):
        for alias in aliases:
            if value.get(alias) is not None:
                uris[name] = _uri(value[alias], f"subscriber.{alias}")
                break
    return Subscriber(**uris)


def _seconds(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise invalid(f"{name} must be a number of seconds", name)
    try:
        return parse_seconds(str(value), name)
    except InvalidParameterValue as exc:
        raise invalid(exc.message, name) from None


def parse_execute(body: bytes, process: Any, prefer: str | None) -> Execution:
    """The typed request for ``process``; raises Problem for what is not an execute request."""
    document = load_json(body)
    if not isinstance(document, dict):
        raise invalid("the execute request must be a JSON object", "body")
    response = document.get("response", "raw")
    if response not in ("raw", "document"):
        raise invalid("response must be raw or document", "response")
    asynchronous = prefers_async(prefer) and process.store_supported
    outputs = _outputs(document.get("outputs"), process)
    raw_output = None
    if response == "raw":
        wanted = outputs or tuple(OutputRequest(o.identifier) for o in process.outputs)
        if len(wanted) == 1 and not wanted[0].as_reference and not asynchronous:
            raw_output, outputs = wanted[0], ()  # the bare value, as a WPS RawDataOutput
    request = ExecuteRequest(
        identifier=process.identifier, inputs=_inputs(document.get("inputs"), process), outputs=outputs,
        raw_output=raw_output, store_execute_response=asynchronous,
        status=asynchronous and process.status_supported,
        timeout=_seconds(document.get("timeout"), "timeout"), expire=_seconds(document.get("expire"), "expire"))
    return Execution(request, asynchronous, response == "raw", _subscriber(document.get("subscriber")))
