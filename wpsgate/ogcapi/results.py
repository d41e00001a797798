"""Job results as OGC API JSON, read from the job's WPS ExecuteResponse document.

That document is the one truth of a finished job wherever it ran (a local worker, or the
joblauncher on a compute node writes it), so reading it here makes results of every job
reachable through this API, whichever front door started it.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from lxml import etree

from ..process.formats import Format, is_json
from ..process.validation import secure_parser
from ..protocol.namespaces import OWS, WPS
from .crs import STANDARD_BBOX_CRSS, crs_uri

_NS = {"wps": WPS, "ows": OWS}
_XSD = "http://www.w3.org/TR/xmlschema-2/#"
_NUMBERS = {"integer": int, "positiveInteger": int, "nonNegativeInteger": int, "float": float,
            "double": float, "decimal": float}


class NoResults(Exception):
    """The document holds no outputs (not a final success)."""


def _literal(data: etree._Element) -> Any:
    text = data.text or ""
    kind = (data.get("dataType") or "").replace(_XSD, "").rsplit(":", 1)[-1]
    value: Any = text
    if kind in _NUMBERS:
        try:
            value = _NUMBERS[kind](text)
        except ValueError:
            value = text
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            value = text
    elif kind == "boolean":
        value = text.strip().lower() in ("true", "1")
    uom = data.get("uom")
    return {"value": value, "uom": uom} if uom else value


def _bbox(data: etree._Element) -> Any:
    lower = [float(v) for v in (data.findtext("ows:LowerCorner", namespaces=_NS) or "").split()]
    upper = [float(v) for v in (data.findtext("ows:UpperCorner", namespaces=_NS) or "").split()]
    crs = crs_uri(data.get("crs") or "")
    box: dict[str, Any] = {"bbox": lower + upper}
    if crs:
        box["crs"] = crs
    if not crs or crs in STANDARD_BBOX_CRSS:
        return box
    # Part 1 1.0's bbox schema admits only CRS84 and CRS84h: any other CRS travels as a qualified value.
    return {"value": box, "mediaType": "application/ogc-bbox+json"}


def _complex(data: etree._Element) -> Any:
    mime = data.get("mimeType") or "text/plain"
    encoding = data.get("encoding")
    qualified: dict[str, Any] = {"mediaType": mime}
    if data.get("schema"):
        qualified["schema"] = data.get("schema")
    if len(data):
        qualified["value"] = etree.tostring(data[0], encoding="unicode")
        return qualified
    text = data.text or ""
    if (encoding or "").lower() == "base64":
        qualified["encoding"] = "base64"
        qualified["value"] = text.strip()
        return qualified
    if encoding:
        qualified["encoding"] = encoding
    if is_json(Format(mime)):
        try:
            qualified["value"] = json.loads(text)
            return qualified
        except ValueError:
            pass
    qualified["value"] = text
    return qualified


def _reference(element: etree._Element) -> dict[str, Any]:
    item = {"href": element.get("href") or element.get("{http://www.w3.org/1999/xlink}href") or ""}
    if element.get("mimeType"):
        item["type"] = element.get("mimeType")
    return item


def results_from_document(document: bytes) -> dict[str, Any]:
    """``{output id: value, qualified value or link}`` of a succeeded job's document."""
    root = etree.fromstring(document, secure_parser())
    if root.find("wps:Status/wps:ProcessSucceeded", _NS) is None:
        raise NoResults("the job has not succeeded")
    results: dict[str, Any] = {}
    for output in root.iterfind("wps:ProcessOutputs/wps:Output", _NS):
        identifier = output.findtext("ows:Identifier", namespaces=_NS) or ""
        reference = output.find("wps:Reference", _NS)
        if reference is not None:
            results[identifier] = _reference(reference)
            continue
        data = output.find("wps:Data", _NS)
        if data is None or not len(data):
            continue
        value = data[0]
        name = etree.QName(value).localname
        if name == "LiteralData":
            results[identifier] = _literal(value)
        elif name == "BoundingBoxData":
            results[identifier] = _bbox(value)
        else:
            results[identifier] = _complex(value)
    return results


def raw_value(result: Any) -> tuple[bytes, str]:
    """One output's bytes and media type, for ``response=raw`` (a link is answered by the caller)."""
    if isinstance(result, dict) and "value" in result and "mediaType" in result:
        value = result["value"]
        if result.get("encoding") == "base64" and isinstance(value, str):
            try:
                return base64.b64decode(value), result["mediaType"]
            except (binascii.Error, ValueError):
                pass
        if not isinstance(value, str):
            return json.dumps(value).encode("utf-8"), result["mediaType"]
        return value.encode("utf-8"), result["mediaType"]
    if isinstance(result, dict):
        if "value" in result:
            result = result["value"]
        else:
            return json.dumps(result).encode("utf-8"), "application/json"
    if isinstance(result, bool):
        return (b"true" if result else b"false"), "text/plain; charset=utf-8"
    return str(result).encode("utf-8"), "text/plain; charset=utf-8"
