"""Link objects and the link relations of OGC API – Processes."""
from __future__ import annotations

from typing import Any

REL = "http://www.opengis.net/def/rel/ogc/1.0/"
REL_CONFORMANCE = REL + "conformance"
REL_PROCESSES = REL + "processes"
REL_JOB_LIST = REL + "job-list"
REL_EXECUTE = REL + "execute"
REL_RESULTS = REL + "results"
REL_STATUS = "status"
OPENAPI_TYPE = "application/vnd.oai.openapi+json;version=3.0"


def link(href: str, rel: str, type_: str | None = None, title: str | None = None) -> dict[str, Any]:
    item = {"href": href, "rel": rel}
    if type_:
        item["type"] = type_
    if title:
        item["title"] = title
    return item
