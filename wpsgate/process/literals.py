"""Literal data types of WPS 1.0.0 and the checks a literal input value must pass.

A literal arrives as text (KVP or XML) and leaves as text (documents); in between
the handler sees a Python value.  This module is the one place that converts in
both directions and checks allowed values and ranges, so the KVP and XML paths
behave identically.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable
from urllib.parse import urlparse

XSD = "http://www.w3.org/TR/xmlschema-2/#"
# The xsd lexical spaces (ASCII digits only, no digit separators, no ISO 8601 basic or week forms).
_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(INF|inf|Infinity|infinity)|NaN|nan")
_DATE = re.compile(r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}")
_TIME = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
_DATETIME = re.compile(r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T" + _TIME)


class LiteralError(ValueError):
    """A literal value that does not convert or is not allowed."""


def _to_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise LiteralError(f"{text!r} is not a boolean (true or false)")


def _to_int(text: str) -> int:
    stripped = text.strip()
    if len(stripped) > 40:
        raise LiteralError("integer has too many digits")
    if not _INTEGER.fullmatch(stripped):
        raise LiteralError(f"{text!r} is not an integer")
    try:
        return int(stripped)
    except ValueError:
        raise LiteralError(f"{text!r} is not an integer") from None


def _to_float(text: str) -> float:
    stripped = text.strip()
    if len(stripped) > 400:
        raise LiteralError("number is too long")
    if not _FLOAT.fullmatch(stripped):
        raise LiteralError(f"{text!r} is not a number")
    try:
        value = float(stripped)
    except ValueError:
        raise LiteralError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise LiteralError(f"{text!r} is not a finite number")
    return value


def _to_angle(text: str) -> float:
    """An angle in degrees, brought into [0, 360) as PyWPS's ``angle`` type does."""
    return _to_float(text) % 360


def _to_positive(text: str) -> int:
    value = _to_int(text)
    if value <= 0:
        raise LiteralError(f"{text!r} is not a positive integer")
    return value


def _to_non_negative(text: str) -> int:
    value = _to_int(text)
    if value < 0:
        raise LiteralError(f"{text!r} is not a non-negative integer")
    return value


def _to_date(text: str) -> _dt.date:
    if not _DATE.fullmatch(text.strip()):
        raise LiteralError(f"{text!r} is not a date (YYYY-MM-DD)")
    try:
        return _dt.date.fromisoformat(text.strip())
    except ValueError:
        raise LiteralError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _iso(text: str) -> str:
    stripped = text.strip()
    return stripped[:-1] + "+00:00" if stripped.endswith(("Z", "z")) else stripped


def _to_datetime(text: str) -> _dt.datetime:
    if not _DATETIME.fullmatch(text.strip()):
        raise LiteralError(f"{text!r} is not a dateTime (YYYY-MM-DDThh:mm:ss)")
    try:
        return _dt.datetime.fromisoformat(_iso(text))
    except ValueError:
        raise LiteralError(f"{text!r} is not a dateTime (YYYY-MM-DDThh:mm:ss)") from None


def _to_time(text: str) -> _dt.time:
    if not re.fullmatch(_TIME, text.strip()):
        raise LiteralError(f"{text!r} is not a time (hh:mm:ss)")
    try:
        return _dt.time.fromisoformat(_iso(text))
    except ValueError:
        raise LiteralError(f"{text!r} is not a time (hh:mm:ss)") from None


def _to_uri(text: str) -> str:
    value = text.strip()
    try:
        scheme = urlparse(value).scheme
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise LiteralError(f"{text!r} is not an absolute URI") from None
    if not value or any(ch.isspace() for ch in value) or not scheme:
        raise LiteralError(f"{text!r} is not an absolute URI")
    return value


def _to_string(text: str) -> str:
    return text


def _from_bool(value: Any) -> str:
    return "true" if value else "false"


def _from_float(value: Any) -> str:
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "INF" if number > 0 else "-INF"
    return repr(number)


def _from_temporal(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@dataclass(frozen=True)
class LiteralType:
    """One WPS literal data type: its name, XSD reference and converters."""

    name: str
    parse: Callable[[str], Any]
    render: Callable[[Any], str]
    ordered: bool

    @property
    def reference(self) -> str:
        return XSD + self.name


LITERAL_TYPES: dict[str, LiteralType] = {
    t.name: t
    for t in (
        LiteralType("string", _to_string, str, False),
        LiteralType("integer", _to_int, str, True),
        LiteralType("float", _to_float, _from_float, True),
        LiteralType("boolean", _to_bool, _from_bool, False),
        LiteralType("date", _to_date, _from_temporal, True),
        LiteralType("dateTime", _to_datetime, _from_temporal, True),
        LiteralType("time", _to_time, _from_temporal, True),
        LiteralType("anyURI", _to_uri, str, False),
        LiteralType("positiveInteger", _to_positive, str, True),
        LiteralType("nonNegativeInteger", _to_non_negative, str, True),
        # PyWPS's own two types (not in XML Schema): a map scale and an angle in degrees
        LiteralType("scale", _to_float, _from_float, True),
        LiteralType("angle", _to_angle, _from_float, True),
    )
}
# Spellings that process authors and clients use for the same types.
_ALIASES = {"double": "float", "decimal": "float", "int": "integer", "str": "string",
            "bool": "boolean", "datetime": "dateTime", "anyuri": "anyURI", "uri": "anyURI"}


def literal_type(name: str) -> LiteralType:
    """Return the type for ``name`` (an XSD name, an alias, or an xmlschema-2 URL)."""
    key = name.rsplit("#", 1)[-1].rsplit(":", 1)[-1]
    key = _ALIASES.get(key, _ALIASES.get(key.lower(), key))
    try:
        return LITERAL_TYPES[key]
    except KeyError:
        raise ValueError(f"unknown literal data type {name!r}; known: {', '.join(LITERAL_TYPES)}") from None


@dataclass(frozen=True)
class AnyValue:
    """Any value of the data type is allowed (ows:AnyValue)."""


@dataclass(frozen=True)
class AllowedValue:
    """One allowed value, or a range ``[minval, maxval]`` with optional spacing.

    ``range_closure`` is one of closed, open, closed-open, open-closed (OWS 1.1).
    """

    value: Any = None
    minval: Any = None
    maxval: Any = None
    spacing: Any = None
    range_closure: str = "closed"

    @property
    def is_range(self) -> bool:
        return self.value is None and (self.minval is not None or self.maxval is not None)

    def admits(self, value: Any) -> bool:
        if not self.is_range:
            return value == self.value
        closure = self.range_closure
        if self.minval is not None:
            if value < self.minval or (closure in ("open", "open-closed") and value == self.minval):
                return False
        if self.maxval is not None:
            if value > self.maxval or (closure in ("open", "closed-open") and value == self.maxval):
                return False
        if self.spacing and self.minval is not None:
            steps = (value - self.minval) / self.spacing
            if abs(steps - round(steps)) > 1e-9:
                return False
        return True


@dataclass(frozen=True)
class ValuesReference:
    """Allowed values are listed in an external document (ows:ValuesReference)."""

    reference: str


def normalise_allowed_values(allowed: Any, dtype: LiteralType) -> tuple:
    """Turn the forms authors write (None, AnyValue, a list of values or AllowedValue) into a tuple."""
    if allowed is None or allowed is AnyValue or isinstance(allowed, AnyValue):
        return ()
    if isinstance(allowed, (AllowedValue, ValuesReference)):
        allowed = [allowed]
    result = []
    for item in allowed if isinstance(allowed, Iterable) and not isinstance(allowed, str) else [allowed]:
        if isinstance(item, (AllowedValue, ValuesReference)):
            if isinstance(item, AllowedValue) and dtype.name != "string":
                parsed = {name: dtype.parse(getattr(item, name)) for name in ("value", "minval", "maxval", "spacing")
                          if isinstance(getattr(item, name), str)}
                item = dataclasses.replace(item, **parsed) if parsed else item
            result.append(item)
        else:
            value = dtype.parse(item) if isinstance(item, str) and dtype.name != "string" else item
            result.append(AllowedValue(value=value))
    return tuple(result)


def check_allowed(value: Any, allowed: tuple) -> None:
    """Raise LiteralError unless ``value`` is admitted by one of ``allowed`` (empty = any)."""
    checkable = [a for a in allowed if isinstance(a, AllowedValue)]
    if not checkable:
        return
    try:
        if any(a.admits(value) for a in checkable):
            return
    except TypeError:
        pass
    shown = ", ".join(
        f"[{a.minval}, {a.maxval}]" if a.is_range else str(a.value) for a in checkable[:12]
    )
    raise LiteralError(f"value {value!r} is not allowed; allowed: {shown}")
