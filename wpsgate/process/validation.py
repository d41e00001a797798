"""Validation of complex inputs: MODE.NONE, SIMPLE and STRICT.

NONE accepts any payload.  SIMPLE checks that the client's mimeType is one the
input supports (already enforced when the request is parsed) and that a text
format is not binary garbage.  STRICT also parses JSON and XML payloads and, when
the format declares an XML schema that resolves to a local file, validates
against it.  Schemas are never fetched from the network.
"""
from __future__ import annotations

import json
import os
from urllib.parse import urlparse

from lxml import etree

from .formats import Format, is_json, is_xml


class MODE:
    NONE = 0
    SIMPLE = 1
    STRICT = 2
    VERYSTRICT = 3


class ValidationError(ValueError):
    """A complex payload that does not pass its input's validation mode."""


def secure_parser(**kwargs: object) -> etree.XMLParser:
    """An lxml parser that resolves no entities, loads no DTD and never touches the network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, **kwargs)


def _local_schema_path(schema: str) -> str | None:
    parsed = urlparse(schema)
    if parsed.scheme == "file":
        return parsed.path
    if not parsed.scheme and os.path.isabs(schema):
        return schema
    return None


def validate_complex(payload: bytes, fmt: Format, mode: int) -> None:
    """Raise ValidationError unless ``payload`` passes ``mode`` for ``fmt``."""
    if mode <= MODE.NONE:
        return
    if fmt.is_text:
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(f"payload is not UTF-8 text as {fmt.mime_type} requires") from None
    if mode < MODE.STRICT:
        return
    if is_json(fmt):
        try:
            json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"payload is not valid JSON: {exc}") from None
    elif is_xml(fmt):
        try:
            doc = etree.fromstring(payload, secure_parser())
        except etree.XMLSyntaxError as exc:
            raise ValidationError(f"payload is not well-formed XML: {exc}") from None
        if fmt.schema:
            path = _local_schema_path(fmt.schema)
            if path is None or not os.path.isfile(path):
                raise ValidationError(f"schema {fmt.schema} is not available on this server")
            schema = etree.XMLSchema(etree.parse(path, secure_parser()))
            if not schema.validate(doc):
                raise ValidationError(f"payload does not validate against {fmt.schema}: {schema.error_log.last_error}")
    if callable(fmt.validate):
        message = fmt.validate(payload)
        if message:
            raise ValidationError(str(message))
