"""A hostile-input corpus against real gateways: every case gets a schema-valid OWS ExceptionReport with the right
exceptionCode, locator and HTTP status (never a 500, never a traceback), in bounded time, and afterwards the
gateways still serve GetCapabilities and run hello.

Two gateways: the shared ``gateway`` (default limits, 3 MB) for the large documents, and ``small`` (this module's
own, maxrequestsize 2 kB, maxsingleinputsize 512 bytes) for the limits and the rest of the corpus.  Requests whose
exact bytes matter (broken %-escapes, path traversal) go through http.client, which sends the target verbatim;
``requests`` would re-quote them.  All traffic is loopback.
"""
from __future__ import annotations

import base64
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from html import escape
from typing import Callable
from urllib.parse import quote

import pytest
import requests
from lxml import etree

from .gateway import NS, GatewayProcess, literal_outputs
from .loopback import loopback_server
from .schemas import assert_valid

WPS_NS = ('xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1" '
          'xmlns:xlink="http://www.w3.org/1999/xlink"')
LIMIT_BODY = 2048  # maxrequestsize of the small gateway
LIMIT_INPUT = 512  # maxsingleinputsize of the small gateway
FAST = 3.0  # seconds: a refused attack is answered at once, not after expanding or fetching anything
EXECUTE = "/wps?service=WPS&request=Execute&version=1.0.0&identifier="


# --- plumbing ---------------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    content: bytes
    seconds: float


def from_requests(response: requests.Response, started: float) -> Reply:
    return Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content,
                 time.monotonic() - started)


def send(gw: GatewayProcess, method: str, target: str | bytes, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30) -> Reply:
    """One request with the target sent exactly as given (no re-quoting, no normalisation)."""
    if isinstance(target, bytes):
        target = target.decode("latin-1")
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=timeout)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        content = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, content,
                     time.monotonic() - started)
    finally:
        connection.close()


def get(gw: GatewayProcess, target: str | bytes, **kwargs) -> Reply:
    return send(gw, "GET", target, **kwargs)


def post(gw: GatewayProcess, body: str | bytes, **kwargs) -> Reply:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return send(gw, "POST", "/wps", data, {"Content-Type": "text/xml"}, **kwargs)


def execute_get(gw: GatewayProcess, identifier: str, inputs: str = "", **params: str) -> Reply:
    """KVP Execute through requests (values fully %-encoded, as generic clients do)."""
    query = {"service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": identifier}
    if inputs:
        query["DataInputs"] = inputs
    query.update(params)
    started = time.monotonic()
    return from_requests(gw.session.get(gw.wps, params=query, timeout=60), started)


def no_traceback(reply: Reply) -> None:
    text = reply.content.decode("utf-8", errors="replace")
    assert "Traceback" not in text and 'File "/' not in text, text[:2000]


def report_of(reply: Reply) -> tuple[str, str | None, str]:
    root = etree.fromstring(reply.content)
    assert root.tag == "{http://www.opengis.net/ows/1.1}ExceptionReport", reply.content[:500]
    item = root.find("ows:Exception", NS)
    return item.get("exceptionCode"), item.get("locator"), "".join(item.itertext()).strip()


def check_report(reply: Reply, status: int, code: str, locator: str | None, within: float | None = None,
                 locator_case: bool = True) -> str:
    """Assert a schema-valid ExceptionReport with this status, code and locator (in time); return its text."""
    no_traceback(reply)
    assert reply.status < 500, (reply.status, reply.content[:1000])
    assert reply.status == status, (reply.status, reply.content[:1000])
    assert reply.headers.get("content-type", "").startswith("text/xml"), reply.headers
    assert_valid(reply.content)
    got_code, got_locator, text = report_of(reply)
    if not locator_case and got_locator is not None and locator is not None:
        got_locator, locator = got_locator.lower(), locator.lower()
    assert (got_code, got_locator) == (code, locator), reply.content[:1000]
    if within is not None:
        assert reply.seconds < within, f"answered after {reply.seconds:.2f} s"
    return text


def succeeded(reply: Reply) -> etree._Element:
    no_traceback(reply)
    assert reply.status == 200, reply.content[:2000]
    root = assert_valid(reply.content)
    assert root.find("wps:Status/wps:ProcessSucceeded", NS) is not None, reply.content[:2000]
    return root


def execute_xml(identifier: str, inputs: str = "", form: str = "", root_attrs: str = "") -> str:
    data_inputs = f"<wps:DataInputs>{inputs}</wps:DataInputs>" if inputs else ""
    return (f'<wps:Execute service="WPS" version="1.0.0" {WPS_NS} {root_attrs}>'
            f"<ows:Identifier>{identifier}</ows:Identifier>{data_inputs}{form}</wps:Execute>")


def an_input(identifier: str, data: str) -> str:
    return f"<wps:Input><ows:Identifier>{identifier}</ows:Identifier>{data}</wps:Input>"


def literal(identifier: str, value: str) -> str:
    return an_input(identifier, f"<wps:Data><wps:LiteralData>{value}</wps:LiteralData></wps:Data>")


def complex_data(identifier: str, content: str, attrs: str = 'mimeType="text/plain"') -> str:
    return an_input(identifier, f"<wps:Data><wps:ComplexData {attrs}>{content}</wps:ComplexData></wps:Data>")


RAW_OUTPUT = ("<wps:ResponseForm><wps:RawDataOutput><ows:Identifier>output</ows:Identifier></wps:RawDataOutput>"
              "</wps:ResponseForm>")


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """This corpus's own gateway, with small limits so that the size checks are cheap to reach."""
    process = GatewayProcess(str(tmp_path_factory.mktemp("hostile")),
                             {"server": {"maxrequestsize": "2kb", "maxsingleinputsize": LIMIT_INPUT}}).start()
    yield process
    process.stop()


class _CanaryHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hits.append(self.path)
        body = b"CANARYCONTENT canarycontent"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def canary():
    """A loopback HTTP server that records every request: anything the gateway fetches while parsing shows up."""
    with loopback_server(_CanaryHandler) as server:
        server.hits = []
        yield server


# --- XML entities, DTDs and other ways to make the parser read or fetch -------------------------------------

HELLO_NAMED = lambda name: execute_xml("hello", literal("name", name), RAW_OUTPUT)  # noqa: E731

DTD_ATTACKS: dict[str, Callable[[str], str]] = {
    "xxe-file": lambda c: '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + HELLO_NAMED("&xxe;"),
    "xxe-loopback-discard": lambda c: '<!DOCTYPE x [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]>'
                                      + HELLO_NAMED("&xxe;"),
    "xxe-canary": lambda c: f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "{c}/entity">]>' + HELLO_NAMED("&xxe;"),
    "xxe-in-complexdata": lambda c: '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + execute_xml(
        "wordcounter", complex_data("text", "&xxe;"), RAW_OUTPUT),
    "parameter-entity-file": lambda c: '<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
                                       + HELLO_NAMED("x"),
    "parameter-entity-canary": lambda c: f'<!DOCTYPE x [<!ENTITY % p SYSTEM "{c}/param"> %p;]>' + HELLO_NAMED("x"),
    "oob-exfiltration": lambda c: ('<!DOCTYPE x [<!ENTITY % file SYSTEM "file:///etc/passwd">'
                                   f'<!ENTITY % dtd SYSTEM "{c}/evil.dtd"> %dtd;]>' + HELLO_NAMED("x")),
    "external-dtd-canary": lambda c: f'<!DOCTYPE wps:Execute SYSTEM "{c}/system.dtd">' + HELLO_NAMED("x"),
    "public-dtd-canary": lambda c: f'<!DOCTYPE wps:Execute PUBLIC "-//EVIL//DTD X//EN" "{c}/public.dtd">'
                                   + HELLO_NAMED("x"),
    "internal-entity": lambda c: '<!DOCTYPE x [<!ENTITY e "INTERNALENTITYVALUE">]>' + HELLO_NAMED("&e;"),
    "internal-entity-in-attribute": lambda c: ('<!DOCTYPE x [<!ENTITY v "1.0.0">]>'
                                               + HELLO_NAMED("x").replace('version="1.0.0"', 'version="&v;"')),
    "billion-laughs": lambda c: ('<!DOCTYPE lolz [<!ENTITY lol0 "lollollollollollollollollollol">'
                                 + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">'
                                           for i in range(1, 10)) + "]>" + HELLO_NAMED("&lol9;")),
}


@pytest.mark.parametrize("attack", list(DTD_ATTACKS), ids=list(DTD_ATTACKS))
def test_dtds_and_entities_are_refused_fast_and_fetch_nothing(small, canary, attack):
    canary.hits.clear()
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + DTD_ATTACKS[attack](canary.url)
    assert len(body.encode()) <= LIMIT_BODY  # refused for its DTD, not its size
    reply = post(small, body)
    check_report(reply, 400, "NoApplicableCode", "request", within=FAST)
    for leak in (b"root:", b"nologin", b"CANARYCONTENT", b"INTERNALENTITYVALUE", b"lollollollollollol"):
        assert leak not in reply.content
    assert canary.hits == []


def test_quadratic_blowup_is_refused_fast(gateway):
    """One 10 kB entity referenced 10,000 times (100 MB expanded) in a 40 kB body."""
    body = (f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "{"A" * 10_000}">]>'
            + HELLO_NAMED("&a;" * 10_000))
    check_report(post(gateway, body), 400, "NoApplicableCode", "request", within=FAST)


def test_schema_location_and_stylesheet_are_never_fetched(small, canary):
    canary.hits.clear()
    body = (f'<?xml version="1.0"?>\n<?xml-stylesheet type="text/xsl" href="{canary.url}/style.xsl"?>\n'
            + execute_xml("hello", literal("name", "Ada"), RAW_OUTPUT,
                          'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation='
                          f'"http://www.opengis.net/wps/1.0.0 {canary.url}/wpsExecute_request.xsd"'))
    reply = post(small, body)
    assert (reply.status, reply.content) == (200, b"Hello Ada")
    assert canary.hits == []


def test_xinclude_in_complex_data_is_not_processed(small, canary):
    canary.hits.clear()
    content = ('<doc xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd" parse="text"/>'
               f'<xi:include href="{canary.url}/xinclude" parse="text"/></doc>')
    reply = post(small, execute_xml("wordcounter", complex_data("text", content), RAW_OUTPUT))
    no_traceback(reply)
    assert reply.status == 200, reply.content[:1000]
    words = {word for _, word in json.loads(reply.content)}
    assert "include" in words and not words & {"nologin", "root", "canarycontent"}, words
    assert canary.hits == []


# --- deep nesting -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["complexdata", "reference-body", "document"])
def test_deeply_nested_xml_is_refused(gateway, where):
    deep = "<a>" * 10_000 + "deep" + "</a>" * 10_000
    if where == "complexdata":
        body = execute_xml("wordcounter", complex_data("text", deep))
    elif where == "reference-body":
        body = execute_xml("wordcounter", an_input(
            "text", f'<wps:Reference xlink:href="http://127.0.0.1:9/x" method="POST" mimeType="text/plain">'
                    f"<wps:Body>{deep}</wps:Body></wps:Reference>"))
    else:
        body = deep
    check_report(post(gateway, body), 400, "NoApplicableCode", "request", within=FAST)


# --- request size -----------------------------------------------------------------------------------------


def hello_body_of_size(size: int) -> bytes:
    """A valid hello Execute (RawDataOutput) padded with a comment to exactly ``size`` bytes."""
    body = execute_xml("hello", literal("name", "Ada"), RAW_OUTPUT)
    padding = size - len(body.encode()) - len("<!---->")
    assert padding >= 0
    return (body + "<!--" + "x" * padding + "-->").encode()


def test_body_of_exactly_maxrequestsize_is_parsed(small):
    reply = post(small, hello_body_of_size(LIMIT_BODY))
    assert (reply.status, reply.content) == (200, b"Hello Ada")


def test_body_one_byte_over_maxrequestsize_with_content_length(small):
    check_report(post(small, hello_body_of_size(LIMIT_BODY + 1)), 413, "NoApplicableCode", "request", within=FAST)


def test_body_over_maxrequestsize_chunked(small):
    body = hello_body_of_size(3 * LIMIT_BODY)

    def chunks():
        for start in range(0, len(body), 512):
            yield body[start:start + 512]

    started = time.monotonic()
    response = small.session.post(small.wps, data=chunks(), headers={"Content-Type": "text/xml"}, timeout=30)
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    check_report(from_requests(response, started), 413, "NoApplicableCode", "request", within=FAST)


def test_huge_declared_content_length_is_refused_without_waiting_for_the_body(small):
    """5 GB announced, 4 bytes sent: the answer comes at once (the gateway must not wait for the rest)."""
    with socket.create_connection(("127.0.0.1", small.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /wps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                     b"Content-Length: 5000000000\r\n\r\n<x/>")
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
                if b"</ows:ExceptionReport>" in data:
                    break
        except ConnectionResetError:
            pass
        seconds = time.monotonic() - started
    head, _, content = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), data[:500]
    check_report(Reply(413, {"content-type": "text/xml"}, content, seconds), 413, "NoApplicableCode", "request",
                 within=FAST)


# --- inline inputs over maxsingleinputsize ----------------------------------------------------------------

OVER = LIMIT_INPUT + 88  # 600 bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize("body,locator", [
    (execute_xml("hello", literal("name", "x" * OVER)), "name"),
    (execute_xml("hello", literal("name", "\u20ac" * (OVER // 3))), "name"),  # 600 bytes, 200 characters
    (execute_xml("wordcounter", complex_data("text", "w " * (OVER // 2))), "text"),
    (execute_xml("wordcounter", complex_data("text", f"<![CDATA[{'w ' * (OVER // 2)}]]>")), "text"),
    (execute_xml("wordcounter", complex_data("text", "<d>" + "w " * (OVER // 2) + "</d>")), "text"),
    (execute_xml("wordcounter", complex_data("text", _b64(b"w " * (OVER // 2)),
                                             'mimeType="text/plain" encoding="base64"')), "text"),
], ids=["literal", "literal-multibyte", "complex-text", "complex-cdata", "complex-xml", "complex-base64"])
def test_xml_inline_input_over_maxsingleinputsize(small, body, locator):
    assert len(body.encode()) <= LIMIT_BODY  # the input is too large, not the request
    check_report(post(small, body), 413, "FileSizeExceeded", locator)


@pytest.mark.parametrize("identifier,inputs,locator", [
    ("hello", "name=" + "x" * OVER, "name"),
    ("hello", "name=" + "\u20ac" * (OVER // 3), "name"),  # 600 bytes, 200 characters
    ("wordcounter", "text=" + "w " * (OVER // 2), "text"),
    ("wordcounter", f"text={_b64(b'w ' * (OVER // 2))}@encoding=base64@mimeType=text/plain", "text"),
], ids=["literal", "literal-multibyte", "complex", "complex-base64"])
def test_kvp_inline_input_over_maxsingleinputsize(small, identifier, inputs, locator):
    check_report(execute_get(small, identifier, inputs), 413, "FileSizeExceeded", locator)


def test_inline_input_under_maxsingleinputsize_is_accepted(small):
    reply = execute_get(small, "hello", "name=" + "x" * (LIMIT_INPUT - 10), RawDataOutput="output")
    assert (reply.status, reply.content) == (200, ("Hello " + "x" * (LIMIT_INPUT - 10)).encode())


# --- encodings and base64 ---------------------------------------------------------------------------------

_HELLO = execute_xml("hello", literal("name", "Zo\u00eb"), RAW_OUTPUT)


@pytest.mark.parametrize("body", [
    ('<?xml version="1.0" encoding="UTF-8"?>' + _HELLO).encode().replace("\u00eb".encode(), b"\xff\xfe"),
    ('<?xml version="1.0" encoding="UTF-8"?>' + _HELLO).encode("latin-1"),
    ('<?xml version="1.0" encoding="UTF-16"?>' + _HELLO).encode("utf-8"),
    ('<?xml version="1.0" encoding="x-bogus-charset"?>' + _HELLO).encode("utf-8"),
    _HELLO.encode().replace(b"Zo", b"Z\x00o"),
    b"\xef\xbb\xbf\xef\xbb\xbf" + _HELLO.encode(),
], ids=["invalid-utf8", "latin1-bytes-declared-utf8", "utf16-declared-utf8-used", "unknown-encoding", "nul-byte",
        "double-bom"])
def test_body_not_in_its_declared_encoding_is_malformed(small, body):
    check_report(post(small, body), 400, "NoApplicableCode", "request", within=FAST)


def test_body_really_in_utf16_is_understood(small):
    reply = post(small, ('<?xml version="1.0" encoding="UTF-16"?>' + _HELLO).encode("utf-16"))
    assert (reply.status, reply.content.decode("utf-8")) == (200, "Hello Zo\u00eb")


@pytest.mark.parametrize("content", ["abc", "Zm9v!", "\u00eb\u00eb\u00eb\u00eb", "====", "Z"])
def test_bad_base64_in_xml(small, content):
    body = execute_xml("wordcounter", complex_data("text", content, 'mimeType="text/plain" encoding="base64"'))
    check_report(post(small, body), 400, "InvalidParameterValue", "text")


@pytest.mark.parametrize("value", ["abc", "Zm9v%21", "%C3%AB%C3%AB%C3%AB%C3%AB", "Z"])
def test_bad_base64_in_kvp(small, value):
    reply = get(small, EXECUTE + f"wordcounter&DataInputs=text={value}@encoding=base64@mimeType=text/plain")
    check_report(reply, 400, "InvalidParameterValue", "text")


# --- elements in unknown namespaces -----------------------------------------------------------------------


@pytest.mark.parametrize("body,status,code,locator", [
    (execute_xml("hello").replace("<wps:Execute ", '<x:Execute xmlns:x="urn:evil" ')
     .replace("</wps:Execute>", "</x:Execute>"), 400, "InvalidParameterValue", "request"),
    (execute_xml("hello").replace("<ows:Identifier>hello</ows:Identifier>",
                                  '<x:Identifier xmlns:x="urn:evil">hello</x:Identifier>'),
     400, "MissingParameterValue", "Identifier"),
    (execute_xml("hello").replace("<ows:Identifier>hello</ows:Identifier>",
                                  "<wps:Identifier>hello</wps:Identifier>"),
     400, "MissingParameterValue", "Identifier"),
    (execute_xml("hello", literal("name", "x").replace("<wps:Input>", '<x:Input xmlns:x="urn:evil">')
                 .replace("</wps:Input>", "</x:Input>")), 400, "MissingParameterValue", "name"),
    (execute_xml("hello", an_input("name", '<x:Data xmlns:x="urn:evil"><wps:LiteralData>x</wps:LiteralData>'
                                           "</x:Data>")), 400, "MissingParameterValue", "name"),
    (execute_xml("hello", an_input("name", '<wps:Data><x:LiteralData xmlns:x="urn:evil">x</x:LiteralData>'
                                           "</wps:Data>")), 400, "InvalidParameterValue", "name"),
    (execute_xml("hello", an_input("name", "<wps:Data><wps:LiteralData>x</wps:LiteralData></wps:Data>")
                 .replace("<ows:Identifier>name</ows:Identifier>",
                          '<x:Identifier xmlns:x="urn:evil">name</x:Identifier>')),
     400, "MissingParameterValue", "Identifier"),
    (execute_xml("wordcounter", an_input("text", '<x:Reference xmlns:x="urn:evil" xlink:href="file:///etc/passwd"/>')),
     400, "MissingParameterValue", "text"),
    (execute_xml("hello", literal("name", "x"),
                 '<wps:ResponseForm><x:RawDataOutput xmlns:x="urn:evil"><ows:Identifier>output</ows:Identifier>'
                 "</x:RawDataOutput></wps:ResponseForm>"), 400, "InvalidParameterValue", "ResponseForm"),
], ids=["execute-root", "process-identifier", "identifier-in-wps-ns", "input", "data", "literal-data",
        "input-identifier", "reference", "raw-data-output"])
def test_elements_in_unknown_namespaces(small, body, status, code, locator):
    check_report(post(small, body), status, code, locator)


# --- KVP: broken escapes, duplicate and missing keys ------------------------------------------------------


@pytest.mark.parametrize("target,code,locator", [
    (EXECUTE + "hello&DataInputs=name=%zz", "InvalidParameterValue", "name"),
    (EXECUTE + "hello&DataInputs=name=a%4", "InvalidParameterValue", "name"),
    (EXECUTE + "hello&DataInputs=name=100%", "InvalidParameterValue", "name"),
    (EXECUTE + "hello&DataInputs=name=%%41", "InvalidParameterValue", "name"),
    (EXECUTE + "hello&DataInputs=na%zzme=a", "InvalidParameterValue", "DataInputs"),
    (EXECUTE + "hello&DataInputs=name=a@uom=%zz", "InvalidParameterValue", "name"),
    (EXECUTE + "hello&DataInputs=name=a&ResponseDocument=out%zzput", "InvalidParameterValue", "ResponseDocument"),
    (EXECUTE + "hello&DataInputs=name=a&RawDataOutput=output@mimeType=%4", "InvalidParameterValue", "output"),
    (EXECUTE + "hel%zzlo&DataInputs=name=a", "InvalidParameterValue", "identifier"),
    (EXECUTE + "hel%C3%28lo&DataInputs=name=a", "InvalidParameterValue", "identifier"),
    (EXECUTE + "hello&DataInputs=name=%C3", "InvalidParameterValue", "name"),
    ("/wps?service=WP%zzS&request=GetCapabilities", "InvalidParameterValue", "service"),
    ("/wps?service=WPS&re%4quest=GetCapabilities", "InvalidParameterValue", "request"),
    ("/wps?service=WPS&request=GetCapabilities&AcceptVersions=1.0.0%", "InvalidParameterValue", "acceptversions"),
], ids=["value-zz", "value-truncated", "value-lone-percent", "value-double-percent", "identifier", "attribute",
        "response-document", "raw-data-output-attribute", "process-identifier", "process-identifier-utf8",
        "value-truncated-utf8", "plain-value", "key", "accept-versions"])
def test_kvp_broken_escapes(small, target, code, locator):
    check_report(get(small, target), 400, code, locator, locator_case=False)


@pytest.mark.parametrize("target,code,locator", [
    (EXECUTE + "hello&DataInputs=name=a&DataInputs=name=b", "InvalidParameterValue", "DataInputs"),
    ("/wps?SERVICE=WPS&service=WPS&request=GetCapabilities", "InvalidParameterValue", "service"),
    (EXECUTE + "hello&identifier=wordcounter&DataInputs=name=a", "InvalidParameterValue", "identifier"),
    (EXECUTE + "hello&DataInputs=name=a&RawDataOutput=output&rawdataoutput=output", "InvalidParameterValue",
     "RawDataOutput"),
    ("/wps?request=GetCapabilities", "MissingParameterValue", "service"),
    ("/wps?service=&request=GetCapabilities", "MissingParameterValue", "service"),
    ("/wps?service&request", "MissingParameterValue", "service"),
    ("/wps?&&&=&==", "MissingParameterValue", "service"),
    ("/wps?service=WPS", "MissingParameterValue", "request"),
    ("/wps?service=WPS&request=Execute&identifier=hello", "MissingParameterValue", "version"),
    ("/wps?service=WPS&request=Execute&version=1.0.0", "MissingParameterValue", "identifier"),
    ("/wps?service=WPS&request=Execute&version=1.0.0&identifier=", "MissingParameterValue", "identifier"),
    (EXECUTE + "hello&DataInputs=;;;", "MissingParameterValue", "name"),
    (EXECUTE + "hello&DataInputs==x", "InvalidParameterValue", "DataInputs"),
    (EXECUTE + "hello&DataInputs=name=x@", "InvalidParameterValue", "name"),
    (EXECUTE + "hello&DataInputs=name=x@uom", "InvalidParameterValue", "name"),
    (EXECUTE + "hello&DataInputs=name=x@evil=1", "InvalidParameterValue", "name"),
], ids=["datainputs-twice", "service-twice-any-case", "identifier-twice", "rawdataoutput-twice", "no-service",
        "empty-service", "keys-without-values", "only-separators", "no-request", "no-version", "no-identifier",
        "empty-identifier", "empty-entries", "entry-without-identifier", "attribute-without-name",
        "attribute-without-value", "unknown-attribute"])
def test_kvp_duplicate_and_missing_keys(small, target, code, locator):
    check_report(get(small, target), 400, code, locator, locator_case=False)


# --- numbers and literals ---------------------------------------------------------------------------------

NOT_FLOATS = ["NaN", "nan", "-NaN", "inf", "-inf", "+inf", "INF", "-INF", "Infinity", "-Infinity", "1e400", "-1e400",
              str(10 ** 399), str(10 ** 400), "1" + "0" * 1000, "0x10", "1_000", "\u0661\u0662", "", "1e", ".",
              "--1", "1.5.5", "\u00bd", "1,5", "1e-5e5"]


@pytest.mark.parametrize("value", NOT_FLOATS, ids=[v[:12] or "empty" for v in NOT_FLOATS])
def test_float_input_refuses_non_finite_and_non_numbers(gateway, value):
    check_report(execute_get(gateway, "inout", f"string=x;float={value}"), 400, "InvalidParameterValue", "float")
    check_report(post(gateway, execute_xml("inout", literal("string", "x") + literal("float", value))), 400,
                 "InvalidParameterValue", "float")


@pytest.mark.parametrize("value", ["9" * 1000, "-" + "9" * 1000, "1e3", "0x7", "\u0663", "7.0", "", "+", "1 1",
                                   "true"], ids=lambda v: v[:12] or "empty")
def test_integer_input_refuses_huge_and_non_integers(gateway, value):
    check_report(execute_get(gateway, "inout", f"string=x;int={value}"), 400, "InvalidParameterValue", "int")
    check_report(post(gateway, execute_xml("inout", literal("string", "x") + literal("int", value))), 400,
                 "InvalidParameterValue", "int")


@pytest.mark.parametrize("value", ["1e400,0,1,1", "nan,0,1,1", "0,0,inf,1", "0,-inf,1,1",
                                   "0,0,1,1,EPSG:4326,99999999999999999999999", "0,0,1,1,EPSG:4326,NaN"])
def test_bounding_box_refuses_non_finite_and_absurd_values(small, value):
    check_report(execute_get(small, "bbox", f"bbox={value}"), 400, "InvalidParameterValue", "bbox")


@pytest.mark.parametrize("lower,upper", [("1e400 0", "1 1"), ("NaN 0", "1 1"), ("0 0", "1 INF")])
def test_xml_bounding_box_refuses_non_finite(small, lower, upper):
    data = (f'<wps:Data><wps:BoundingBoxData crs="EPSG:4326"><ows:LowerCorner>{lower}</ows:LowerCorner>'
            f"<ows:UpperCorner>{upper}</ows:UpperCorner></wps:BoundingBoxData></wps:Data>")
    check_report(post(small, execute_xml("bbox", an_input("bbox", data))), 400, "InvalidParameterValue", "bbox")


@pytest.mark.parametrize("key", ["TIMEOUT", "EXPIRE"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "0", "-1", "soon"])
def test_timeout_and_expire_refuse_non_finite(small, key, value):
    check_report(execute_get(small, "hello", "name=x", **{key: value}), 400, "InvalidParameterValue", key)


@pytest.mark.parametrize("attribute", ["timeout", "expire"])
def test_xml_timeout_and_expire_refuse_non_finite(small, attribute):
    form = f'<wps:ResponseForm><wps:ResponseDocument {attribute}="NaN"/></wps:ResponseForm>'
    check_report(post(small, execute_xml("hello", literal("name", "x"), form)), 400, "InvalidParameterValue",
                 attribute)


WRONG_LITERALS = [("int", "4"), ("int", "-7"), ("int", "1.5"), ("float", "100.0001"), ("float", "-0.0001"),
                  ("float", "abc"), ("boolean", "2"), ("boolean", "maybe"), ("date", "2017-02-29"),
                  ("date", "20170511"), ("date", "2017-5-11"), ("datetime", "2017-09-10T25:00:00Z"),
                  ("datetime", "2017-09-10"), ("datetime", "yesterday"), ("string_choice", "Rock"),
                  ("string_choice", "lizard")]


@pytest.mark.parametrize("identifier,value", WRONG_LITERALS, ids=[f"{i}={v}" for i, v in WRONG_LITERALS])
def test_out_of_range_and_wrong_typed_literals(small, identifier, value):
    check_report(execute_get(small, "inout", f"string=x;{identifier}={value}"), 400, "InvalidParameterValue",
                 identifier)
    check_report(post(small, execute_xml("inout", literal("string", "x") + literal(identifier, value))), 400,
                 "InvalidParameterValue", identifier)


def test_literal_given_as_complex_or_bbox_and_complex_given_as_literal(small):
    check_report(post(small, execute_xml("inout", literal("string", "x") + complex_data("int", "3"))), 400,
                 "InvalidParameterValue", "int")
    check_report(post(small, execute_xml("hello", an_input("name", '<wps:Data><wps:BoundingBoxData crs="EPSG:4326">'
                                                                   "<ows:LowerCorner>0 0</ows:LowerCorner>"
                                                                   "<ows:UpperCorner>1 1</ows:UpperCorner>"
                                                                   "</wps:BoundingBoxData></wps:Data>"))),
                 400, "InvalidParameterValue", "name")
    check_report(post(small, execute_xml("bbox", literal("bbox", "0,0,1,1"))), 400, "InvalidParameterValue", "bbox")


# --- occurrences ------------------------------------------------------------------------------------------


def _as_xml_input(identifier: str, value: str) -> str:
    if identifier == "text":
        return complex_data(identifier, value)
    if identifier == "bbox":
        numbers = value.split(",")
        return an_input(identifier, '<wps:Data><wps:BoundingBoxData crs="EPSG:4326">'
                                    f"<ows:LowerCorner>{' '.join(numbers[:2])}</ows:LowerCorner>"
                                    f"<ows:UpperCorner>{' '.join(numbers[2:4])}</ows:UpperCorner>"
                                    "</wps:BoundingBoxData></wps:Data>")
    return literal(identifier, value)


@pytest.mark.parametrize("identifier,inputs,code,locator", [
    ("inout", "string=x;" + ";".join(["float=1"] * 6), "InvalidParameterValue", "float"),
    ("inout", "string=x;string=y", "InvalidParameterValue", "string"),
    ("inout", "string=x;int=1;int=2", "InvalidParameterValue", "int"),
    ("inout", "string=x;bbox=0,0,1,1;bbox=0,0,1,1", "InvalidParameterValue", "bbox"),
    ("hello", "", "MissingParameterValue", "name"),
    ("wordcounter", "", "MissingParameterValue", "text"),
    ("wordcounter", "text=a;text=b", "InvalidParameterValue", "text"),
], ids=["float-6", "string-2", "int-2", "bbox-2", "no-name", "no-text", "text-2"])
def test_too_many_or_too_few_occurrences(small, identifier, inputs, code, locator):
    check_report(execute_get(small, identifier, inputs), 400, code, locator)
    xml_inputs = "".join(_as_xml_input(*entry.split("=", 1)) for entry in inputs.split(";") if entry)
    check_report(post(small, execute_xml(identifier, xml_inputs)), 400, code, locator)


# --- formats and outputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("identifier,inputs,params,locator", [
    ("wordcounter", "text=a@mimeType=application/x-evil", {}, "text"),
    ("wordcounter", "text=a@mimeType=text/plain@encoding=utf-16", {}, "text"),
    ("inout", "string=x;text=a@mimeType=text/html", {}, "text"),
    ("wordcounter", "text=a", {"ResponseDocument": "output@mimeType=text/html"}, "output"),
    ("wordcounter", "text=a", {"RawDataOutput": "output@mimeType=application/x-evil"}, "output"),
    ("hello", "name=a", {"ResponseDocument": "output@mimeType=image/png"}, "output"),
    ("hello", "name=a", {"RawDataOutput": "output@mimeType=application/json"}, "output"),
    ("hello", "name=a", {"ResponseDocument": "nope"}, "nope"),
    ("hello", "name=a", {"ResponseDocument": "output;nope"}, "nope"),
    ("hello", "name=a", {"RawDataOutput": "nope"}, "nope"),
    ("hello", "name=a", {"RawDataOutput": "../../etc/passwd"}, "../../etc/passwd"),
    ("hello", "name=a", {"ResponseDocument": "output;output"}, "output"),
], ids=["input-mime", "input-encoding", "inout-input-mime", "output-mime", "raw-output-mime", "literal-output-mime",
        "literal-raw-output-mime", "unknown-output", "unknown-second-output", "unknown-raw-output",
        "path-as-output", "output-twice"])
def test_unsupported_formats_and_unknown_outputs_kvp(small, identifier, inputs, params, locator):
    check_report(execute_get(small, identifier, inputs, **params), 400, "InvalidParameterValue", locator)


_OUT = "<wps:Output{attrs}><ows:Identifier>{identifier}</ows:Identifier></wps:Output>"


@pytest.mark.parametrize("identifier,inputs,form,locator", [
    ("wordcounter", complex_data("text", "a", 'mimeType="application/x-evil"'), "", "text"),
    ("wordcounter", complex_data("text", "a", 'mimeType="text/plain" encoding="gzip"'), "", "text"),
    ("wordcounter", complex_data("text", "a"), '<wps:ResponseDocument><wps:Output mimeType="text/html">'
                                               "<ows:Identifier>output</ows:Identifier></wps:Output>"
                                               "</wps:ResponseDocument>", "output"),
    ("wordcounter", complex_data("text", "a"), '<wps:RawDataOutput mimeType="image/png"><ows:Identifier>output'
                                               "</ows:Identifier></wps:RawDataOutput>", "output"),
    ("hello", literal("name", "a"), "<wps:ResponseDocument><wps:Output><ows:Identifier>nope</ows:Identifier>"
                                    "</wps:Output></wps:ResponseDocument>", "nope"),
    ("hello", literal("name", "a"), "<wps:RawDataOutput><ows:Identifier>nope</ows:Identifier></wps:RawDataOutput>",
     "nope"),
    ("hello", literal("name", "a"), '<wps:ResponseDocument><wps:Output asReference="maybe"><ows:Identifier>output'
                                    "</ows:Identifier></wps:Output></wps:ResponseDocument>", "output"),
], ids=["input-mime", "input-encoding", "output-mime", "raw-output-mime", "unknown-output", "unknown-raw-output",
        "bad-as-reference"])
def test_unsupported_formats_and_unknown_outputs_xml(small, identifier, inputs, form, locator):
    body = execute_xml(identifier, inputs, f"<wps:ResponseForm>{form}</wps:ResponseForm>" if form else "")
    check_report(post(small, body), 400, "InvalidParameterValue", locator)


# --- references that are malformed on purpose ------------------------------------------------------------


@pytest.mark.parametrize("href", ["http://[::1", "http://[x]/a", "https://[::1:80/", "file:///tmp/a%00b",
                                  "file:///etc/passwd%00.txt", "file://%00/etc/passwd", "file:", "//x",
                                  "javascript:alert(1)", "data:text/plain,hello", "\u00ff://x"],
                         ids=["open-ipv6-bracket", "bad-ipv6", "open-ipv6-https", "file-nul", "file-nul-suffix",
                              "file-nul-host", "file-no-path", "scheme-relative", "javascript",
                              "data", "non-ascii-scheme"])
def test_malformed_references_are_refused_not_crashed_on(small, href):
    kvp = execute_get(small, "wordcounter", f"text=@xlink:href={quote(href, safe='')}")
    check_report(kvp, 400, "InvalidParameterValue", "text")
    body = execute_xml("wordcounter", an_input("text", f'<wps:Reference xlink:href="{escape(href, quote=True)}" '
                                                       'mimeType="text/plain"/>'))
    check_report(post(small, body), 400, "InvalidParameterValue", "text")


# --- files named by URLs: path traversal and planted symlinks ---------------------------------------------


def async_hello(gw: GatewayProcess) -> str:
    """Run an async hello with its output by reference; return the job's uuid once it has finished."""
    reply = execute_get(gw, "hello", "name=traversal", storeExecuteResponse="true",
                        ResponseDocument="output@asReference=true")
    root = succeeded_or_accepted(reply)
    location = root.get("statusLocation")
    final = gw.wait_final(location, timeout=30)
    assert final.find("wps:Status/wps:ProcessSucceeded", NS) is not None
    return location.rsplit("/", 1)[1][:-len(".xml")]


def succeeded_or_accepted(reply: Reply) -> etree._Element:
    assert reply.status == 200, reply.content[:1000]
    return assert_valid(reply.content)


@pytest.fixture(scope="module")
def planted(small):
    """A finished job of the small gateway with symlinks planted in its outputs folder, pointing outside it."""
    uuid = async_hello(small)
    folder = os.path.join(small.workdir, "spool", uuid)
    outputs = os.path.join(folder, "outputs")
    assert os.listdir(outputs) == ["output.txt"]
    os.symlink("/etc/passwd", os.path.join(outputs, "passwd.txt"))
    os.symlink("/etc", os.path.join(outputs, "etc"))
    os.symlink("../../../job.key", os.path.join(outputs, "key.txt"))
    os.symlink(os.path.join(folder, "status.xml"), os.path.join(outputs, "status.xml"))
    os.symlink(os.path.join(folder, "job.dill"), os.path.join(outputs, "job.json"))
    with open(os.path.join(small.workdir, "job.key"), "rb") as handle:
        key = handle.read().strip()
    return uuid, key


TRAVERSALS = [
    "/outputs/{u}/passwd.txt", "/outputs/{u}/etc", "/outputs/{u}/etc/passwd", "/outputs/{u}/etc%2fpasswd",
    "/outputs/{u}/key.txt", "/outputs/{u}/status.xml", "/outputs/{u}/job.json",
    "/outputs/{u}/..%2fstatus.xml", "/outputs/{u}/%2e%2e%2fstatus.xml", "/outputs/{u}/%2e%2e%2f%2e%2e%2fjob.key",
    "/outputs/{u}/..%2f..%2f..%2fjob.key", "/outputs/{u}/..%5cstatus.xml", "/outputs/{u}/%2e%2e",
    "/outputs/{u}/../status.xml", "/outputs/{u}/output.txt%00.json", "/outputs/{u}/output.txt%00",
    "/outputs/{u}/%00", "/outputs/{u}/%2fetc%2fpasswd", "/outputs/{u}//etc/passwd", "/outputs/{u}/.",
    "/outputs/{u}/.tmp-x", "/outputs/..%2f{u}/output.txt", "/outputs/{u}%2f..%2f{u}/output.txt",
    "/outputs/%2e%2e/job.key", "/outputs/../job.key", "/outputs/%2fetc/passwd", "/outputs/{U}/output.txt",
    "/outputs/{u}/" + "a" * 5000,
    "/status/{u}.xml%00", "/status/{u}%00.xml", "/status/..%2f{u}.xml", "/status/{u}%2f..%2f{u}.xml",
    "/status/%2e%2e%2f%2e%2e%2fjob.key", "/status/..%2f..%2fjob.key", "/status/{U}.xml", "/status/{u}/../job.key",
    "/status/{u}/status.xml", "/status/%2fetc%2fpasswd.xml", "/status/..", "/status/%2e%2e", "/status/%00",
    "/status/" + "a" * 5000 + ".xml",
    "/%2e%2e/%2e%2e/etc/passwd", "/../../etc/passwd", "/wps/../../etc/passwd", "/wps%00", "/file:///etc/passwd",
    "/spool/{u}/status.xml", "/job.key",
]


@pytest.mark.parametrize("template", TRAVERSALS, ids=[t[:60] for t in TRAVERSALS])
def test_path_traversal_and_planted_symlinks_are_not_served(small, planted, template):
    uuid, key = planted
    reply = get(small, template.format(u=uuid, U=uuid.upper()))
    no_traceback(reply)
    assert reply.status == 404, (template, reply.status, reply.content[:300])
    for leak in (b"root:", key, b"WPSGATE-JOB", b"ExecuteResponse"):
        assert leak not in reply.content, template
    if reply.headers.get("content-type", "").startswith("text/xml"):
        assert_valid(reply.content)
        assert report_of(reply)[0] == "NoApplicableCode"


def test_the_real_output_of_the_planted_job_is_still_served(small, planted):
    uuid, _ = planted
    reply = get(small, f"/outputs/{uuid}/output.txt")
    assert (reply.status, reply.content) == (200, b"Hello traversal")


def test_status_document_replaced_by_a_symlink_is_not_followed(small):
    """A status.xml that is a symlink (planted, not written by the gateway) must not serve its target."""
    uuid = async_hello(small)
    status = os.path.join(small.workdir, "spool", uuid, "status.xml")
    os.unlink(status)
    os.symlink("/etc/passwd", status)
    reply = get(small, f"/status/{uuid}.xml")
    assert b"root:" not in reply.content
    # the gateway answers from the document it last handed over for this job (kept in memory), or 404
    assert reply.status in (200, 404), reply.status
    if reply.status == 200:
        assert_valid(reply.content).get("statusLocation").endswith(f"/status/{uuid}.xml")


def test_the_status_file_reader_does_not_follow_a_symlink(tmp_path):
    """The file path (a job whose document is not in memory, e.g. after a restart) opens with O_NOFOLLOW."""
    from wpsgate.server.jobs import _read

    target = tmp_path / "secret"
    target.write_bytes(b"root:x:0:0")
    link = tmp_path / "status.xml"
    os.symlink(target, link)
    with pytest.raises(OSError):
        _read(str(link))
    plain = tmp_path / "plain.xml"
    plain.write_bytes(b"<doc/>")
    assert _read(str(plain)) == b"<doc/>"


def test_outputs_folder_replaced_by_a_symlink_is_not_followed(small):
    """An outputs folder that is a symlink to /etc must not make /outputs/<uuid>/passwd serve /etc/passwd."""
    uuid = async_hello(small)
    outputs = os.path.join(small.workdir, "spool", uuid, "outputs")
    shutil.rmtree(outputs)
    os.symlink("/etc", outputs)
    reply = get(small, f"/outputs/{uuid}/passwd")
    assert b"root:" not in reply.content
    assert reply.status == 404, reply.status


# --- long URLs and header floods --------------------------------------------------------------------------


def test_30_kb_query_string_is_a_clean_4xx(small):
    """Over maxrequestsize, under server.max_header_size (64 kB; beyond it the connection is closed unanswered,
    see test_http_edge.py)."""
    target = "/wps?service=WPS&request=GetCapabilities&junk=" + "a" * 30_000
    try:
        reply = get(small, target, timeout=15)
    except (ConnectionError, http.client.HTTPException) as exc:
        pytest.fail(f"a 30 kB query string got no HTTP answer at all ({type(exc).__name__}: {exc})")
    assert 400 <= reply.status < 500, reply.status
    assert reply.seconds < FAST
    no_traceback(reply)
    assert_valid(reply.content)
    assert report_of(reply)[0] in ("NoApplicableCode", "InvalidParameterValue")


def _raw_exchange(port: int, request: bytes, timeout: float = 10) -> tuple[bytes, float]:
    started = time.monotonic()
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
            while chunk := sock.recv(65536):
                data += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
    return data, time.monotonic() - started


@pytest.mark.parametrize("headers", [
    b"".join(b"X-Flood-%d: %s\r\n" % (i, b"v" * 30) for i in range(5000)),
    b"X-Big: " + b"v" * 200_000 + b"\r\n",
    b"Cookie: " + b"; ".join(b"c%d=%s" % (i, b"v" * 20) for i in range(5000)) + b"\r\n",
], ids=["5000-headers", "one-200kB-header", "cookie-flood"])
def test_header_floods_are_answered_or_refused_promptly(small, headers):
    """Answered, refused with a 4xx, or (over the HTTP server's header limit) the connection closed: at once,
    never a hang, a 5xx or a crash."""
    data, seconds = _raw_exchange(small.port, b"GET /wps?service=WPS&request=GetCapabilities HTTP/1.1\r\n"
                                              b"Host: 127.0.0.1\r\nConnection: close\r\n" + headers + b"\r\n")
    assert seconds < FAST
    assert b"Traceback" not in data
    if data:
        assert data.startswith(b"HTTP/1.1 "), data[:300]
        status = int(data.split(b" ", 2)[1])
        assert status == 200 or 400 <= status < 500, data[:300]
    assert small.process.poll() is None


def test_many_headers_under_the_limit_are_fine(small):
    headers = {f"X-Many-{i}": "v" * 20 for i in range(500)}
    reply = get(small, "/wps?service=WPS&request=GetCapabilities", headers=headers)
    assert reply.status == 200
    assert_valid(reply.content)


def test_host_and_forwarded_headers_do_not_leak_into_documents(small):
    headers = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "gopher",
               "X-Forwarded-For": "<script>", "X-Real-Ip": "10.0.0.1"}
    capabilities = get(small, "/wps?service=WPS&request=GetCapabilities", headers=headers)
    assert capabilities.status == 200 and b"evil.example" not in capabilities.content
    assert b"gopher" not in capabilities.content
    accepted = get(small, EXECUTE + "hello&DataInputs=name=x&storeExecuteResponse=true", headers=headers)
    root = succeeded_or_accepted(accepted)
    assert root.get("statusLocation").startswith(small.base + "/status/")
    assert b"evil.example" not in accepted.content and b"<script>" not in accepted.content


# --- 10,000 inputs ----------------------------------------------------------------------------------------


def test_xml_execute_with_10000_inputs(gateway):
    body = execute_xml("inout", literal("string", "x") + literal("float", "1") * 10_000)
    check_report(post(gateway, body), 400, "InvalidParameterValue", "float", within=10)


def test_kvp_execute_with_10000_inputs(gateway):
    reply = get(gateway, EXECUTE + "inout&DataInputs=string=x;" + "int=1;" * 10_000)
    check_report(reply, 400, "InvalidParameterValue", "int", within=10)


def test_xml_execute_with_10000_unknown_inputs(gateway):
    body = execute_xml("hello", "".join(literal(f"in{i}", "1") for i in range(10_000)))
    check_report(post(gateway, body), 400, "InvalidParameterValue", "in0", within=10)


def test_xml_execute_with_10000_output_requests(gateway):
    outputs = "".join(_OUT.format(attrs="", identifier="output") for _ in range(10_000))
    body = execute_xml("hello", literal("name", "x"),
                       f"<wps:ResponseForm><wps:ResponseDocument>{outputs}</wps:ResponseDocument></wps:ResponseForm>")
    check_report(post(gateway, body), 400, "InvalidParameterValue", "output", within=10)


# --- afterwards -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["small", "gateway"])
def test_zz_gateways_still_serve_after_the_corpus(request, which):
    gw = request.getfixturevalue(which)
    assert gw.process.poll() is None, "the gateway died"
    capabilities = get(gw, "/wps?service=WPS&request=GetCapabilities")
    assert capabilities.status == 200
    assert_valid(capabilities.content)
    hello = execute_get(gw, "hello", "name=survivor")
    assert literal_outputs(succeeded(hello)) == {"output": "Hello survivor"}
    if which == "small":  # this module's own gateway: nothing it logged was a crash or a 5xx
        with open(gw.log_path, encoding="utf-8", errors="replace") as handle:
            log = handle.read()
        assert "Traceback" not in log, log[-3000:]
        assert not re.search(r"\b5\d\d (GET|POST|HEAD|PUT|DELETE)", log), log[-3000:]

