"""The response context as JSON: what the job table and the job file keep of a request, with nothing to execute.

A ``ResponseContext`` (and the ``ExecuteRequest`` it holds for the lineage echo)
used to be pickled into the job table, so anyone able to write a row could run
code as the gateway's account when the row was read back.  JSON only ever builds
the dataclasses listed in ``_CLASSES`` from plain values, each field checked
against its type hint; bytes travel base64-encoded.  Anything else (bad JSON, a
wrong shape, an unknown field, a pickle from an older version) is
``ContextUnreadable``, never an object.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import json
import types
import typing
from typing import Any, Union

from .documents import ResponseContext
from .requests import BBoxValue, ExecuteRequest, InputReference, OutputRequest, RawInput

FORMAT_VERSION = 1
_CLASSES = (ResponseContext, ExecuteRequest, RawInput, OutputRequest, InputReference, BBoxValue)
_PICKLE_MARK = b"\x80"  # every pickle of protocol 2 and later starts with the PROTO opcode


class ContextUnreadable(ValueError):
    """Stored bytes that are not a response context written by this version; the message says why."""


def context_to_data(context: ResponseContext) -> dict:
    """The context as plain JSON values (for documents that embed it, such as the job file's header)."""
    return {"version": FORMAT_VERSION, "context": _encode(context)}


def context_from_data(document: Any) -> ResponseContext:
    """The context ``context_to_data`` described; raises ContextUnreadable."""
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION or "context" not in document:
        raise ContextUnreadable(f"it is not a version {FORMAT_VERSION} context document")
    try:
        return _decode(ResponseContext, document["context"], "context")
    except RecursionError:
        raise ContextUnreadable("it is nested too deeply") from None


def context_to_json(context: ResponseContext) -> str:
    """The context as a JSON document (ASCII, so it is the same text in any column encoding)."""
    return json.dumps(context_to_data(context), separators=(",", ":"))


def context_from_json(text: str | bytes) -> ResponseContext:
    """The context a ``context_to_json`` document describes; raises ContextUnreadable."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        raw = bytes(text)
        if raw.startswith(_PICKLE_MARK):
            raise ContextUnreadable("it is a pickle written by an older wpsgate, which is never unpickled")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContextUnreadable(f"it is not UTF-8 text ({exc.reason})") from None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ContextUnreadable(f"it is not JSON ({exc})") from None
    return context_from_data(document)


def encode_column(context: ResponseContext) -> bytes:
    """The job table's ``context`` column value (LargeBinary holding UTF-8 JSON: no schema change)."""
    return context_to_json(context).encode("utf-8")


def column_from_data(data: dict) -> bytes:
    """``encode_column`` of the context ``data`` already describes (``context_to_data``): an accept
    encodes its context once, for the job file's header and for the row."""
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


# --- the hint-driven codec ---------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _encode(value: Any) -> Any:
    if isinstance(value, _CLASSES):
        return {name: _encode(getattr(value, name)) for name in _fields(type(value))}
    if isinstance(value, (bytes, bytearray)):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (tuple, list)):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _encode(item) for key, item in value.items()}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"a response context cannot hold a {type(value).__name__}")


def _fail(where: str, expected: str, value: Any) -> ContextUnreadable:
    return ContextUnreadable(f"{where}: expected {expected}, got {type(value).__name__}")


def _decode(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        real = [option for option in options if option is not type(None)]
        if len(real) != 1:  # pragma: no cover - no such field today
            raise ContextUnreadable(f"{where}: unsupported type {hint}")
        return _decode(real[0], value, where)
    if hint in _CLASSES:
        if not isinstance(value, dict):
            raise _fail(where, f"an object ({hint.__name__})", value)
        fields = _fields(hint)
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise ContextUnreadable(f"{where}: unknown field {unknown[0]!r}")
        arguments = {name: _decode(fields[name], item, f"{where}.{name}") for name, item in value.items()}
        try:
            return hint(**arguments)
        except TypeError as exc:  # a required field is missing
            raise ContextUnreadable(f"{where}: {exc}") from None
    if origin is tuple:
        if not isinstance(value, list):
            raise _fail(where, "a list", value)
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], item, f"{where}[{i}]") for i, item in enumerate(value))
        if len(value) != len(args):
            raise ContextUnreadable(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_decode(arg, item, f"{where}[{i}]") for i, (arg, item) in enumerate(zip(args, value)))
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise _fail(where, "an object", value)
        return value  # plain JSON values (output titles, the request's unused extras)
    if hint is bytes:
        if not isinstance(value, dict) or set(value) != {"base64"} or not isinstance(value["base64"], str):
            raise _fail(where, "base64 bytes", value)
        try:
            return base64.b64decode(value["base64"], validate=True)
        except (binascii.Error, ValueError):
            raise ContextUnreadable(f"{where}: invalid base64") from None
    if hint is bool:
        if not isinstance(value, bool):
            raise _fail(where, "true or false", value)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(where, "an integer", value)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(where, "a number", value)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _fail(where, "text", value)
        return value
    raise ContextUnreadable(f"{where}: unsupported type {hint}")  # pragma: no cover - a new field kind
