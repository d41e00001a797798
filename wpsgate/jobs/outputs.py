"""Which outputs a client asked for and how: resolved once, before the job runs.

The resolved ``OutputChoice`` list travels with the job, so the worker or the
compute node honours the client's asReference and mimeType exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import InvalidParameterValue
from ..process import Format, Process
from ..protocol.requests import ExecuteRequest, OutputRequest


@dataclass(frozen=True)
class OutputChoice:
    identifier: str
    kind: str
    as_reference: bool = False
    format: Format | None = None
    uom: str | None = None
    explicit: bool = False


def _choose(process: Process, wanted: OutputRequest, raw: bool) -> OutputChoice:
    declaration = process.output_map.get(wanted.identifier)
    if declaration is None:
        raise InvalidParameterValue(f"process {process.identifier} has no output {wanted.identifier!r}",
                                    wanted.identifier)
    fmt = None
    if declaration.kind == "complex":
        fmt = declaration.choose_format(wanted.mime_type, wanted.encoding, wanted.schema)
        if fmt is None:
            supported = ", ".join(f.mime_type for f in declaration.supported_formats)
            raise InvalidParameterValue(f"output {wanted.identifier}: mimeType {wanted.mime_type} is not supported; "
                                        f"supported: {supported}", wanted.identifier)
        if wanted.encoding and not fmt.encoding:
            fmt = fmt.with_(encoding=wanted.encoding)
    elif wanted.mime_type and declaration.kind == "literal" and wanted.mime_type != "text/plain":
        raise InvalidParameterValue(f"output {wanted.identifier} is a literal; mimeType must be text/plain",
                                    wanted.identifier)
    if wanted.uom and declaration.kind == "literal":
        if declaration.uoms and wanted.uom not in declaration.uoms:
            raise InvalidParameterValue(f"uom {wanted.uom!r} of output {wanted.identifier} is not one of "
                                        f"{', '.join(declaration.uoms)}", wanted.identifier)
    if raw:
        as_reference = False
    elif wanted.as_reference is not None:
        as_reference = wanted.as_reference
    else:
        as_reference = bool(getattr(declaration, "as_reference", False))
    return OutputChoice(wanted.identifier, declaration.kind, as_reference, fmt, wanted.uom, explicit=True)


def resolve_outputs(process: Process, request: ExecuteRequest) -> tuple[OutputChoice, ...]:
    """The outputs to return, in order; all of them with their defaults when the client named none."""
    if request.raw_output is not None:
        return (_choose(process, request.raw_output, raw=True),)
    if request.outputs:
        seen = set()
        for wanted in request.outputs:
            if wanted.identifier in seen:
                raise InvalidParameterValue(f"output {wanted.identifier} is requested twice", wanted.identifier)
            seen.add(wanted.identifier)
        return tuple(_choose(process, wanted, raw=False) for wanted in request.outputs)
    return tuple(OutputChoice(d.identifier, d.kind, bool(getattr(d, "as_reference", False)),
                              getattr(d, "data_format", None)) for d in process.outputs)
