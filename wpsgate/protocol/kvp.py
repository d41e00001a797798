"""Parse WPS 1.0.0 KVP (HTTP GET) requests into typed requests.

The query string is split by hand rather than with a generic decoder: the
standard's ``DataInputs``, ``ResponseDocument`` and ``RawDataOutput`` values are
structured (``id=value@attr=v;id2=...``) and %-decoding must happen per field,
after splitting, so that values may contain ``=``, ``;`` and ``@``.
"""
from __future__ import annotations

import re
from typing import Callable
from urllib.parse import unquote_to_bytes

from ..exceptions import (InvalidParameterValue, MissingParameterValue, OperationNotSupported,
                          VersionNegotiationFailed)
from .requests import (WPS_VERSION, DescribeProcessRequest, ExecuteRequest, GetCapabilitiesRequest,
                       InputReference, OutputRequest, RawInput)

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
OPERATIONS = {"getcapabilities": "GetCapabilities", "describeprocess": "DescribeProcess", "execute": "Execute"}
_STRUCTURED = {"datainputs", "responsedocument", "rawdataoutput"}
_INPUT_ATTRIBUTES = {"uom": "uom", "mimetype": "mime_type", "encoding": "encoding", "schema": "schema",
                     "datatype": "datatype", "href": "href", "xlink:href": "href", "method": "method"}


def decode_field(raw: str, locator: str, plus_is_space: bool = True) -> str:
    """%-decode one field as UTF-8 ('+' is a space at the query-string level, as in every form-encoded query)."""
    if _BAD_ESCAPE.search(raw):
        raise InvalidParameterValue(f"malformed %-escape in {locator}", locator)
    try:
        return unquote_to_bytes(raw.replace("+", " ") if plus_is_space else raw).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameterValue(f"{locator} is not valid UTF-8 after %-decoding", locator) from None


def split_query(query: str) -> dict[str, str]:
    """Split a raw query string into lower-cased keys and values.

    Structured values stay %-encoded (they are decoded per field later); the others
    are decoded now.  A key given twice is an error: the standard defines no meaning
    for it and guessing would hide client bugs.
    """
    params: dict[str, str] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        key = decode_field(raw_key, "request").strip().lower()
        if not key:
            continue
        if key in params:
            raise InvalidParameterValue(f"parameter {key} is given more than once", key)
        params[key] = raw_value if key in _STRUCTURED else decode_field(raw_value, key)
    return params


def parse_bool(value: str | None, locator: str, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise InvalidParameterValue(f"{locator} must be true or false, not {value!r}", locator)


def parse_seconds(value: str | None, locator: str) -> float | None:
    """A TIMEOUT/EXPIRE value: a positive, finite number of seconds."""
    if value is None or value.strip() == "":
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise InvalidParameterValue(f"{locator} must be a number of seconds, not {value!r}", locator) from None
    if not (0 < seconds < float("inf")):
        raise InvalidParameterValue(f"{locator} must be a positive number of seconds", locator)
    return seconds


def check_service(value: str | None) -> None:
    if value is None or value.strip() == "":
        raise MissingParameterValue("parameter service is required", "service")
    if value.strip().upper() != "WPS":
        raise InvalidParameterValue(f"service must be WPS, not {value!r}", "service")


def check_version(value: str | None) -> str:
    if value is None or value.strip() == "":
        raise MissingParameterValue("parameter version is required", "version")
    if value.strip() != WPS_VERSION:
        raise InvalidParameterValue(f"version {value!r} is not supported; this server speaks {WPS_VERSION}",
                                    "version")
    return WPS_VERSION


def negotiate_versions(accept_versions: tuple[str, ...]) -> None:
    """OWS 1.1 7.3.2: fail unless one of the client's versions is ours."""
    if accept_versions and WPS_VERSION not in accept_versions:
        raise VersionNegotiationFailed(
            f"none of the versions {', '.join(accept_versions)} is supported; this server speaks {WPS_VERSION}",
            "AcceptVersions")


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _split_structured(raw: str, locator: str) -> list[tuple[str, str, dict[str, str]]]:
    """Split ``id=value@attr=v;...`` into (identifier, value, attributes), decoding per field.

    Clients that %-encode the whole value again for the query string (``name%3DAda``,
    as generic URL libraries do) send no literal ``=``: such a value is decoded once
    for the query string, then per field (where ``+`` is then a literal plus).
    """
    if not any(separator in raw for separator in "=;@"):
        whole = decode_field(raw, locator)
        if any(separator in whole for separator in "=;@"):
            return _split(whole, locator, lambda text, where: decode_field(text, where, plus_is_space=False))
    return _split(raw, locator, decode_field)


def _split(raw: str, locator: str, decode: Callable[[str, str], str]) -> list[tuple[str, str, dict[str, str]]]:
    entries = []
    for chunk in raw.split(";"):
        if not chunk.strip():
            continue
        head, *attribute_parts = chunk.split("@")
        raw_id, has_value, raw_value = head.partition("=")
        identifier = decode(raw_id, locator).strip()
        if not identifier:
            raise InvalidParameterValue(f"an entry of {locator} has no identifier", locator)
        attributes: dict[str, str] = {}
        for part in attribute_parts:
            raw_name, eq, raw_attr = part.partition("=")
            name = decode(raw_name, locator).strip()
            if not eq or not name:
                raise InvalidParameterValue(f"attribute {name or part!r} of {identifier} has no value", identifier)
            attributes[name.lower()] = decode(raw_attr, identifier)
        entries.append((identifier, decode(raw_value, identifier) if has_value else "", attributes))
    return entries


def parse_data_inputs(raw: str) -> tuple[RawInput, ...]:
    inputs = []
    for identifier, value, attributes in _split_structured(raw, "DataInputs"):
        fields: dict[str, str] = {}
        for name, attr_value in attributes.items():
            target = _INPUT_ATTRIBUTES.get(name)
            if target is None:
                raise InvalidParameterValue(f"unknown attribute {name!r} on input {identifier}", identifier)
            fields[target] = attr_value
        href = fields.pop("href", None)
        method = fields.pop("method", "GET").upper()
        reference = None
        if href is not None:
            if method not in ("GET", "POST"):
                raise InvalidParameterValue(f"method of input {identifier} must be GET or POST", identifier)
            reference = InputReference(href=href, method=method)
        inputs.append(RawInput(identifier=identifier, text=None if reference else value, reference=reference,
                               **fields))
    return tuple(inputs)


def parse_output_requests(raw: str, locator: str) -> tuple[OutputRequest, ...]:
    outputs = []
    for identifier, value, attributes in _split_structured(raw, locator):
        if value:
            raise InvalidParameterValue(f"output {identifier} in {locator} takes no value", identifier)
        known = {"asreference", "mimetype", "encoding", "schema", "uom"}
        unknown = set(attributes) - known
        if unknown:
            raise InvalidParameterValue(f"unknown attribute {sorted(unknown)[0]!r} on output {identifier}", identifier)
        as_reference = None
        if "asreference" in attributes:
            as_reference = parse_bool(attributes["asreference"], identifier)
        outputs.append(OutputRequest(identifier=identifier, as_reference=as_reference,
                                     mime_type=attributes.get("mimetype"), encoding=attributes.get("encoding"),
                                     schema=attributes.get("schema"), uom=attributes.get("uom")))
    return tuple(outputs)


def parse_kvp(query: str) -> GetCapabilitiesRequest | DescribeProcessRequest | ExecuteRequest:
    """Parse a raw query string; raises an OWSException for anything a client got wrong."""
    params = split_query(query)
    check_service(params.get("service"))
    operation = params.get("request")
    if operation is None or operation.strip() == "":
        raise MissingParameterValue("parameter request is required", "request")
    name = OPERATIONS.get(operation.strip().lower())
    if name is None:
        raise OperationNotSupported(f"operation {operation!r} is not supported", operation)
    language = params.get("language") or None
    if name == "GetCapabilities":
        accept = _split_list(params.get("acceptversions", ""))
        negotiate_versions(accept)
        return GetCapabilitiesRequest(accept_versions=accept, language=language)
    version = check_version(params.get("version"))
    identifiers = _split_list(params.get("identifier", ""))
    if not identifiers:
        raise MissingParameterValue("parameter identifier is required", "identifier")
    if name == "DescribeProcess":
        return DescribeProcessRequest(identifiers=identifiers, version=version, language=language)
    if len(identifiers) != 1:
        raise InvalidParameterValue("Execute takes exactly one identifier", "identifier")
    response_document = params.get("responsedocument")
    raw_output = params.get("rawdataoutput")
    if response_document is not None and raw_output is not None:
        raise InvalidParameterValue("ResponseDocument and RawDataOutput exclude each other", "RawDataOutput")
    raw_outputs = parse_output_requests(raw_output, "RawDataOutput") if raw_output is not None else ()
    if raw_output is not None and len(raw_outputs) != 1:
        raise InvalidParameterValue("RawDataOutput names exactly one output", "RawDataOutput")
    return ExecuteRequest(
        identifier=identifiers[0], version=version, language=language,
        inputs=parse_data_inputs(params["datainputs"]) if params.get("datainputs") else (),
        outputs=parse_output_requests(response_document, "ResponseDocument") if response_document else (),
        raw_output=raw_outputs[0] if raw_outputs else None,
        store_execute_response=parse_bool(params.get("storeexecuteresponse"), "storeExecuteResponse"),
        status=parse_bool(params.get("status"), "status"),
        lineage=parse_bool(params.get("lineage"), "lineage"),
        timeout=parse_seconds(params.get("timeout"), "TIMEOUT"),
        expire=parse_seconds(params.get("expire"), "EXPIRE"),
    )
