"""Convert the inputs a client sent into the values a handler sees, checking each against its declaration.

Every failure names the input as the exception's locator, so a client knows which
of its values to fix.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

from ..exceptions import FileSizeExceeded, InvalidParameterValue, MissingParameterValue
from ..process import BoundingBox, InputData, Process
from ..process.crs import supported_crs
from ..process.literals import LiteralError
from ..process.validation import ValidationError, validate_complex
from ..protocol.requests import ExecuteRequest, RawInput


def _numbers(parts: list[str], identifier: str) -> list[float]:
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InvalidParameterValue(f"bounding box of input {identifier} has a coordinate that is not a number",
                                    identifier) from None
    if any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise InvalidParameterValue(f"bounding box of input {identifier} needs finite coordinates", identifier)
    return values


def parse_bbox_text(text: str, identifier: str) -> tuple[list[float], list[float], str | None, int | None]:
    """KVP bounding box: ``minx,miny,maxx,maxy[,crs[,dimensions]]`` (more coordinates for more dimensions)."""
    parts = [p.strip() for p in text.split(",")]
    count = 0
    while count < len(parts):
        try:
            float(parts[count])
        except ValueError:
            break
        count += 1
    rest = parts[count:]
    if count < 4 or count % 2 or len(rest) > 2:
        raise InvalidParameterValue(
            f"bounding box of input {identifier} must be minx,miny,maxx,maxy[,crs[,dimensions]]", identifier)
    coords = _numbers(parts[:count], identifier)
    crs = rest[0] if rest else None
    dimensions = None
    if len(rest) == 2:
        try:
            dimensions = int(rest[1])
        except ValueError:
            raise InvalidParameterValue(f"dimensions of input {identifier} must be an integer", identifier) from None
    half = count // 2
    return coords[:half], coords[half:], crs, dimensions


def _literal(declaration: Any, raw: RawInput, limit: int) -> InputData:
    identifier = raw.identifier
    if raw.kind not in (None, "literal") or raw.reference is not None:
        raise InvalidParameterValue(f"input {identifier} is a literal input and takes a literal value", identifier)
    text = raw.text or ""
    if len(text.encode("utf-8")) > limit:
        raise FileSizeExceeded(f"input {identifier} is larger than the server accepts ({limit} bytes)", identifier)
    if raw.uom and declaration.uoms and raw.uom not in declaration.uoms:
        raise InvalidParameterValue(f"uom {raw.uom!r} of input {identifier} is not one of "
                                    f"{', '.join(declaration.uoms)}", identifier)
    try:
        value = declaration.convert(text)
    except LiteralError as exc:
        raise InvalidParameterValue(f"input {identifier}: {exc}", identifier) from None
    return InputData(identifier, "literal", value, uom=raw.uom or (declaration.uoms[0] if declaration.uoms else None))


def _complex(declaration: Any, raw: RawInput, limit: int) -> InputData:
    identifier = raw.identifier
    if raw.kind not in (None, "complex"):
        raise InvalidParameterValue(f"input {identifier} is a complex input and takes ComplexData", identifier)
    fmt = declaration.choose_format(raw.mime_type, raw.encoding, raw.schema)
    if fmt is None:
        supported = ", ".join(f.mime_type for f in declaration.supported_formats)
        raise InvalidParameterValue(f"input {identifier}: format {raw.mime_type or ''} "
                                    f"{raw.encoding or ''} is not supported; supported: {supported}".replace("  ", " "),
                                    identifier)
    if declaration.max_megabytes is not None:
        limit = min(limit, int(declaration.max_megabytes * 1024 * 1024))
    if raw.reference is not None:
        return InputData(identifier, "complex", url=raw.reference.href, data_format=fmt)
    payload = raw.payload
    if payload is None:
        payload = (raw.text or "").encode("utf-8")
        if (raw.encoding or "").lower() == "base64":
            try:
                payload = base64.b64decode(b"".join(payload.split()), validate=True)
            except (binascii.Error, ValueError):
                raise InvalidParameterValue(f"input {identifier} is not valid base64", identifier) from None
    if len(payload) > limit:
        raise FileSizeExceeded(f"input {identifier} is larger than the server accepts ({limit} bytes)", identifier)
    try:
        validate_complex(payload, fmt, declaration.mode)
    except ValidationError as exc:
        raise InvalidParameterValue(f"input {identifier}: {exc}", identifier) from None
    return InputData(identifier, "complex", payload=payload, data_format=fmt)


def _bbox(declaration: Any, raw: RawInput) -> InputData:
    identifier = raw.identifier
    if raw.kind not in (None, "bbox") or raw.reference is not None:
        raise InvalidParameterValue(f"input {identifier} is a bounding box input", identifier)
    if raw.bbox is not None:
        lower, upper = list(raw.bbox.lower), list(raw.bbox.upper)
        crs, dimensions = raw.bbox.crs, raw.bbox.dimensions
    else:
        lower, upper, crs, dimensions = parse_bbox_text(raw.text or "", identifier)
    if len(lower) != len(upper) or len(lower) < 2:
        raise InvalidParameterValue(f"bounding box of input {identifier} needs two corners of equal dimension",
                                    identifier)
    if dimensions is not None and dimensions != len(lower):
        raise InvalidParameterValue(f"bounding box of input {identifier} has {len(lower)} dimensions, "
                                    f"not {dimensions}", identifier)
    # compared as CRSs (EPSG:4326 = urn:ogc:def:crs:EPSG::4326 = ...); the value keeps the client's form
    if crs and supported_crs(crs, declaration.crss) is None:
        raise InvalidParameterValue(f"crs {crs!r} of input {identifier} is not one of "
                                    f"{', '.join(declaration.crss)}", identifier)
    box = BoundingBox(lower, upper, crs or declaration.crss[0], len(lower))
    return InputData(identifier, "bbox", box)


def convert_inputs(process: Process, request: ExecuteRequest, max_input_bytes: int) -> dict[str, list[InputData]]:
    """The handler's ``request.inputs``; raises an OWSException naming the offending input."""
    grouped: dict[str, list[InputData]] = {}
    for raw in request.inputs:
        declaration = process.input_map.get(raw.identifier)
        if declaration is None:
            raise InvalidParameterValue(f"process {process.identifier} has no input {raw.identifier!r}",
                                        raw.identifier)
        if declaration.kind == "literal":
            value = _literal(declaration, raw, max_input_bytes)
        elif declaration.kind == "complex":
            value = _complex(declaration, raw, max_input_bytes)
        else:
            value = _bbox(declaration, raw)
        grouped.setdefault(raw.identifier, []).append(value)
    for declaration in process.inputs:
        values = grouped.get(declaration.identifier, [])
        if len(values) > declaration.max_occurs:
            raise InvalidParameterValue(f"input {declaration.identifier} takes at most {declaration.max_occurs} "
                                        f"value(s), got {len(values)}", declaration.identifier)
        if values:
            if len(values) < declaration.min_occurs:
                raise MissingParameterValue(f"input {declaration.identifier} needs at least "
                                            f"{declaration.min_occurs} values", declaration.identifier)
            continue
        if declaration.kind == "literal" and declaration.default is not None:
            grouped[declaration.identifier] = [InputData(declaration.identifier, "literal", declaration.default,
                                                         uom=declaration.uoms[0] if declaration.uoms else None)]
        elif declaration.min_occurs > 0:
            raise MissingParameterValue(f"input {declaration.identifier} is required", declaration.identifier)
    return grouped
