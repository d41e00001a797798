"""Complex data formats: what a ComplexInput/ComplexOutput declares and accepts.

``FORMATS`` holds the formats geospatial and climate processes use most, with the
file extension an output gets and whether the payload is binary (binary payloads
travel base64-encoded inside XML documents).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import SimpleNamespace


@dataclass(frozen=True)
class Format:
    """A mimeType with optional encoding and schema (WPS 1.0.0 ComplexDataDescription)."""

    mime_type: str
    extension: str = ""
    encoding: str = ""
    schema: str = ""
    binary: bool = False
    validate: object | None = field(default=None, compare=False)

    def matches(self, mime_type: str | None, encoding: str | None = None, schema: str | None = None) -> bool:
        """Whether a client's (mimeType, encoding, schema) choice names this format."""
        if mime_type and _base_mime(mime_type) != _base_mime(self.mime_type) and mime_type != self.mime_type:
            return False
        if encoding and self.encoding and encoding.lower() != self.encoding.lower():
            return False
        if encoding and not self.encoding and encoding.lower() not in ("utf-8", "base64"):
            return False
        if schema and self.schema and schema != self.schema:
            return False
        return True

    def with_(self, **changes: object) -> "Format":
        return replace(self, **changes)

    @property
    def is_text(self) -> bool:
        return not self.binary


def _base_mime(mime_type: str) -> str:
    return mime_type.split(";", 1)[0].strip().lower()


FORMATS = SimpleNamespace(
    GEOJSON=Format("application/geo+json", ".geojson"),
    JSON=Format("application/json", ".json"),
    GML=Format("application/gml+xml", ".gml"),
    KML=Format("application/vnd.google-earth.kml+xml", ".kml"),
    KMZ=Format("application/vnd.google-earth.kmz", ".kmz", binary=True),
    GEOTIFF=Format("image/tiff; subtype=geotiff", ".tiff", binary=True),
    NETCDF=Format("application/x-netcdf", ".nc", binary=True),
    TEXT=Format("text/plain", ".txt"),
    CSV=Format("text/csv", ".csv"),
    XML=Format("text/xml", ".xml"),
    ZIP=Format("application/zip", ".zip", binary=True),
    SHP=Format("application/x-zipped-shp", ".zip", binary=True),
    PNG=Format("image/png", ".png", binary=True),
    PDF=Format("application/pdf", ".pdf", binary=True),
)

_JSON_MIMES = {"application/json", "application/geo+json", "application/vnd.geo+json"}
_XML_MIMES = {"text/xml", "application/xml", "application/gml+xml", "application/vnd.google-earth.kml+xml"}


def is_json(fmt: Format) -> bool:
    return _base_mime(fmt.mime_type) in _JSON_MIMES or _base_mime(fmt.mime_type).endswith("+json")


def is_xml(fmt: Format) -> bool:
    base = _base_mime(fmt.mime_type)
    return base in _XML_MIMES or base.endswith("+xml")


def extension_for(mime_type: str) -> str:
    """The file extension for a mimeType (``.dat`` when unknown)."""
    base = _base_mime(mime_type)
    for fmt in vars(FORMATS).values():
        if _base_mime(fmt.mime_type) == base:
            return fmt.extension
    return ".dat"
