"""Parse WPS 1.0.0 XML (HTTP POST) requests into the same typed requests as KVP.

The parser never resolves entities, never loads a DTD and never reaches the
network; a document that carries a DTD at all is refused, which closes external
entities, parameter entities and entity expansion in one rule.
"""
from __future__ import annotations

import base64
import binascii
import re

from lxml import etree

from ..exceptions import InvalidParameterValue, MalformedRequest, MissingParameterValue, OperationNotSupported
from ..process.validation import secure_parser
from .kvp import check_service, check_version, negotiate_versions, parse_bool, parse_seconds
from .namespaces import WPS, XLINK, ows, wps
from .requests import (BBoxValue, DescribeProcessRequest, ExecuteRequest, GetCapabilitiesRequest, InputReference,
                       OutputRequest, RawInput)

_PARSER = secure_parser(remove_comments=True)


def parse_xml_document(body: bytes) -> etree._Element:
    """Parse a request body safely; raises MalformedRequest (NoApplicableCode, 400)."""
    if not body.strip():
        raise MalformedRequest("the request body is empty", "request")
    try:
        tree = etree.fromstring(body, _PARSER).getroottree()
    except etree.XMLSyntaxError as exc:
        raise MalformedRequest(f"the request body is not well-formed XML: {exc}", "request") from None
    except ValueError as exc:  # e.g. an encoding declaration lxml refuses
        raise MalformedRequest(f"the request body cannot be parsed: {exc}", "request") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise MalformedRequest("DTDs and entity declarations are not allowed in requests", "request")
    return tree.getroot()


def _text(element: etree._Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def _identifier(element: etree._Element, where: str) -> str:
    found = element.find(ows("Identifier"))
    value = _text(found)
    if not value:
        raise MissingParameterValue(f"{where} needs an ows:Identifier", "Identifier")
    return value


def _language(root: etree._Element) -> str | None:
    return root.get("language") or None


def parse_xml(body: bytes) -> GetCapabilitiesRequest | DescribeProcessRequest | ExecuteRequest:
    """Parse a POST body; raises an OWSException for anything a client got wrong."""
    root = parse_xml_document(body)
    if not isinstance(root.tag, str):
        raise MalformedRequest("the request has no root element", "request")
    qname = etree.QName(root)
    if qname.namespace != WPS:
        if qname.localname in ("GetCapabilities", "DescribeProcess", "Execute"):
            raise InvalidParameterValue(
                f"{qname.localname} must be in the WPS 1.0.0 namespace {WPS}, not {qname.namespace!r}", "request")
        raise OperationNotSupported(f"operation {qname.localname!r} is not supported", qname.localname)
    # the root element in the WPS namespace already names the service; PyWPS's clients and test
    # helpers leave the attribute out, so only a wrong value is refused
    check_service(root.get("service", "WPS"))
    if qname.localname == "GetCapabilities":
        versions = tuple(_text(v) for v in root.iterfind(f"{wps('AcceptVersions')}/{ows('Version')}"))
        negotiate_versions(versions)
        return GetCapabilitiesRequest(accept_versions=versions, language=_language(root))
    if qname.localname == "DescribeProcess":
        version = check_version(root.get("version"))
        identifiers = tuple(_text(i) for i in root.iterfind(ows("Identifier")) if _text(i))
        if not identifiers:
            raise MissingParameterValue("DescribeProcess needs at least one ows:Identifier", "identifier")
        return DescribeProcessRequest(identifiers=identifiers, version=version, language=_language(root))
    if qname.localname == "Execute":
        return _parse_execute(root)
    raise OperationNotSupported(f"operation {qname.localname!r} is not supported", qname.localname)


def _parse_execute(root: etree._Element) -> ExecuteRequest:
    version = check_version(root.get("version"))
    identifier = _identifier(root, "Execute")
    inputs = tuple(_parse_input(element) for element in root.iterfind(f"{wps('DataInputs')}/{wps('Input')}"))
    form = root.find(wps("ResponseForm"))
    outputs: tuple[OutputRequest, ...] = ()
    raw_output = None
    store = status = lineage = False
    timeout = expire = None
    if form is not None:
        document = form.find(wps("ResponseDocument"))
        raw = form.find(wps("RawDataOutput"))
        if document is not None and raw is not None:
            raise InvalidParameterValue("ResponseDocument and RawDataOutput exclude each other", "ResponseForm")
        chosen = document if document is not None else raw
        if chosen is None:
            raise InvalidParameterValue("ResponseForm needs a ResponseDocument or a RawDataOutput", "ResponseForm")
        timeout = parse_seconds(chosen.get("timeout"), "timeout")
        expire = parse_seconds(chosen.get("expire"), "expire")
        if document is not None:
            store = parse_bool(document.get("storeExecuteResponse"), "storeExecuteResponse")
            status = parse_bool(document.get("status"), "status")
            lineage = parse_bool(document.get("lineage"), "lineage")
            outputs = tuple(_parse_output(element) for element in document.iterfind(wps("Output")))
        else:
            raw_output = _parse_output(raw)
    return ExecuteRequest(identifier=identifier, version=version, language=_language(root), inputs=inputs,
                          outputs=outputs, raw_output=raw_output, store_execute_response=store, status=status,
                          lineage=lineage, timeout=timeout, expire=expire)


def _parse_output(element: etree._Element) -> OutputRequest:
    identifier = _identifier(element, "an output definition")
    as_reference = element.get("asReference")
    return OutputRequest(identifier=identifier,
                         as_reference=parse_bool(as_reference, identifier) if as_reference is not None else None,
                         mime_type=element.get("mimeType"), encoding=element.get("encoding"),
                         schema=element.get("schema"), uom=element.get("uom"))


def _parse_input(element: etree._Element) -> RawInput:
    identifier = _identifier(element, "an input")
    reference = element.find(wps("Reference"))
    if reference is not None:
        return _parse_reference(identifier, reference)
    data = element.find(wps("Data"))
    if data is None:
        raise MissingParameterValue(f"input {identifier} needs wps:Data or wps:Reference", identifier)
    literal = data.find(wps("LiteralData"))
    if literal is not None:
        return RawInput(identifier=identifier, kind="literal", text=literal.text or "", uom=literal.get("uom"),
                        datatype=literal.get("dataType"))
    complex_data = data.find(wps("ComplexData"))
    if complex_data is not None:
        return RawInput(identifier=identifier, kind="complex", payload=_complex_payload(identifier, complex_data),
                        mime_type=complex_data.get("mimeType"), encoding=complex_data.get("encoding"),
                        schema=complex_data.get("schema"))
    bbox = data.find(wps("BoundingBoxData"))
    if bbox is not None:
        return RawInput(identifier=identifier, kind="bbox", bbox=_parse_bbox(identifier, bbox))
    raise InvalidParameterValue(f"input {identifier}: wps:Data needs LiteralData, ComplexData or BoundingBoxData",
                                identifier)


def _complex_payload(identifier: str, element: etree._Element) -> bytes:
    """The content of a ComplexData: its XML child, its text (CDATA included), or decoded base64."""
    children = [child for child in element if isinstance(child.tag, str)]
    if (element.get("encoding") or "").lower() == "base64":
        if children:
            raise InvalidParameterValue(f"base64 ComplexData of input {identifier} must be text", identifier)
        try:
            return base64.b64decode("".join(_text(element).split()).encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise InvalidParameterValue(f"input {identifier} is not valid base64", identifier) from None
    if children:
        if len(children) > 1:
            raise InvalidParameterValue(f"ComplexData of input {identifier} has more than one root element",
                                        identifier)
        return etree.tostring(children[0], encoding="UTF-8", with_tail=False)
    return (element.text or "").encode("utf-8")


def _corner(identifier: str, element: etree._Element | None, name: str) -> tuple[float, ...]:
    if element is None:
        raise MissingParameterValue(f"bounding box of input {identifier} needs ows:{name}", identifier)
    try:
        values = tuple(float(v) for v in _text(element).split())
    except ValueError:
        raise InvalidParameterValue(f"ows:{name} of input {identifier} must be numbers", identifier) from None
    if not values or any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise InvalidParameterValue(f"ows:{name} of input {identifier} must be finite numbers", identifier)
    return values


def _parse_bbox(identifier: str, element: etree._Element) -> BBoxValue:
    lower = _corner(identifier, element.find(ows("LowerCorner")), "LowerCorner")
    upper = _corner(identifier, element.find(ows("UpperCorner")), "UpperCorner")
    dimensions = element.get("dimensions")
    try:
        dims = int(dimensions) if dimensions else None
    except ValueError:
        raise InvalidParameterValue(f"dimensions of input {identifier} must be an integer", identifier) from None
    return BBoxValue(lower=lower, upper=upper, crs=element.get("crs"), dimensions=dims)


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _header(identifier: str, element: etree._Element) -> tuple[str, str]:
    """One wps:Header as (key, value); refused when it could not be sent as an HTTP header.

    The message names the key, never the value: a value is often a credential.
    """
    key, value = element.get("key", ""), element.get("value", "")
    if not _HEADER_NAME.fullmatch(key):
        raise InvalidParameterValue(f"wps:Header of input {identifier} needs a key that is an HTTP header name",
                                    identifier)
    if _HEADER_VALUE_FORBIDDEN.search(value):
        raise InvalidParameterValue(f"the value of wps:Header {key} of input {identifier} contains control "
                                    "characters", identifier)
    return key, value


def _parse_reference(identifier: str, element: etree._Element) -> RawInput:
    href = element.get(f"{{{XLINK}}}href") or element.get("href")
    if not href:
        raise MissingParameterValue(f"wps:Reference of input {identifier} needs xlink:href", identifier)
    method = (element.get("method") or "GET").upper()
    if method not in ("GET", "POST"):
        raise InvalidParameterValue(f"method of input {identifier} must be GET or POST", identifier)
    headers = tuple(_header(identifier, h) for h in element.iterfind(wps("Header")))
    body = None
    body_element = element.find(wps("Body"))
    if body_element is not None:
        children = [child for child in body_element if isinstance(child.tag, str)]
        body = etree.tostring(children[0], encoding="UTF-8", with_tail=False) if children else (body_element.text or "").encode()
    body_reference = element.find(wps("BodyReference"))
    body_href = None
    if body_reference is not None:
        body_href = body_reference.get(f"{{{XLINK}}}href") or body_reference.get("href")
    return RawInput(identifier=identifier,
                    reference=InputReference(href=href, method=method, headers=headers, body=body,
                                             body_href=body_href),
                    mime_type=element.get("mimeType"), encoding=element.get("encoding"),
                    schema=element.get("schema"))
