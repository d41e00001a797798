"""Validate OGC API – Processes JSON answers against the Part 1 1.0 schemas, offline.

The schemas are the normative OpenAPI fragments in the folder named by WPSGATE_OGCAPI_SCHEMAS
(default: ../shared/ogcapi-schemas beside the repository), registered under the URI the OGC
publishes them at, so their $refs resolve to files, never to the network.  Where the folder is
absent, schema checks are skipped with a message saying so.

The 1.0 fragments have known defects (see SOURCES.txt in that folder); the validator allows for
exactly these: overlapping ``oneOf`` alternatives are read as ``anyOf``, subscriber's ``successUrl``
requirement is dropped (the standard's text says ``successUri``), and the fragments are checked
with draft 4 semantics (OpenAPI 3.0's boolean ``exclusiveMinimum``); list-valued ``default``s are
not assertions and need nothing.
"""
from __future__ import annotations

import functools
import os
from typing import Any

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_DIR = os.environ.get("WPSGATE_OGCAPI_SCHEMAS",
                            os.path.join(os.path.dirname(REPO), "shared", "ogcapi-schemas"))
PUBLISHED = "http://schemas.opengis.net/ogcapi/processes/part1/1.0/openapi/"


def schemas_available() -> bool:
    return os.path.isdir(os.path.join(SCHEMA_DIR, "openapi", "schemas"))


def _allow_for_defects(node: Any, name: str) -> Any:
    if isinstance(node, dict):
        fixed = {("anyOf" if key == "oneOf" else key): _allow_for_defects(value, name) for key, value in node.items()}
        if name == "subscriber.yaml" and fixed.get("required") == ["successUrl"]:
            fixed.pop("required")
        return fixed
    if isinstance(node, list):
        return [_allow_for_defects(item, name) for item in node]
    return node


@functools.lru_cache(maxsize=None)
def _registry() -> Any:
    from referencing import Registry
    from referencing.jsonschema import DRAFT4
    resources = []
    for folder in ("schemas", "parameters", "responses"):
        directory = os.path.join(SCHEMA_DIR, "openapi", folder)
        for name in os.listdir(directory):
            with open(os.path.join(directory, name)) as handle:
                contents = _allow_for_defects(yaml.safe_load(handle), name)
            resources.append((f"{PUBLISHED}{folder}/{name}", DRAFT4.create_resource(contents)))
    return Registry().with_resources(resources)


@functools.lru_cache(maxsize=None)
def _validator(schema: str) -> Any:
    import jsonschema
    return jsonschema.Draft4Validator({"$ref": f"{PUBLISHED}schemas/{schema}.yaml"}, registry=_registry())


def assert_valid(document: Any, schema: str) -> Any:
    """Assert ``document`` (parsed JSON) validates against ``schemas/<schema>.yaml``; returns it."""
    if not schemas_available():
        pytest.skip(f"OGC API schemas not found in {SCHEMA_DIR}; set WPSGATE_OGCAPI_SCHEMAS to check answers")
    pytest.importorskip("jsonschema", reason="jsonschema (the test extra) validates the OGC API answers")
    errors = sorted(_validator(schema).iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        details = "\n".join(f"- {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:10])
        raise AssertionError(f"answer does not validate against {schema}.yaml:\n{details}\n{str(document)[:2000]}")
    return document


def assert_valid_schema_object(schema_object: Any) -> None:
    """A process description's input or output schema, against schema.yaml (also used by assert_valid)."""
    assert_valid(schema_object, "schema")
