"""Convert a PyWPS process's declarations into wpsgate's, once, when the processes are loaded.

What DescribeProcess advertises and what a request is checked against are then
wpsgate's: literal types, allowed values and ranges, defaults, occurrences,
formats and validation modes, UOMs, CRSs, metadata, translations,
``store_supported``/``status_supported``.  The PyWPS process itself is kept
(inside the handler) for the run, where its own input and output objects are used.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..process import (AllowedValue, BoundingBoxInput, BoundingBoxOutput, ComplexInput, ComplexOutput, Format,
                       LiteralInput, LiteralOutput, Metadata, Process, ValuesReference)
from ..process.formats import FORMATS
from ..process.literals import LiteralError

# text types PyWPS authors use that wpsgate's format table does not list
_TEXT_TYPES = ("text/", "application/json", "application/geo+json", "application/vnd.geo+json", "application/xml",
               "application/x-ogc-dods", "application/x-ogc-wcs", "application/x-ogc-wms", "application/x-ogc-wfs")


def _is_binary(mime_type: str, encoding: str) -> bool:
    """Whether a payload of this format travels base64-encoded in documents."""
    if (encoding or "").lower() == "base64":
        return True
    base = mime_type.split(";", 1)[0].strip().lower()
    for known in vars(FORMATS).values():
        if known.mime_type.split(";", 1)[0].strip().lower() == base:
            return known.binary
    return not (base.startswith(_TEXT_TYPES) or base.endswith(("+xml", "+json", "/xml", "/json")))


def convert_format(fmt: Any) -> Format:
    """A wpsgate Format for a PyWPS Format (mimeType, encoding, schema, extension)."""
    mime_type = fmt.mime_type or "application/octet-stream"
    encoding = fmt.encoding or ""
    return Format(mime_type, fmt.extension or "", encoding, fmt.schema or "", binary=_is_binary(mime_type, encoding))


def _metadata(items: Iterable[Any] | None) -> list[Metadata]:
    return [Metadata(str(getattr(m, "title", m)), getattr(m, "href", None), getattr(m, "role", None))
            for m in (items or ())]


def _uoms(uoms: Iterable[Any] | None) -> list[str]:
    return [getattr(u, "uom", u) for u in (uoms or ()) if u is not None]


def _common(io: Any) -> dict[str, Any]:
    return {"abstract": io.abstract or "", "keywords": list(io.keywords or ()),
            "metadata": _metadata(getattr(io, "metadata", None)), "translations": getattr(io, "translations", None)}


def _allowed_values(io: Any) -> list[Any] | None:
    if getattr(io, "any_value", False):
        return None
    reference = getattr(io, "values_reference", None)
    if reference is not None:
        return [ValuesReference(str(getattr(reference, "reference", reference)))]
    values = []
    for item in getattr(io, "allowed_values", None) or ():
        if getattr(item, "allowed_type", "value") == "range":
            values.append(AllowedValue(minval=item.minval, maxval=item.maxval, spacing=item.spacing or None,
                                       range_closure=item.range_closure or "closed"))
        else:
            values.append(AllowedValue(value=item.value))
    return values or None


def _plain_default(value: Any) -> Any:
    """A default as wpsgate's literal types hold it (PyWPS converts anyURI defaults to a ParseResult)."""
    return value.geturl() if hasattr(value, "geturl") else value


def _literal_input(io: Any) -> LiteralInput:
    kwargs = dict(title=io.title, data_type=io.data_type or "string", uoms=_uoms(io.uoms), min_occurs=io.min_occurs,
                  max_occurs=io.max_occurs, mode=getattr(io, "valid_mode", 0), allowed_values=_allowed_values(io),
                  **_common(io))
    default = getattr(io, "_default", None)
    try:
        return LiteralInput(io.identifier, default=_plain_default(default), **kwargs)
    except (LiteralError, ValueError):
        if default is None:
            raise
        # PyWPS does not check a default against the allowed values; serve it as PyWPS does
        declaration = LiteralInput(io.identifier, **kwargs)
        declaration.default = _plain_default(default)
        return declaration


def _complex_input(io: Any) -> ComplexInput:
    supported = [convert_format(f) for f in io.supported_formats]
    default = convert_format(io.data_format) if io.data_format is not None else supported[0]
    # a default is not advertised (WPS 1.0.0 has no place for it); the runtime gives it to the handler as PyWPS does
    return ComplexInput(io.identifier, io.title, supported_formats=supported, data_format=default,
                        min_occurs=io.min_occurs, max_occurs=io.max_occurs, mode=getattr(io, "valid_mode", 0),
                        default=getattr(io, "_default", None), **_common(io))


def _bbox_input(io: Any) -> BoundingBoxInput:
    return BoundingBoxInput(io.identifier, io.title, crss=list(io.crss or ()) or None,
                            dimensions=io.dimensions or 2, min_occurs=io.min_occurs, max_occurs=io.max_occurs,
                            mode=getattr(io, "valid_mode", 0), default=getattr(io, "_default", None), **_common(io))


def _literal_output(io: Any) -> LiteralOutput:
    return LiteralOutput(io.identifier, io.title, data_type=io.data_type or "string", uoms=_uoms(io.uoms),
                         **_common(io))


def _complex_output(io: Any) -> ComplexOutput:
    supported = [convert_format(f) for f in io.supported_formats]
    default = convert_format(io.data_format) if io.data_format is not None else supported[0]
    return ComplexOutput(io.identifier, io.title, supported_formats=supported, data_format=default,
                         as_reference=bool(io.as_reference), **_common(io))


def _bbox_output(io: Any) -> BoundingBoxOutput:
    return BoundingBoxOutput(io.identifier, io.title, crss=list(io.crss or ()) or None,
                             dimensions=io.dimensions or 2, **_common(io))


def _kind(io: Any) -> str:
    """literal, complex or bbox, from PyWPS's class hierarchy (its subclasses keep the base names)."""
    names = {cls.__name__ for cls in type(io).__mro__}
    if names & {"LiteralInput", "LiteralOutput"}:
        return "literal"
    if names & {"ComplexInput", "ComplexOutput"}:
        return "complex"
    if names & {"BoundingBoxInput", "BoundingBoxOutput", "BBoxInput", "BBoxOutput"}:
        return "bbox"
    raise ValueError(f"{type(io).__name__} {getattr(io, 'identifier', '?')!r} is not a PyWPS input or output")


_INPUTS = {"literal": _literal_input, "complex": _complex_input, "bbox": _bbox_input}
_OUTPUTS = {"literal": _literal_output, "complex": _complex_output, "bbox": _bbox_output}


def convert_process(source: Any) -> Process:
    """The wpsgate Process serving the PyWPS process ``source``; raises ValueError naming what cannot be served."""
    from .runtime import PyWPSHandler

    try:
        inputs = [_INPUTS[_kind(io)](io) for io in source.inputs]
        outputs = [_OUTPUTS[_kind(io)](io) for io in source.outputs]
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"PyWPS process {getattr(source, 'identifier', '?')}: {exc}") from None
    process = Process(PyWPSHandler(source), identifier=source.identifier, title=source.title,
                      abstract=source.abstract or "", keywords=source.keywords, profile=source.profile,
                      metadata=_metadata(source.metadata), inputs=inputs, outputs=outputs,
                      version=source.version, store_supported=_flag(source.store_supported),
                      status_supported=_flag(source.status_supported), translations=source.translations)
    return process


def _flag(value: Any) -> bool:
    """PyWPS keeps store/status support as the strings 'true'/'false'."""
    return value.lower() == "true" if isinstance(value, str) else bool(value)
