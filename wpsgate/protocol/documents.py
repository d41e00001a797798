"""Render the WPS 1.0.0 and OWS 1.1 response documents with lxml.

Every function returns UTF-8 bytes of a document valid against the official
schemas.  The renderers take plain data (the process API objects, the
``JobStatus`` and ``OutputValue`` records) so that the gateway and the
joblauncher on a compute node produce identical documents from the same code.
"""
from __future__ import annotations

import base64
import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from lxml import etree

from ..process.formats import Format, is_xml
from ..process.literals import AllowedValue, ValuesReference
from ..process.translations import translated
from ..process.validation import secure_parser
from .namespaces import NSMAP, OWS, SCHEMAS, WPS, XML, XSI, ows, wps, xlink
from .requests import REDACTED, ExecuteRequest, RawInput

_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: Any) -> str:
    """Text with the characters XML 1.0 cannot carry replaced by U+FFFD."""
    return _INVALID_XML_CHARS.sub("\ufffd", str(text))


def utc_timestamp(moment: _dt.datetime | None = None) -> str:
    moment = moment or _dt.datetime.now(_dt.timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: etree._Element, tag: str, text: Any = None, **attrib: str) -> etree._Element:
    element = etree.SubElement(parent, tag, {k: v for k, v in attrib.items() if v is not None})
    if text is not None:
        element.text = xml_safe(text)
    return element


def _root(tag: str, schema: str, language: str | None = None, **attrib: str) -> etree._Element:
    root = etree.Element(tag, nsmap=NSMAP)
    root.set(f"{{{XSI}}}schemaLocation", f"{WPS} {SCHEMAS}{schema}")
    root.set("service", "WPS")
    root.set("version", "1.0.0")
    root.set(f"{{{XML}}}lang", language or "en-US")
    for key, value in attrib.items():
        if value is not None:
            root.set(key, value)
    return root


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --- exceptions -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExceptionInfo:
    code: str
    text: str
    locator: str | None = None


def exception_report_element(exceptions: Sequence[ExceptionInfo], language: str | None = None) -> etree._Element:
    report = etree.Element(ows("ExceptionReport"), nsmap={"ows": OWS, "xsi": XSI})
    report.set(f"{{{XSI}}}schemaLocation", f"{OWS} http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd")
    report.set("version", "1.0.0")
    report.set(f"{{{XML}}}lang", language or "en-US")
    for info in exceptions:
        item = _sub(report, ows("Exception"), exceptionCode=info.code, locator=info.locator or None)
        if info.text:
            _sub(item, ows("ExceptionText"), info.text)
    return report


def render_exception_report(code: str, text: str, locator: str | None = None, language: str | None = None) -> bytes:
    return serialize(exception_report_element([ExceptionInfo(code, text, locator)], language))


# --- capabilities -----------------------------------------------------------------------------------------

def _described(parent: etree._Element, item: Any, language: str | None) -> None:
    """Identifier, title, abstract and metadata of a process, input or output, in ``language``."""
    _description(parent, item.identifier, translated(item, "title", language),
                 translated(item, "abstract", language), item.metadata)


def _description(parent: etree._Element, identifier: str, title: str, abstract: str,
                 metadata: Iterable[Any] = ()) -> None:
    _sub(parent, ows("Identifier"), identifier)
    _sub(parent, ows("Title"), title)
    if abstract:
        _sub(parent, ows("Abstract"), abstract)
    for item in metadata:
        attrib = {xlink("title"): item.title}
        if item.href:
            attrib[xlink("href")] = item.href
        if item.role:
            attrib[xlink("role")] = item.role
        _sub(parent, ows("Metadata"), **attrib)


def render_capabilities(service: Any, processes: Sequence[Any], wps_url: str,
                        language: str | None = None) -> bytes:
    """The Capabilities document; ``service`` is the configuration's metadata section
    (wpsgate.config.MetadataConfig: title, abstract, keywords, provider and contact fields, languages)."""
    root = _root(wps("Capabilities"), "wpsGetCapabilities_response.xsd", language or service.languages[0],
                 updateSequence="1")
    ident = _sub(root, ows("ServiceIdentification"))
    _sub(ident, ows("Title"), service.title)
    if service.abstract:
        _sub(ident, ows("Abstract"), service.abstract)
    if service.keywords:
        keywords = _sub(ident, ows("Keywords"))
        for keyword in service.keywords:
            _sub(keywords, ows("Keyword"), keyword)
    _sub(ident, ows("ServiceType"), "WPS")
    _sub(ident, ows("ServiceTypeVersion"), "1.0.0")
    _sub(ident, ows("Fees"), service.fees or "NONE")
    _sub(ident, ows("AccessConstraints"), service.access_constraints or "NONE")

    provider = _sub(root, ows("ServiceProvider"))
    _sub(provider, ows("ProviderName"), service.provider_name or service.title)
    if service.provider_url:
        _sub(provider, ows("ProviderSite"), **{xlink("href"): service.provider_url})
    contact = _sub(provider, ows("ServiceContact"))
    if service.contact_name:
        _sub(contact, ows("IndividualName"), service.contact_name)
    if service.contact_position:
        _sub(contact, ows("PositionName"), service.contact_position)
    if any((service.contact_phone, service.contact_email, service.contact_address, service.contact_city,
            service.contact_country)):
        info = _sub(contact, ows("ContactInfo"))
        if service.contact_phone:
            _sub(_sub(info, ows("Phone")), ows("Voice"), service.contact_phone)
        address = _sub(info, ows("Address"))
        if service.contact_address:
            _sub(address, ows("DeliveryPoint"), service.contact_address)
        if service.contact_city:
            _sub(address, ows("City"), service.contact_city)
        if service.contact_country:
            _sub(address, ows("Country"), service.contact_country)
        if service.contact_email:
            _sub(address, ows("ElectronicMailAddress"), service.contact_email)
    if service.contact_role:
        _sub(contact, ows("Role"), service.contact_role)

    operations = _sub(root, ows("OperationsMetadata"))
    for name in ("GetCapabilities", "DescribeProcess", "Execute"):
        http = _sub(_sub(_sub(operations, ows("Operation"), name=name), ows("DCP")), ows("HTTP"))
        _sub(http, ows("Get"), **{xlink("href"): wps_url + "?"})
        _sub(http, ows("Post"), **{xlink("href"): wps_url})

    offerings = _sub(root, wps("ProcessOfferings"))
    for process in processes:
        brief = _sub(offerings, wps("Process"), **{wps("processVersion"): process.version or "None"})
        _described(brief, process, language or service.languages[0])
        for profile in process.profile:
            _sub(brief, wps("Profile"), profile)

    languages = _sub(root, wps("Languages"))
    _sub(_sub(languages, wps("Default")), ows("Language"), service.languages[0])
    supported = _sub(languages, wps("Supported"))
    for lang in service.languages:
        _sub(supported, ows("Language"), lang)
    return serialize(root)


# --- process descriptions ---------------------------------------------------------------------------------

def _formats(parent: etree._Element, default: Format, supported: Sequence[Format]) -> None:
    def write(container: etree._Element, fmt: Format) -> None:
        element = _sub(container, "Format")
        _sub(element, "MimeType", fmt.mime_type)
        if fmt.encoding:
            _sub(element, "Encoding", fmt.encoding)
        if fmt.schema:
            _sub(element, "Schema", fmt.schema)

    write(_sub(parent, "Default"), default)
    container = _sub(parent, "Supported")
    for fmt in supported:
        write(container, fmt)


def _crss(parent: etree._Element, crss: Sequence[str]) -> None:
    _sub(_sub(parent, "Default"), "CRS", crss[0])
    supported = _sub(parent, "Supported")
    for crs in crss:
        _sub(supported, "CRS", crs)


def _uoms(parent: etree._Element, uoms: Sequence[str]) -> None:
    if not uoms:
        return
    container = _sub(parent, "UOMs")
    _sub(_sub(container, "Default"), ows("UOM"), uoms[0])
    supported = _sub(container, "Supported")
    for uom in uoms:
        _sub(supported, ows("UOM"), uom)


def _data_type(parent: etree._Element, declaration: Any) -> None:
    _sub(parent, ows("DataType"), declaration.dtype.name, **{ows("reference"): declaration.dtype.reference})


def _allowed_values(parent: etree._Element, declaration: Any) -> None:
    allowed = declaration.allowed_values
    references = [a for a in allowed if isinstance(a, ValuesReference)]
    values = [a for a in allowed if isinstance(a, AllowedValue)]
    if references:
        _sub(parent, "ValuesReference", **{ows("reference"): references[0].reference, "valuesForm": references[0].reference})
    elif values:
        container = _sub(parent, ows("AllowedValues"))
        render = declaration.dtype.render
        for item in values:
            if not item.is_range:
                _sub(container, ows("Value"), render(item.value))
                continue
            closure = item.range_closure if item.range_closure != "closed" else None
            rng = _sub(container, ows("Range"), **({ows("rangeClosure"): closure} if closure else {}))
            if item.minval is not None:
                _sub(rng, ows("MinimumValue"), render(item.minval))
            if item.maxval is not None:
                _sub(rng, ows("MaximumValue"), render(item.maxval))
            if item.spacing is not None:
                _sub(rng, ows("Spacing"), render(item.spacing))
    else:
        _sub(parent, ows("AnyValue"))


def process_description_element(process: Any, max_megabytes: float | None = None,
                                language: str | None = None) -> etree._Element:
    attrib = {wps("processVersion"): process.version or "None",
              "storeSupported": "true" if process.store_supported else "false",
              "statusSupported": "true" if process.status_supported else "false"}
    element = etree.Element("ProcessDescription", attrib, nsmap=NSMAP)
    _described(element, process, language)
    for profile in process.profile:
        _sub(element, wps("Profile"), profile)
    if process.inputs:
        data_inputs = _sub(element, "DataInputs")
        for declaration in process.inputs:
            item = _sub(data_inputs, "Input", minOccurs=str(declaration.min_occurs),
                        maxOccurs=str(declaration.max_occurs))
            _described(item, declaration, language)
            if declaration.kind == "literal":
                literal = _sub(item, "LiteralData")
                _data_type(literal, declaration)
                _uoms(literal, declaration.uoms)
                _allowed_values(literal, declaration)
                if declaration.default is not None:
                    _sub(literal, "DefaultValue", declaration.dtype.render(declaration.default))
            elif declaration.kind == "complex":
                limit = declaration.max_megabytes if declaration.max_megabytes is not None else max_megabytes
                complex_data = _sub(item, "ComplexData",
                                    maximumMegabytes=str(int(limit)) if limit is not None else None)
                _formats(complex_data, declaration.data_format, declaration.supported_formats)
            else:
                _crss(_sub(item, "BoundingBoxData"), declaration.crss)
    outputs = _sub(element, "ProcessOutputs")
    for declaration in process.outputs:
        item = _sub(outputs, "Output")
        _described(item, declaration, language)
        if declaration.kind == "literal":
            literal = _sub(item, "LiteralOutput")
            _data_type(literal, declaration)
            _uoms(literal, declaration.uoms)
        elif declaration.kind == "complex":
            _formats(_sub(item, "ComplexOutput"), declaration.data_format, declaration.supported_formats)
        else:
            _crss(_sub(item, "BoundingBoxOutput"), declaration.crss)
    return element


class DescriptionCache:
    """ProcessDescriptions rendered once: each description serialised, documents assembled by concatenation.

    Answering DescribeProcess is then a dictionary look-up and a join, whatever the
    identifiers asked for.
    """

    def __init__(self, processes: Sequence[Any], language: str, max_megabytes: float | None) -> None:
        root = _root(wps("ProcessDescriptions"), "wpsDescribeProcess_response.xsd", language)
        marker = "@@PROCESS-DESCRIPTIONS@@"
        root.text = marker
        head, _, tail = etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode().partition(marker)
        self._head, self._tail = head.encode(), tail.encode()
        self._fragments = {p.identifier: etree.tostring(process_description_element(p, max_megabytes, language),
                                                        encoding="UTF-8") for p in processes}
        self._all = self.document(list(self._fragments))

    def document(self, identifiers: Sequence[str]) -> bytes:
        return self._head + b"".join(self._fragments[i] for i in identifiers) + self._tail

    @property
    def all(self) -> bytes:
        return self._all


# --- execute responses ------------------------------------------------------------------------------------

STATUS_TAGS = {"accepted": "ProcessAccepted", "started": "ProcessStarted", "paused": "ProcessPaused",
               "succeeded": "ProcessSucceeded", "failed": "ProcessFailed"}


@dataclass
class JobStatus:
    """The state a status document reports (WPS 1.0.0 Table 55)."""

    state: str
    message: str = ""
    percent: int = 0
    created: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc))
    error: ExceptionInfo | None = None


@dataclass
class OutputValue:
    """One output ready for a document: a value inline, or a reference to a file served by the gateway."""

    identifier: str
    title: str
    kind: str
    abstract: str = ""
    href: str | None = None
    mime_type: str | None = None
    encoding: str | None = None
    schema: str | None = None
    data_type: str | None = None
    uom: str | None = None
    text: str | None = None
    payload: bytes | None = None
    bbox: Any = None


@dataclass
class ResponseContext:
    """What an ExecuteResponse needs besides the job's state: URLs and the process summary.

    It pickles, so a compute node renders documents without the gateway's configuration.
    """

    service_instance: str
    process_identifier: str
    process_title: str
    process_abstract: str = ""
    process_version: str = "None"
    status_location: str | None = None
    language: str = "en-US"
    lineage: bool = False
    request: ExecuteRequest | None = None
    output_titles: dict = field(default_factory=dict)


def _bbox_element(parent: etree._Element, tag: str, bbox: Any) -> None:
    lower = getattr(bbox, "ll", None) or getattr(bbox, "lower", None)
    upper = getattr(bbox, "ur", None) or getattr(bbox, "upper", None)
    crs = getattr(bbox, "crs", None)
    element = _sub(parent, tag, crs=crs or None, dimensions=str(len(lower)))
    _sub(element, ows("LowerCorner"), " ".join(repr(float(v)) for v in lower))
    _sub(element, ows("UpperCorner"), " ".join(repr(float(v)) for v in upper))


def _complex_element(parent: etree._Element, payload: bytes | None, text: str | None, mime_type: str | None,
                     encoding: str | None, schema: str | None) -> None:
    element = _sub(parent, wps("ComplexData"), mimeType=mime_type or None, encoding=encoding or None,
                   schema=schema or None)
    if payload is not None and (encoding or "").lower() == "base64":
        element.text = base64.b64encode(payload).decode("ascii")
        return
    if text is None:
        text = (payload or b"").decode("utf-8", errors="replace")
    if mime_type and is_xml(Format(mime_type)) and text.lstrip().startswith("<"):
        try:
            element.append(etree.fromstring(text.encode("utf-8"), secure_parser(remove_blank_text=False)))
            return
        except (etree.XMLSyntaxError, ValueError):
            pass
    element.text = xml_safe(text)


def _echo_input(parent: etree._Element, raw: RawInput) -> None:
    item = _sub(parent, wps("Input"))
    _sub(item, ows("Identifier"), raw.identifier)
    _sub(item, ows("Title"), raw.identifier)
    if raw.reference is not None:
        ref = _sub(item, wps("Reference"), mimeType=raw.mime_type, encoding=raw.encoding, schema=raw.schema,
                   method=raw.reference.method, **{xlink("href"): raw.reference.href})
        for key, _value in raw.reference.headers:  # a header's value may be a credential: never echoed
            _sub(ref, wps("Header"), key=key, value=REDACTED)
        return
    data = _sub(item, wps("Data"))
    if raw.bbox is not None:
        _bbox_element(data, wps("BoundingBoxData"), raw.bbox)
    elif raw.payload is not None:
        _complex_element(data, raw.payload, None, raw.mime_type, raw.encoding, raw.schema)
    else:
        _sub(data, wps("LiteralData"), raw.text or "", uom=raw.uom, dataType=raw.datatype)


def _status_element(parent: etree._Element, status: JobStatus, language: str) -> None:
    element = _sub(parent, wps("Status"), creationTime=utc_timestamp(status.created))
    tag = STATUS_TAGS[status.state]
    if status.state == "failed":
        failed = _sub(element, wps(tag))
        error = status.error or ExceptionInfo("NoApplicableCode", status.message or "the process failed")
        failed.append(exception_report_element([error], language))
    elif status.state in ("started", "paused"):
        _sub(element, wps(tag), status.message or tag, percentCompleted=str(max(0, min(99, int(status.percent)))))
    else:
        _sub(element, wps(tag), status.message or tag)


def render_execute_response(context: ResponseContext, status: JobStatus,
                            outputs: Sequence[OutputValue] = ()) -> bytes:
    root = _root(wps("ExecuteResponse"), "wpsExecute_response.xsd", context.language,
                 serviceInstance=context.service_instance, statusLocation=context.status_location)
    process = _sub(root, wps("Process"), **{wps("processVersion"): context.process_version or "None"})
    _description(process, context.process_identifier, context.process_title, context.process_abstract)
    _status_element(root, status, context.language)
    request = context.request
    if context.lineage and request is not None:
        if request.inputs:
            data_inputs = _sub(root, wps("DataInputs"))
            for raw in request.inputs:
                _echo_input(data_inputs, raw)
        chosen = request.outputs or ((request.raw_output,) if request.raw_output else ())
        if chosen:
            definitions = _sub(root, wps("OutputDefinitions"))
            for out in chosen:
                as_reference = None if out.as_reference is None else ("true" if out.as_reference else "false")
                definition = _sub(definitions, wps("Output"), mimeType=out.mime_type, encoding=out.encoding,
                                  schema=out.schema, uom=out.uom, asReference=as_reference)
                _sub(definition, ows("Identifier"), out.identifier)
                _sub(definition, ows("Title"), context.output_titles.get(out.identifier, out.identifier))
    if status.state == "succeeded" and outputs:
        container = _sub(root, wps("ProcessOutputs"))
        for value in outputs:
            item = _sub(container, wps("Output"))
            # output_titles holds the titles in the request's language (see service.prepare)
            _description(item, value.identifier, context.output_titles.get(value.identifier, value.title),
                         value.abstract)
            if value.href is not None:
                _sub(item, wps("Reference"), href=value.href, mimeType=value.mime_type or None,
                     encoding=value.encoding or None, schema=value.schema or None)
                continue
            data = _sub(item, wps("Data"))
            if value.kind == "literal":
                _sub(data, wps("LiteralData"), value.text if value.text is not None else "",
                     dataType=value.data_type or None, uom=value.uom or None)
            elif value.kind == "bbox":
                _bbox_element(data, wps("BoundingBoxData"), value.bbox)
            else:
                _complex_element(data, value.payload, value.text, value.mime_type, value.encoding, value.schema)
    return serialize(root)
