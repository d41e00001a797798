"""What does not change while the gateway runs, rendered once at start: landing page, conformance,
the process list and every process description, as JSON and as HTML, and the OpenAPI document.

Answering these routes is then a dictionary look-up (the description routes are benchmarked).
"""
from __future__ import annotations

import json
from typing import Any

from . import pages
from .describe import process_description, process_summary
from .links import OPENAPI_TYPE, REL_CONFORMANCE, REL_JOB_LIST, REL_PROCESSES, link

CONFORMANCE = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
CONFORMANCE_CLASSES = tuple(CONFORMANCE + name for name in (
    "core", "ogc-process-description", "json", "html", "oas30", "job-list", "dismiss", "callback"))


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Catalogue:
    def __init__(self, metadata: Any, processes: dict[str, Any], base: str, wps_capabilities: str,
                 openapi: dict[str, Any]) -> None:
        self.base = base
        self.order = list(processes)
        self.summaries = {pid: process_summary(p, base) for pid, p in processes.items()}
        descriptions = {pid: process_description(p, base) for pid, p in processes.items()}
        self.description_json = {pid: dumps(d) for pid, d in descriptions.items()}
        self.description_html = {pid: pages.process_page(d, base) for pid, d in descriptions.items()}
        landing = {
            "title": metadata.title, "description": metadata.abstract or "OGC API – Processes and WPS 1.0.0",
            "links": [
                link(base + "/", "self", "application/json", "this document"),
                link(base + "/?f=html", "alternate", "text/html", "this document as HTML"),
                link(base + "/api", "service-desc", OPENAPI_TYPE, "the API definition (OpenAPI 3.0)"),
                link(base + "/conformance", REL_CONFORMANCE, "application/json", "conformance classes"),
                link(base + "/processes", REL_PROCESSES, "application/json", "processes"),
                link(base + "/jobs", REL_JOB_LIST, "application/json", "jobs"),
                link(wps_capabilities, "service", "text/xml", "the same processes as WPS 1.0.0"),
            ]}
        self.landing_json = dumps(landing)
        self.landing_html = pages.landing_page(landing, base)
        self.conformance_json = dumps({"conformsTo": list(CONFORMANCE_CLASSES)})
        self.openapi_json = dumps(openapi)
        self.all_processes_json = self.process_list(None, 0)
        self.all_processes_html = pages.process_list_page([self.summaries[p] for p in self.order], base)

    def process_list(self, limit: int | None, offset: int) -> bytes:
        """The list (or one page of it, with a next link) as JSON."""
        if limit is None and offset == 0 and hasattr(self, "all_processes_json"):
            return self.all_processes_json
        chosen = self.order[offset:offset + limit] if limit is not None else self.order[offset:]
        links = [link(f"{self.base}/processes", "self", "application/json", "processes"),
                 link(f"{self.base}/processes?f=html", "alternate", "text/html", "processes as HTML")]
        if limit is not None and offset + limit < len(self.order):
            links.append(link(f"{self.base}/processes?limit={limit}&offset={offset + limit}", "next",
                              "application/json", "next page"))
        return dumps({"processes": [self.summaries[p] for p in chosen], "links": links})

    def fixed_answers(self, path_prefix: str) -> list[tuple[str, bytes, str]]:
        """(request target, body, content type) of the JSON answers that never change, for the answer cache."""
        answers = [(path_prefix + "/", self.landing_json, "application/json; charset=utf-8"),
                   (path_prefix + "/conformance", self.conformance_json, "application/json; charset=utf-8"),
                   (path_prefix + "/api", self.openapi_json, "application/vnd.oai.openapi+json;version=3.0"),
                   (path_prefix + "/processes", self.all_processes_json, "application/json; charset=utf-8")]
        answers += [(f"{path_prefix}/processes/{pid}", body, "application/json; charset=utf-8")
                    for pid, body in self.description_json.items() if "/" not in pid and "?" not in pid]
        return answers
