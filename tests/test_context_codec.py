"""The response context as JSON: every field kind round-trips, and nothing that is not a context becomes one."""
import os
import pickle

import pytest

from wpsgate.protocol.context_codec import (ContextUnreadable, context_from_json, context_to_json,
                                            encode_column)
from wpsgate.protocol.documents import JobStatus, ResponseContext, render_execute_response
from wpsgate.protocol.kvp import parse_kvp
from wpsgate.protocol.requests import BBoxValue, ExecuteRequest, InputReference, OutputRequest, RawInput


def full_context() -> ResponseContext:
    request = ExecuteRequest(
        identifier="everything", version="1.0.0", language="de-DE",
        inputs=(RawInput("literal", "literal", text="3.5", uom="metre", datatype="float"),
                RawInput("untyped", None, text="a;b=c"),
                RawInput("payload", "complex", payload=bytes(range(256)), mime_type="application/x-netcdf",
                         encoding="base64", schema="http://example.org/s.xsd"),
                RawInput("xml", "complex", text="<a>\u00e9\u2603</a>", mime_type="text/xml"),
                RawInput("box", "bbox", bbox=BBoxValue((1.5, -2.0, 0.0), (3.0, 4.25, 9.0), "EPSG:4979", 3)),
                RawInput("open", "bbox", bbox=BBoxValue((0.0, 0.0), (1.0, 1.0))),
                RawInput("ref", "complex", reference=InputReference(
                    "https://example.org/data?x=1&y=2", "POST", (("Accept", "text/plain"), ("X-Token", "t")),
                    b"\x00body\xff", None), mime_type="text/plain"),
                RawInput("ref2", reference=InputReference("https://example.org/b", "POST",
                                                          body_href="https://example.org/body"))),
        outputs=(OutputRequest("out", True, "application/json", "utf-8", "s.json", "m"),
                 OutputRequest("plain")),
        raw_output=OutputRequest("raw", False, "text/plain"),
        store_execute_response=True, status=True, lineage=True, timeout=12.5, expire=None)
    return ResponseContext(service_instance="http://127.0.0.1:9/wps?service=WPS&request=GetCapabilities",
                           process_identifier="everything", process_title="Everything \u2013 all kinds",
                           process_abstract="", process_version="2.1",
                           status_location="http://127.0.0.1:9/status/x.xml", language="de-DE", lineage=True,
                           request=request, output_titles={"out": "Out", "raw": "Raw \u00fc"})


def test_every_field_kind_round_trips():
    context = full_context()
    text = context_to_json(context)
    assert text.isascii()
    back = context_from_json(text)
    assert back == context
    assert back.request == context.request  # nested dataclasses, bytes, tuples of pairs, None
    assert back.request.inputs[2].payload == bytes(range(256))
    assert back.request.inputs[6].reference.headers == (("Accept", "text/plain"), ("X-Token", "t"))
    assert back.request.inputs[4].bbox.lower == (1.5, -2.0, 0.0)
    assert context_from_json(encode_column(context)) == context  # the column's bytes


def test_minimal_context_and_parsed_request_round_trip():
    plain = ResponseContext("http://s", "hello", "Hello")
    assert context_from_json(context_to_json(plain)) == plain
    request = parse_kvp("service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=x"
                        "&lineage=true&ResponseDocument=output@asReference=true")
    context = ResponseContext("http://s", "hello", "Hello", lineage=True, request=request)
    assert context_from_json(context_to_json(context)) == context


def test_documents_rendered_from_the_decoded_context_are_identical():
    context = full_context()
    status = JobStatus("failed", "why")
    first = render_execute_response(context, status)
    again = render_execute_response(context_from_json(context_to_json(context)), status)
    strip = lambda doc: doc.split(b"creationTime=", 1)[0] + doc.split(b"creationTime=", 1)[1][22:]
    assert strip(first) == strip(again)


class _Marker:
    """Unpickling this creates a file: proof that something was unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("stored, reason", [
    (b"not json at all", "not JSON"),
    (b"\xff\xfe\x00", "UTF-8"),
    (b"[]", "version"),
    (b'{"version": 1}', "version"),
    (b'{"version": 2, "context": {}}', "version"),
    (b'{"version": 1, "context": []}', "expected an object"),
    (b'{"version": 1, "context": {"service_instance": "s"}}', "missing"),
    (b'{"version": 1, "context": {"service_instance": 1, "process_identifier": "p", "process_title": "t"}}',
     "context.service_instance: expected text"),
    (b'{"version": 1, "context": {"service_instance": "s", "process_identifier": "p", "process_title": "t",'
     b' "__class__": "os.system"}}', "unknown field"),
    (b'{"version": 1, "context": {"service_instance": "s", "process_identifier": "p", "process_title": "t",'
     b' "lineage": "yes"}}', "true or false"),
    (b'{"version": 1, "context": {"service_instance": "s", "process_identifier": "p", "process_title": "t",'
     b' "request": {"identifier": "x", "inputs": [{"identifier": "a", "payload": "AAAA"}]}}}', "base64"),
    (b'{"version": 1, "context": {"service_instance": "s", "process_identifier": "p", "process_title": "t",'
     b' "request": {"identifier": "x", "inputs": [{"identifier": "a", "payload": {"base64": "!!"}}]}}}',
     "invalid base64"),
    (b'{"version": 1, "context": {"service_instance": "s", "process_identifier": "p", "process_title": "t",'
     b' "request": {"identifier": "x", "inputs": [{"identifier": "a", "reference": {"href": "h",'
     b' "headers": [["only one"]]}}]}}}', "expected 2 items"),
    (b"[" * 100000 + b"]" * 100000, "not JSON"),
])
def test_unreadable_column_values_raise_context_unreadable(stored, reason):
    with pytest.raises(ContextUnreadable, match=reason):
        context_from_json(stored)


def test_a_crafted_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    crafted = pickle.dumps({"context": _Marker(str(marker))}, protocol=2)
    assert crafted.startswith(b"\x80")
    with pytest.raises(ContextUnreadable, match="pickle written by an older wpsgate"):
        context_from_json(crafted)
    assert not marker.exists()
    pickle.loads(crafted)  # the control: this payload does act when unpickled
    assert marker.exists()
    os.unlink(marker)
