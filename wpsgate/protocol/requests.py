"""Typed WPS requests: what the KVP and XML parsers produce and the service consumes.

Values are still the client's text here; converting them against a process's
declarations is the service's job, so the two encodings share that code.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

WPS_VERSION = "1.0.0"
REDACTED = "***"  # what stands in for a reference header's value everywhere but the download itself


@dataclass(frozen=True)
class GetCapabilitiesRequest:
    accept_versions: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True)
class DescribeProcessRequest:
    identifiers: tuple[str, ...]
    version: str = WPS_VERSION
    language: str | None = None


@dataclass(frozen=True)
class BBoxValue:
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    crs: str | None = None
    dimensions: int | None = None


@dataclass(frozen=True)
class InputReference:
    """An input by reference (wps:Reference / KVP ``@xlink:href``)."""

    href: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    body_href: str | None = None

    def without_secrets(self) -> "InputReference":
        """The reference as it may be kept and shown: header values masked, the POST body dropped.

        Headers carry credentials (``Authorization``, API keys) and a POST body may too; both are
        needed only while the gateway downloads the input, so only the stager ever sees them.
        """
        if not self.headers and self.body is None:
            return self
        return dataclasses.replace(self, headers=tuple((key, REDACTED) for key, _ in self.headers), body=None)


@dataclass(frozen=True)
class RawInput:
    """One occurrence of an input, as the client sent it.

    ``kind`` is ``literal``, ``complex`` or ``bbox`` when the encoding says so (XML);
    KVP leaves it ``None`` and the process's declaration decides.
    """

    identifier: str
    kind: str | None = None
    text: str | None = None
    payload: bytes | None = None
    bbox: BBoxValue | None = None
    reference: InputReference | None = None
    uom: str | None = None
    mime_type: str | None = None
    encoding: str | None = None
    schema: str | None = None
    datatype: str | None = None


@dataclass(frozen=True)
class OutputRequest:
    """A client's choice for one output (ResponseDocument/Output or RawDataOutput)."""

    identifier: str
    as_reference: bool | None = None
    mime_type: str | None = None
    encoding: str | None = None
    schema: str | None = None
    uom: str | None = None


@dataclass(frozen=True)
class ExecuteRequest:
    identifier: str
    version: str = WPS_VERSION
    language: str | None = None
    inputs: tuple[RawInput, ...] = ()
    outputs: tuple[OutputRequest, ...] = ()
    raw_output: OutputRequest | None = None
    store_execute_response: bool = False
    status: bool = False
    lineage: bool = False
    timeout: float | None = None
    expire: float | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def without_secrets(self) -> "ExecuteRequest":
        """The request as job files, documents (lineage), rows and logs may hold it (see InputReference)."""
        if not any(raw.reference is not None and (raw.reference.headers or raw.reference.body is not None)
                   for raw in self.inputs):
            return self
        inputs = tuple(dataclasses.replace(raw, reference=raw.reference.without_secrets())
                       if raw.reference is not None else raw for raw in self.inputs)
        return dataclasses.replace(self, inputs=inputs)
