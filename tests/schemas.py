"""Validate documents against the official OGC schemas, offline.

The schemas live in the folder named by WPSGATE_OGC_SCHEMAS (default: ../shared/ogc-schemas
beside the repository); absolute schema URLs are resolved to files in that folder, never
fetched.  Where the folder is absent, schema checks are skipped with a message saying so.
"""
from __future__ import annotations

import functools
import os

import pytest
from lxml import etree

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_DIR = os.environ.get("WPSGATE_OGC_SCHEMAS", os.path.join(os.path.dirname(REPO), "shared", "ogc-schemas"))
_PREFIXES = {"http://schemas.opengis.net/": "schemas.opengis.net/", "http://www.w3.org/": "www.w3.org/"}
_BY_ROOT = {
    "{http://www.opengis.net/wps/1.0.0}Capabilities": "schemas.opengis.net/wps/1.0.0/wpsGetCapabilities_response.xsd",
    "{http://www.opengis.net/wps/1.0.0}ProcessDescriptions":
        "schemas.opengis.net/wps/1.0.0/wpsDescribeProcess_response.xsd",
    "{http://www.opengis.net/wps/1.0.0}ExecuteResponse": "schemas.opengis.net/wps/1.0.0/wpsExecute_response.xsd",
    "{http://www.opengis.net/ows/1.1}ExceptionReport": "schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd",
    "{http://www.opengis.net/wps/1.0.0}Execute": "schemas.opengis.net/wps/1.0.0/wpsExecute_request.xsd",
}


class _LocalResolver(etree.Resolver):
    def resolve(self, url, pubid, context):
        for prefix, folder in _PREFIXES.items():
            if url.startswith(prefix):
                return self.resolve_filename(os.path.join(SCHEMA_DIR, folder, url[len(prefix):]), context)
        if url.startswith(("http://", "https://")):
            raise ValueError(f"schema {url} is not available offline")
        return None


@functools.lru_cache(maxsize=None)
def _schema(relative: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalResolver())
    return etree.XMLSchema(etree.parse(os.path.join(SCHEMA_DIR, relative), parser))


def schemas_available() -> bool:
    return os.path.isdir(os.path.join(SCHEMA_DIR, "schemas.opengis.net"))


def assert_valid(document: bytes) -> etree._Element:
    """Parse ``document`` and assert it validates against the schema of its root element."""
    root = etree.fromstring(document)
    if not schemas_available():
        pytest.skip(f"OGC schemas not found in {SCHEMA_DIR}; set WPSGATE_OGC_SCHEMAS to check documents")
    relative = _BY_ROOT.get(root.tag)
    assert relative is not None, f"no schema known for root element {root.tag}"
    schema = _schema(relative)
    if not schema.validate(root):
        raise AssertionError(f"{root.tag} does not validate: {schema.error_log}\n{document[:3000]!r}")
    return root
