"""Compare coordinate reference system identifiers as CRSs, not as strings.

Clients name the same CRS in several forms: QGIS and OWSLib send
``urn:ogc:def:crs:EPSG::4326`` (or with a registry version,
``urn:ogc:def:crs:EPSG:6.6:4326``), others ``EPSG:4326`` or the OGC HTTP URI
``http://www.opengis.net/def/crs/EPSG/0/4326``.  A bounding box input that
supports one form must accept them all; the value keeps the client's form, so
what a process echoes back reads as the client wrote it.

EPSG:4326 and OGC CRS84 are *not* the same CRS (their axis order differs), so
they are never treated as equal.
"""
from __future__ import annotations

import re
from typing import Iterable

# authority and code in each of the forms in use; the version part of URNs and URIs is ignored
_FORMS = (
    re.compile(r"(?P<authority>[a-z][a-z0-9]*):(?P<code>[a-z0-9.]+)"),                              # EPSG:4326
    re.compile(r"urn:(?:x-)?ogc:def:crs:(?P<authority>[a-z][a-z0-9]*):[0-9.]*:(?P<code>[a-z0-9.]+)"),  # URN
    re.compile(r"https?://www\.opengis\.net/def/crs/(?P<authority>[a-z][a-z0-9]*)/[^/]+/(?P<code>[a-z0-9.]+)"),
    re.compile(r"https?://www\.opengis\.net/gml/srs/(?P<authority>epsg)\.xml#(?P<code>[0-9]+)"),
)


def crs_key(identifier: str) -> str:
    """A canonical key for ``identifier``: ``EPSG:4326`` for every form of EPSG 4326; other text lowercased."""
    text = identifier.strip().lower()
    if text in ("crs84", "crs84h"):  # OGC's own short names
        text = "ogc:" + text
    for form in _FORMS:
        match = form.fullmatch(text)
        if match:
            return f"{match['authority'].upper()}:{match['code'].upper()}"
    return text


def same_crs(first: str, second: str) -> bool:
    return crs_key(first) == crs_key(second)


def supported_crs(identifier: str, supported: Iterable[str]) -> str | None:
    """The declared CRS that ``identifier`` names (None when it names none of them)."""
    key = crs_key(identifier)
    for declared in supported:
        if crs_key(declared) == key:
            return declared
    return None
