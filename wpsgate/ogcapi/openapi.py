"""The OpenAPI 3.0 document of /api, generated from the route table, so it says exactly what is served.

Schemas are referenced where the OGC publishes them (Part 1 1.0's OpenAPI fragments).
"""
from __future__ import annotations

from typing import Any

from .. import __version__

SCHEMAS = "http://schemas.opengis.net/ogcapi/processes/part1/1.0/openapi/schemas/"
PARAMETERS: dict[str, dict[str, Any]] = {
    "f": {"name": "f", "in": "query", "required": False, "description": "json (default) or html",
          "schema": {"type": "string", "enum": ["json", "html"]}},
    "limit": {"name": "limit", "in": "query", "required": False,
              "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    "offset": {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
    "processID": {"name": "processID", "in": "path", "required": True, "schema": {"type": "string"}},
    "Prefer": {"name": "Prefer", "in": "header", "required": False,
               "description": "respond-async for asynchronous execution (RFC 7240)", "schema": {"type": "string"}},
    "processIDQuery": {"name": "processID", "in": "query", "required": False, "style": "form", "explode": False,
                       "schema": {"type": "array", "items": {"type": "string"}}},
    "status": {"name": "status", "in": "query", "required": False, "style": "form", "explode": False,
               "schema": {"type": "array", "items": {"$ref": SCHEMAS + "statusCode.yaml"}}},
    "type": {"name": "type", "in": "query", "required": False, "style": "form", "explode": False,
             "schema": {"type": "array", "items": {"type": "string", "enum": ["process"]}}},
    "datetime": {"name": "datetime", "in": "query", "required": False,
                 "description": "creation time: an RFC 3339 instant or interval (a/b, ../b, a/..)",
                 "schema": {"type": "string"}},
    "jobLimit": {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}},
    "cursor": {"name": "cursor", "in": "query", "required": False,
               "description": "where the next page starts (from a next link)", "schema": {"type": "string"}},
    "jobId": {"name": "jobId", "in": "path", "required": True, "schema": {"type": "string"}},
}
_EXCEPTION_TYPE = "application/json"


def _response(description: str, schema: str) -> dict[str, Any]:
    if not schema:
        return {"description": description,
                "content": {"application/vnd.oai.openapi+json;version=3.0": {"schema": {"type": "object"}}}}
    media = _EXCEPTION_TYPE if schema == "exception" else "application/json"
    response: dict[str, Any] = {"description": description,
                                "content": {media: {"schema": {"$ref": f"{SCHEMAS}{schema}.yaml"}}}}
    if schema in ("landingPage", "processList", "process", "jobList"):
        response["content"]["text/html"] = {"schema": {"type": "string"}}
    return response


def openapi_document(routes: Any, base: str, title: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in routes:
        item: dict[str, Any] = {}
        for method, operation in route.operations.items():
            entry: dict[str, Any] = {"summary": operation.summary, "operationId": operation.operation_id,
                                     "parameters": [PARAMETERS[name] for name in operation.parameters],
                                     "responses": {status: _response(description, schema)
                                                   for status, description, schema in operation.responses}}
            if operation.request_body:
                entry["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": f"{SCHEMAS}{operation.request_body}.yaml"}}}}
            item[method] = entry
        paths[route.path] = item
    return {"openapi": "3.0.3",
            "info": {"title": title, "version": __version__,
                     "description": "OGC API – Processes – Part 1: Core 1.0 of wpsgate (beside WPS 1.0.0 at /wps)"},
            "servers": [{"url": base}], "paths": paths}
