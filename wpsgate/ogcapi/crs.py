"""CRS names between WPS (``EPSG:4326``) and OGC API (``http://www.opengis.net/def/crs/EPSG/0/4326``).

Processes declare their CRSs once, in the WPS spelling; this API shows them as the URIs it uses
and accepts either spelling from a client, always handing the process its declared name.
"""
from __future__ import annotations

from typing import Sequence

from ..process.crs import crs_key, supported_crs

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84H = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
STANDARD_BBOX_CRSS = (CRS84, CRS84H)  # the only values bbox.yaml of Part 1 1.0 admits


def crs_uri(name: str) -> str:
    """The URI for a declared CRS name (names that are neither EPSG codes nor CRS84 are returned unchanged)."""
    authority, _, code = crs_key(name).partition(":")
    if authority == "EPSG" and code.isdigit():
        return f"http://www.opengis.net/def/crs/EPSG/0/{code}"
    if authority == "OGC" and code == "CRS84":
        return CRS84
    return name


def declared_crs(given: str, declared: Sequence[str]) -> str | None:
    """The declared name ``given`` stands for (in any spelling: see wpsgate.process.crs), or None."""
    return supported_crs(given, declared)
