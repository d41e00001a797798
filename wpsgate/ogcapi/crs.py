"""CRS names between WPS (``EPSG:4326``) and OGC API (``http://www.opengis.net/def/crs/EPSG/0/4326``).

Processes declare their CRSs once, in the WPS spelling; this API shows them as the URIs it uses
and accepts either spelling from a client, always handing the process its declared name.
"""
from __future__ import annotations

import re
from typing import Sequence

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84H = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
STANDARD_BBOX_CRSS = (CRS84, CRS84H)  # the only values bbox.yaml of Part 1 1.0 admits
_EPSG_NAME = re.compile(r"(?i)(?:urn:ogc:def:crs:)?EPSG:{1,2}(\d+)")
_EPSG_URI = re.compile(r"(?i)https?://www\.opengis\.net/def/crs/EPSG/0/(\d+)")
_OGC_URI = re.compile(r"(?i)https?://www\.opengis\.net/def/crs/OGC/[^/]+/(CRS84h?)")


def crs_uri(name: str) -> str:
    """The URI for a declared CRS name (unknown spellings are returned unchanged)."""
    match = _EPSG_NAME.fullmatch(name.strip())
    if match:
        return f"http://www.opengis.net/def/crs/EPSG/0/{match.group(1)}"
    if name.strip().upper() in ("CRS84", "OGC:CRS84", "URN:OGC:DEF:CRS:OGC:1.3:CRS84"):
        return CRS84
    return name


def _key(name: str) -> str:
    text = name.strip()
    for pattern, form in ((_EPSG_NAME, "epsg:{}"), (_EPSG_URI, "epsg:{}"), (_OGC_URI, "ogc:{}")):
        match = pattern.fullmatch(text)
        if match:
            return form.format(match.group(1).lower())
    if text.upper() in ("CRS84", "OGC:CRS84"):
        return "ogc:crs84"
    return text.lower()


def declared_crs(given: str, declared: Sequence[str]) -> str | None:
    """The declared name ``given`` stands for (in either spelling), or None."""
    wanted = _key(given)
    for name in declared:
        if _key(name) == wanted:
            return name
    return None
