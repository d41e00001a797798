"""Process descriptions as OGC API – Processes JSON: every input and output with a JSON Schema.

The schemas use the vocabulary Part 1 1.0 allows (its schema.yaml: OpenAPI 3.0's subset of
JSON Schema, boolean ``exclusiveMinimum``/``exclusiveMaximum``), so one description serves
clients that read either.  Built from the same declarations DescribeProcess renders.
"""
from __future__ import annotations

from typing import Any

from ..process.formats import Format, is_json
from ..process.literals import AllowedValue, ValuesReference
from .crs import crs_uri
from .links import REL_EXECUTE, link

_LITERAL_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "float": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "dateTime": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
    "anyURI": {"type": "string", "format": "uri"},
    "positiveInteger": {"type": "integer", "minimum": 1},
    "nonNegativeInteger": {"type": "integer", "minimum": 0},
}


def json_literal(dtype: Any, value: Any) -> Any:
    """A literal value as JSON: numbers and booleans as themselves, everything else as its text."""
    if dtype.name in ("integer", "positiveInteger", "nonNegativeInteger") and isinstance(value, int):
        return value
    if dtype.name == "float" and isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
        return float(value)
    if dtype.name == "boolean" and isinstance(value, bool):
        return value
    return dtype.render(value)


def _range_schema(dtype: Any, item: AllowedValue) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    if item.minval is not None:
        schema["minimum"] = json_literal(dtype, item.minval)
        if item.range_closure in ("open", "open-closed"):
            schema["exclusiveMinimum"] = True
    if item.maxval is not None:
        schema["maximum"] = json_literal(dtype, item.maxval)
        if item.range_closure in ("open", "closed-open"):
            schema["exclusiveMaximum"] = True
    if item.spacing is not None and item.minval in (None, 0):
        schema["multipleOf"] = json_literal(dtype, item.spacing)
    return schema


def literal_schema(declaration: Any) -> dict[str, Any]:
    dtype = declaration.dtype
    schema = dict(_LITERAL_SCHEMAS.get(dtype.name, {"type": "string"}))
    allowed = [a for a in getattr(declaration, "allowed_values", ()) if isinstance(a, AllowedValue)]
    values = [a for a in allowed if not a.is_range]
    ranges = [a for a in allowed if a.is_range]
    if values and not ranges:
        schema["enum"] = [json_literal(dtype, a.value) for a in values]
    elif len(ranges) == 1 and not values:
        schema.update(_range_schema(dtype, ranges[0]))
    elif allowed:
        schema["anyOf"] = ([{"enum": [json_literal(dtype, a.value) for a in values]}] if values else []) + \
                          [_range_schema(dtype, a) for a in ranges]
    references = [a for a in getattr(declaration, "allowed_values", ()) if isinstance(a, ValuesReference)]
    if references:
        schema["description"] = f"allowed values are listed at {references[0].reference}"
    default = getattr(declaration, "default", None)
    if default is not None:
        schema["default"] = json_literal(dtype, default)
    return schema


def format_schema(fmt: Format) -> dict[str, Any]:
    if is_json(fmt):
        return {"type": "object", "contentMediaType": fmt.mime_type}
    schema: dict[str, Any] = {"type": "string", "contentMediaType": fmt.mime_type}
    if fmt.binary or fmt.encoding.lower() == "base64":
        schema["contentEncoding"] = "base64"
    return schema


def complex_schema(declaration: Any) -> dict[str, Any]:
    formats = list(declaration.supported_formats)
    if len(formats) == 1:
        return format_schema(formats[0])
    return {"oneOf": [format_schema(f) for f in formats]}


def bbox_schema(declaration: Any) -> dict[str, Any]:
    crss = [crs_uri(c) for c in declaration.crss]
    size = 2 * max(2, int(getattr(declaration, "dimensions", 2) or 2))
    return {"type": "object", "format": "ogc-bbox", "required": ["bbox"], "properties": {
        "bbox": {"type": "array", "minItems": 4, "maxItems": max(4, size), "items": {"type": "number"}},
        "crs": {"type": "string", "format": "uri", "enum": crss, "default": crss[0]}}}


def value_schema(declaration: Any) -> dict[str, Any]:
    if declaration.kind == "literal":
        return literal_schema(declaration)
    if declaration.kind == "complex":
        return complex_schema(declaration)
    return bbox_schema(declaration)


def _described(declaration: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"title": declaration.title}
    if declaration.abstract:
        item["description"] = declaration.abstract
    if declaration.keywords:
        item["keywords"] = list(declaration.keywords)
    if declaration.metadata:
        item["metadata"] = [{k: v for k, v in (("title", m.title), ("href", m.href), ("role", m.role)) if v}
                            for m in declaration.metadata]
    uoms = getattr(declaration, "uoms", ())
    if uoms:
        item["additionalParameters"] = {"parameters": [{"name": "uom", "value": list(uoms)}]}
    return item


def input_description(declaration: Any) -> dict[str, Any]:
    item = _described(declaration)
    item["minOccurs"] = declaration.min_occurs
    item["maxOccurs"] = declaration.max_occurs
    item["schema"] = value_schema(declaration)
    return item


def output_description(declaration: Any) -> dict[str, Any]:
    item = _described(declaration)
    item["schema"] = value_schema(declaration)
    return item


def job_control_options(process: Any) -> list[str]:
    """Synchronous always; asynchronous and dismiss where the process can store its response."""
    return ["sync-execute", "async-execute", "dismiss"] if process.store_supported else ["sync-execute"]


def process_summary(process: Any, base: str) -> dict[str, Any]:
    summary = _described(process)
    summary.pop("additionalParameters", None)
    summary.update({"id": process.identifier, "version": process.version or "None",
                    "jobControlOptions": job_control_options(process), "outputTransmission": ["value", "reference"]})
    href = f"{base}/processes/{process.identifier}"
    summary["links"] = [link(href, "self", "application/json", "process description"),
                        link(href + "?f=html", "alternate", "text/html", "process description as HTML")]
    return summary


def process_description(process: Any, base: str) -> dict[str, Any]:
    description = process_summary(process, base)
    description["links"].append(link(f"{base}/processes/{process.identifier}/execution", REL_EXECUTE,
                                     "application/json", "execute the process"))
    description["inputs"] = {d.identifier: input_description(d) for d in process.inputs}
    description["outputs"] = {d.identifier: output_description(d) for d in process.outputs}
    return description
