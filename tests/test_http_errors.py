"""The WPS endpoint over real HTTP: every client error is a valid ExceptionReport with the right code, locator
and status; Execute by XML POST for each kind of input; outputs inline and by reference."""
import base64
import json
import socket

import pytest
import requests
from lxml import etree

from .gateway import NS, exception_of, literal_outputs
from .schemas import assert_valid

WPS_NS = 'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1" ' \
         'xmlns:xlink="http://www.w3.org/1999/xlink"'


def no_traceback(response: requests.Response) -> None:
    text = response.content.decode("utf-8", errors="replace")
    assert "Traceback" not in text and 'File "' not in text, text[:2000]


def check_report(response: requests.Response, status: int, code: str, locator: str | None) -> str:
    """Assert ``response`` is a schema-valid ExceptionReport with this status, code and locator; return its text."""
    no_traceback(response)
    assert response.status_code == status, (response.status_code, response.text[:1000])
    assert response.headers["Content-Type"].startswith("text/xml"), response.headers
    assert_valid(response.content)
    got_code, got_locator, text = exception_of(response)
    assert (got_code, got_locator) == (code, locator), response.text[:1000]
    return text


def execute_xml(identifier: str, inputs: str = "", form: str = "") -> str:
    data_inputs = f"<wps:DataInputs>{inputs}</wps:DataInputs>" if inputs else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<wps:Execute service="WPS" version="1.0.0" {WPS_NS}>'
            f"<ows:Identifier>{identifier}</ows:Identifier>{data_inputs}{form}</wps:Execute>")


def an_input(identifier: str, data: str) -> str:
    return f"<wps:Input><ows:Identifier>{identifier}</ows:Identifier>{data}</wps:Input>"


def literal(identifier: str, value: str, attrs: str = "") -> str:
    return an_input(identifier, f"<wps:Data><wps:LiteralData {attrs}>{value}</wps:LiteralData></wps:Data>")


def succeeded(response: requests.Response) -> etree._Element:
    no_traceback(response)
    assert response.status_code == 200, response.text[:2000]
    root = assert_valid(response.content)
    assert root.find("wps:Status/wps:ProcessSucceeded", NS) is not None, response.text[:2000]
    return root


def complex_output(root: etree._Element, identifier: str) -> etree._Element:
    for output in root.iterfind("wps:ProcessOutputs/wps:Output", NS):
        if output.findtext("ows:Identifier", namespaces=NS) == identifier:
            return output
    raise AssertionError(f"no output {identifier} in {etree.tostring(root)[:2000]!r}")


# --- KVP errors -------------------------------------------------------------------------------------------

EXECUTE = {"service": "WPS", "request": "Execute", "version": "1.0.0"}
DESCRIBE = {"service": "WPS", "request": "DescribeProcess", "version": "1.0.0"}


@pytest.mark.parametrize("params,status,code,locator", [
    ({"request": "GetCapabilities"}, 400, "MissingParameterValue", "service"),
    ({"service": "WMS", "request": "GetCapabilities"}, 400, "InvalidParameterValue", "service"),
    ({"service": "WPS"}, 400, "MissingParameterValue", "request"),
    ({"service": "WPS", "request": "GetMap"}, 501, "OperationNotSupported", "GetMap"),
    ({"service": "WPS", "request": "GetCapabilities", "AcceptVersions": "2.0.0"}, 400, "VersionNegotiationFailed",
     "AcceptVersions"),
    ({"service": "WPS", "request": "DescribeProcess", "identifier": "hello"}, 400, "MissingParameterValue",
     "version"),
    ({**DESCRIBE, "version": "2.0.0", "identifier": "hello"}, 400, "InvalidParameterValue", "version"),
    ({**DESCRIBE}, 400, "MissingParameterValue", "identifier"),
    ({**DESCRIBE, "identifier": "hello,nope"}, 400, "InvalidParameterValue", "identifier"),
    ({**DESCRIBE, "identifier": "hello", "language": "tlh"}, 400, "InvalidParameterValue", "language"),
    ({"service": "WPS", "request": "GetCapabilities", "language": "xx-XX"}, 400, "InvalidParameterValue",
     "language"),
    ({"service": "WPS", "request": "Execute", "identifier": "hello"}, 400, "MissingParameterValue", "version"),
    ({**EXECUTE, "identifier": "nope"}, 400, "InvalidParameterValue", "identifier"),
    ({**EXECUTE, "identifier": "hello", "DataInputs": "name=x", "language": "tlh"}, 400, "InvalidParameterValue",
     "language"),
    ({**EXECUTE, "identifier": "hello"}, 400, "MissingParameterValue", "name"),
    ({**EXECUTE, "identifier": "hello", "DataInputs": "name=x;colour=red"}, 400, "InvalidParameterValue",
     "colour"),
    ({**EXECUTE, "identifier": "inout", "DataInputs": "string=x;int=4"}, 400, "InvalidParameterValue", "int"),
    ({**EXECUTE, "identifier": "inout", "DataInputs": "string=x;float=abc"}, 400, "InvalidParameterValue",
     "float"),
    ({**EXECUTE, "identifier": "inout", "DataInputs": "string=x;float=NaN"}, 400, "InvalidParameterValue",
     "float"),
    ({**EXECUTE, "identifier": "inout", "DataInputs": "string=x;float=100.5"}, 400, "InvalidParameterValue",
     "float"),
    ({**EXECUTE, "identifier": "inout", "DataInputs": "string=x;" + ";".join(["float=1"] * 6)}, 400,
     "InvalidParameterValue", "float"),
    ({**EXECUTE, "identifier": "inout", "DataInputs": "string=x;text=a@mimeType=image/png"}, 400,
     "InvalidParameterValue", "text"),
    ({**EXECUTE, "identifier": "nap", "storeExecuteResponse": "true"}, 400, "StorageNotSupported",
     "storeExecuteResponse"),
    ({**EXECUTE, "identifier": "hello", "DataInputs": "name=x", "status": "true"}, 400, "InvalidParameterValue",
     "status"),
    ({**EXECUTE, "identifier": "hello", "DataInputs": "name=x", "lineage": "yes"}, 400, "InvalidParameterValue",
     "lineage"),
    ({**EXECUTE, "identifier": "hello", "DataInputs": "name=x", "ResponseDocument": "nope"}, 400,
     "InvalidParameterValue", "nope"),
    ({**EXECUTE, "identifier": "hello", "DataInputs": "name=x", "RawDataOutput": "nope"}, 400,
     "InvalidParameterValue", "nope"),
    ({**EXECUTE, "identifier": "hello", "DataInputs": "name=x", "TIMEOUT": "-1"}, 400, "InvalidParameterValue",
     "TIMEOUT"),
    ({**EXECUTE, "identifier": "wordcounter", "DataInputs": "text=a", "RawDataOutput": "output@mimeType=image/png"},
     400, "InvalidParameterValue", "output"),
], ids=lambda value: str(value)[:60] if isinstance(value, dict) else None)
def test_kvp_errors(gateway, params, status, code, locator):
    check_report(gateway.get(**params), status, code, locator)


@pytest.mark.parametrize("query,locator", [
    ("service=WPS&service=WPS&request=GetCapabilities", "service"),
    ("service=WPS&request=GetCapabilities&language=%E", "language"),
    ("service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=%C3%28", "name"),
])
def test_kvp_errors_in_the_raw_query(gateway, query, locator):
    check_report(gateway.kvp(query), 400, "InvalidParameterValue", locator)


def test_output_requested_twice(gateway):
    query = "service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=x&ResponseDocument=" \
            "output;output"
    check_report(gateway.kvp(query), 400, "InvalidParameterValue", "output")


def test_response_document_list_encoded_by_requests(gateway):
    """requests encodes ResponseDocument=string;int as string%3Bint: still two outputs, not one named 'string;int'."""
    response = gateway.execute("inout", "string=x", ResponseDocument="string;int")
    root = succeeded(response)
    assert [o.findtext("ows:Identifier", namespaces=NS)
            for o in root.iterfind("wps:ProcessOutputs/wps:Output", NS)] == ["string", "int"]


def test_raw_utf8_in_query_is_decoded_as_utf8(gateway):
    """A client that sends UTF-8 bytes un-escaped in the request target (curl, browsers' address bars on
    some systems) gets its text back, not mojibake: Tornado hands the target over latin-1 decoded."""
    target = ("/wps?service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=Zoë"
              "&RawDataOutput=output").encode("utf-8")
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data[:1000]
    assert body.decode("utf-8") == "Hello Zoë"


def test_percent_encoded_utf8_round_trips(gateway):
    response = gateway.execute("hello", "name=Zo%C3%AB%20%E6%9D%B1%E4%BA%AC", RawDataOutput="output")
    assert response.status_code == 200 and response.content.decode("utf-8") == "Hello Zoë 東京"
    # unescaped text in the value: requests encodes the whole value (name%3DZo%C3%AB+a%2Bb)
    response = gateway.execute("hello", "name=Zoë a+b", RawDataOutput="output")
    assert response.status_code == 200
    assert response.content.decode("utf-8") == "Hello Zoë a+b"
    # per-field escapes inside a value that requests then encodes again: ';', '=' and '@' in the value
    response = gateway.execute("hello", "name=x%3By%3Dz%40w", RawDataOutput="output")
    assert response.status_code == 200
    assert response.content.decode("utf-8") == "Hello x;y=z@w"


# --- XML POST errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"<wps:Execute", b"no xml", b"<a><b></a>", b""])
def test_malformed_xml_post(gateway, body):
    check_report(gateway.post(body), 400, "NoApplicableCode", "request")


def test_xxe_post_is_refused_and_leaks_nothing(gateway):
    body = ('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
            + execute_xml("hello", literal("name", "&xxe;"), '<wps:ResponseForm><wps:RawDataOutput>'
                          "<ows:Identifier>output</ows:Identifier></wps:RawDataOutput></wps:ResponseForm>")
            .split("\n", 1)[1])
    response = gateway.post(body)
    check_report(response, 400, "NoApplicableCode", "request")
    assert b"root:" not in response.content


def test_billion_laughs_post_is_refused(gateway):
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    body = f'<?xml version="1.0"?>\n<!DOCTYPE x [{entities}]>\n' + execute_xml("hello", literal("name", "&i;"))\
        .split("\n", 1)[1]
    response = gateway.post(body)
    check_report(response, 400, "NoApplicableCode", "request")
    assert b"aaaaaaaaaaaaaaaaaaaa" not in response.content


@pytest.mark.parametrize("body,status,code,locator", [
    (f'<wps:GetStatus service="WPS" version="1.0.0" {WPS_NS}/>', 501, "OperationNotSupported", "GetStatus"),
    ('<Execute xmlns="http://www.opengis.net/wps/2.0" service="WPS" version="2.0.0"/>', 400,
     "InvalidParameterValue", "request"),
    (f'<wps:GetCapabilities service="" {WPS_NS}/>', 400, "MissingParameterValue", "service"),
    (f'<wps:DescribeProcess service="WPS" {WPS_NS}><ows:Identifier>hello</ows:Identifier></wps:DescribeProcess>',
     400, "MissingParameterValue", "version"),
    (execute_xml("hello", literal("name", "x"), '<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="1"/>'
                 "</wps:ResponseForm>"), 400, "InvalidParameterValue", "storeExecuteResponse"),
    (execute_xml("nap", "", '<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true"/>'
                 "</wps:ResponseForm>"), 400, "StorageNotSupported", "storeExecuteResponse"),
    (execute_xml("inout", literal("string", "x") + literal("int", "4")), 400, "InvalidParameterValue", "int"),
    (execute_xml("wordcounter", an_input("text", '<wps:Data><wps:ComplexData encoding="base64">!!!'
                                                 "</wps:ComplexData></wps:Data>")),
     400, "InvalidParameterValue", "text"),
    (execute_xml("wordcounter", literal("text", "words")), 400, "InvalidParameterValue", "text"),
    (execute_xml("bbox", an_input("bbox", '<wps:Data><wps:BoundingBoxData crs="EPSG:9999"><ows:LowerCorner>0 0'
                                          "</ows:LowerCorner><ows:UpperCorner>1 1</ows:UpperCorner>"
                                          "</wps:BoundingBoxData></wps:Data>")),
     400, "InvalidParameterValue", "bbox"),
], ids=["unknown-root", "wps2-namespace", "empty-service", "no-version", "bad-boolean", "nap-store",
        "int-range", "bad-base64", "literal-into-complex", "bbox-crs"])
def test_xml_post_errors(gateway, body, status, code, locator):
    check_report(gateway.post(body), status, code, locator)


# --- HTTP-level errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_wrong_http_verb(gateway, method):
    response = gateway.session.request(method, gateway.wps, data=b"<x/>", timeout=30)
    text = check_report(response, 405, "OperationNotSupported", None)
    assert method in text
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert {"GET", "POST"} <= allowed and method not in allowed
    assert response.headers["Connection"] == "close"  # the body was never read: the connection goes


def test_head_is_answered_like_get(gateway):
    """HTTP requires HEAD wherever GET works (RFC 9110 9.1); it is listed in SUPPORTED_METHODS."""
    response = gateway.session.head(gateway.wps, params={"service": "WPS", "request": "GetCapabilities"},
                                    timeout=30)
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("text/xml") and response.content == b""


def test_body_over_maxrequestsize_with_content_length(gateway):
    body = execute_xml("hello", literal("name", "x" * (3 * 1024 * 1024)))
    response = gateway.post(body)
    check_report(response, 413, "NoApplicableCode", "request")
    assert response.headers["Connection"] == "close"
    assert "Connection" not in gateway.post(execute_xml("hello", literal("name", "x"))).headers  # kept alive


def test_body_over_maxrequestsize_chunked(gateway):
    def chunks():
        yield execute_xml("hello", "")[:-len("</wps:Execute>")].encode()
        for _ in range(33):
            yield b"<!--" + b"x" * 100_000 + b"-->"
        yield b"</wps:Execute>"

    response = gateway.session.post(gateway.wps, data=chunks(), headers={"Content-Type": "text/xml"}, timeout=60)
    assert "Content-Length" not in response.request.headers
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    check_report(response, 413, "NoApplicableCode", "request")


def test_body_just_under_maxrequestsize_is_parsed(gateway):
    body = execute_xml("hello", literal("name", "Ada"), '<wps:ResponseForm><wps:RawDataOutput>'
                       "<ows:Identifier>output</ows:Identifier></wps:RawDataOutput></wps:ResponseForm>")
    padding = 3 * 1024 * 1024 - len(body.encode()) - len("<!---->") - 10
    response = gateway.post(body + "<!--" + "x" * padding + "-->")
    assert response.status_code == 200 and response.text == "Hello Ada"


# --- RawDataOutput ----------------------------------------------------------------------------------------


def test_raw_data_output_hello(gateway):
    response = gateway.execute("hello", "name=X", RawDataOutput="output")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.content == b"Hello X"


def test_raw_data_output_xml_post(gateway):
    form = ("<wps:ResponseForm><wps:RawDataOutput><ows:Identifier>output</ows:Identifier></wps:RawDataOutput>"
            "</wps:ResponseForm>")
    response = gateway.post(execute_xml("hello", literal("name", "Post"), form))
    assert response.status_code == 200 and response.content == b"Hello Post"
    assert response.headers["Content-Type"].startswith("text/plain")


def test_raw_data_output_wordcounter_is_json(gateway):
    response = gateway.execute("wordcounter", "text=b a b", RawDataOutput="output")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == [[2, "b"], [1, "a"]]


@pytest.mark.parametrize("nice", ["true", "false"])
def test_raw_data_output_of_failing_process(gateway, nice):
    response = gateway.execute("show_error", f"message=boom happened;nice={nice}", RawDataOutput="output")
    text = check_report(response, 500, "NoApplicableCode", "show_error")
    assert "boom happened" in text


@pytest.mark.parametrize("nice", ["true", "false"])
def test_failing_process_document_has_message_and_no_traceback(gateway, nice):
    response = gateway.execute("show_error", f"message=it broke;nice={nice}")
    no_traceback(response)
    assert response.status_code == 200
    root = assert_valid(response.content)
    failed = root.find("wps:Status/wps:ProcessFailed/ows:ExceptionReport/ows:Exception", NS)
    assert failed is not None and "it broke" in "".join(failed.itertext())


# --- Execute by XML POST ----------------------------------------------------------------------------------


def test_post_literal_data(gateway):
    root = succeeded(gateway.post(execute_xml("hello", literal("name", "Ada &amp; Grace", 'dataType="string"'))))
    assert literal_outputs(root) == {"output": "Hello Ada & Grace"}


def test_post_literal_data_inout_types(gateway):
    inputs = (literal("string", "s") + literal("int", "11") + literal("float", "2.5", 'uom="m"')
              + literal("float", "3") + literal("boolean", "true") + literal("date", "2020-02-29")
              + literal("datetime", "2020-02-29T10:00:00Z") + literal("string_choice", "paper"))
    outputs = literal_outputs(succeeded(gateway.post(execute_xml("inout", inputs))))
    assert outputs["string"] == "s" and outputs["int"] == "11" and outputs["float"] == "5.5"  # summed, as Emu does
    assert outputs["boolean"] == "true" and outputs["date"] == "2020-02-29"
    assert outputs["string_choice"] == "paper"
    assert outputs["datetime"].startswith("2020-02-29T10:00:00")


def wordcount(gateway, data: str) -> list:
    form = ('<wps:ResponseForm><wps:ResponseDocument><wps:Output asReference="false">'
            "<ows:Identifier>output</ows:Identifier></wps:Output></wps:ResponseDocument></wps:ResponseForm>")
    root = succeeded(gateway.post(execute_xml("wordcounter", an_input("text", data), form)))
    complex_data = complex_output(root, "output").find("wps:Data/wps:ComplexData", NS)
    assert complex_data.get("mimeType") == "application/json"
    return json.loads(complex_data.text)


def test_post_complex_text(gateway):
    data = '<wps:Data><wps:ComplexData mimeType="text/plain">the cat &amp; the hat</wps:ComplexData></wps:Data>'
    assert wordcount(gateway, data) == [[2, "the"], [1, "hat"], [1, "cat"]]  # Emu's order


def test_post_complex_cdata(gateway):
    data = '<wps:Data><wps:ComplexData><![CDATA[<b>bold</b> bold]]></wps:ComplexData></wps:Data>'
    assert wordcount(gateway, data) == [[2, "bold"], [2, "b"]]


def test_post_complex_base64(gateway):
    encoded = base64.b64encode("ünïcode words ünïcode".encode()).decode()
    data = f'<wps:Data><wps:ComplexData mimeType="text/plain" encoding="base64">{encoded}</wps:ComplexData></wps:Data>'
    assert wordcount(gateway, data) == [[2, "ünïcode"], [1, "words"]]


def test_post_complex_xml_child(gateway):
    data = ('<wps:Data><wps:ComplexData mimeType="text/plain"><doc xmlns="urn:x"><w>hello</w><w>hello</w>'
            "<w>world</w></doc></wps:ComplexData></wps:Data>")
    counts = {word: count for count, word in wordcount(gateway, data)}
    assert counts["hello"] == 2 and counts["world"] == 1


def test_post_complex_into_inout_echoes(gateway):
    inputs = literal("string", "x") + an_input(
        "text", '<wps:Data><wps:ComplexData mimeType="text/plain">line one\nline &lt;two&gt;</wps:ComplexData>'
                "</wps:Data>")
    root = succeeded(gateway.post(execute_xml("inout", inputs)))
    complex_data = complex_output(root, "text").find("wps:Data/wps:ComplexData", NS)
    assert complex_data.get("mimeType") == "text/plain" and complex_data.text == "line one\nline <two>"


def test_post_bounding_box(gateway):
    data = ('<wps:Data><wps:BoundingBoxData crs="EPSG:3035" dimensions="2"><ows:LowerCorner>1 2</ows:LowerCorner>'
            "<ows:UpperCorner>3.5 4</ows:UpperCorner></wps:BoundingBoxData></wps:Data>")
    root = succeeded(gateway.post(execute_xml("bbox", an_input("bbox", data))))
    box = complex_output(root, "bbox").find("wps:Data/wps:BoundingBoxData", NS)
    assert box.get("crs") == "EPSG:3035" and box.get("dimensions") == "2"
    assert [float(v) for v in box.findtext("ows:LowerCorner", namespaces=NS).split()] == [1.0, 2.0]
    assert [float(v) for v in box.findtext("ows:UpperCorner", namespaces=NS).split()] == [3.5, 4.0]


def test_post_bbox_without_input_uses_default(gateway):
    root = succeeded(gateway.post(execute_xml("bbox")))
    box = complex_output(root, "bbox").find("wps:Data/wps:BoundingBoxData", NS)
    assert [float(v) for v in box.findtext("ows:LowerCorner", namespaces=NS).split()] == [-180.0, -90.0]


def test_post_lineage_echoes_inputs_and_output_definitions(gateway):
    inputs = (literal("string", "lin", 'dataType="string"') + literal("float", "1.5", 'uom="m"')
              + an_input("text", '<wps:Data><wps:ComplexData mimeType="text/plain" encoding="base64">'
                                 f'{base64.b64encode(b"abc").decode()}</wps:ComplexData></wps:Data>')
              + an_input("bbox", '<wps:Data><wps:BoundingBoxData crs="EPSG:4326"><ows:LowerCorner>0 0'
                                 "</ows:LowerCorner><ows:UpperCorner>1 1</ows:UpperCorner></wps:BoundingBoxData>"
                                 "</wps:Data>"))
    form = ('<wps:ResponseForm><wps:ResponseDocument lineage="true">'
            '<wps:Output asReference="false"><ows:Identifier>string</ows:Identifier></wps:Output>'
            '<wps:Output mimeType="text/plain"><ows:Identifier>text</ows:Identifier></wps:Output>'
            "<wps:Output><ows:Identifier>bbox</ows:Identifier></wps:Output>"
            "</wps:ResponseDocument></wps:ResponseForm>")
    root = succeeded(gateway.post(execute_xml("inout", inputs, form)))
    echoed = [i.findtext("ows:Identifier", namespaces=NS) for i in root.iterfind("wps:DataInputs/wps:Input", NS)]
    assert echoed == ["string", "float", "text", "bbox"]
    float_echo = root.find("wps:DataInputs/wps:Input[2]/wps:Data/wps:LiteralData", NS)
    assert float_echo.text == "1.5" and float_echo.get("uom") == "m"
    text_echo = root.find("wps:DataInputs/wps:Input[3]/wps:Data/wps:ComplexData", NS)
    assert base64.b64decode(text_echo.text) == b"abc" and text_echo.get("encoding") == "base64"
    definitions = root.findall("wps:OutputDefinitions/wps:Output", NS)
    assert [d.findtext("ows:Identifier", namespaces=NS) for d in definitions] == ["string", "text", "bbox"]
    assert definitions[0].get("asReference") == "false" and definitions[1].get("mimeType") == "text/plain"
    assert [o.findtext("ows:Identifier", namespaces=NS) for o in root.iterfind("wps:ProcessOutputs/wps:Output",
                                                                                NS)] == ["string", "text", "bbox"]


def test_kvp_lineage_echoes_literal_input(gateway):
    response = gateway.execute("hello", "name=Ada", lineage="true")
    root = succeeded(response)
    assert root.findtext("wps:DataInputs/wps:Input/wps:Data/wps:LiteralData", namespaces=NS) == "Ada"


def test_kvp_lineage_echoes_complex_and_bbox_inputs_as_what_they_are(gateway):
    """KVP carries no kind: the echo must still be ComplexData for a complex input and BoundingBoxData for a
    bounding box (WPS 1.0.0 Table 51: DataInputs as given in the request), not LiteralData."""
    root = succeeded(gateway.execute("inout", "string=x;text=abc@mimeType=text/plain;bbox=0,1,10,11,EPSG:3035",
                                     lineage="true"))
    echoed = {i.findtext("ows:Identifier", namespaces=NS): i.find("wps:Data/*", NS)
              for i in root.iterfind("wps:DataInputs/wps:Input", NS)}
    assert etree.QName(echoed["string"]).localname == "LiteralData"
    assert etree.QName(echoed["text"]).localname == "ComplexData", etree.tostring(echoed["text"])
    assert echoed["text"].text == "abc" and echoed["text"].get("mimeType") == "text/plain"
    assert etree.QName(echoed["bbox"]).localname == "BoundingBoxData", etree.tostring(echoed["bbox"])
    assert echoed["bbox"].get("crs") == "EPSG:3035"
    assert [float(v) for v in echoed["bbox"].findtext("ows:LowerCorner", namespaces=NS).split()] == [0.0, 1.0]


def test_no_lineage_no_echo(gateway):
    root = succeeded(gateway.post(execute_xml("hello", literal("name", "x"))))
    assert root.find("wps:DataInputs", NS) is None and root.find("wps:OutputDefinitions", NS) is None


def test_wordcounter_as_reference(gateway):
    form = ('<wps:ResponseForm><wps:ResponseDocument><wps:Output asReference="true">'
            "<ows:Identifier>output</ows:Identifier></wps:Output></wps:ResponseDocument></wps:ResponseForm>")
    data = '<wps:Data><wps:ComplexData mimeType="text/plain">to be or not to be</wps:ComplexData></wps:Data>'
    root = succeeded(gateway.post(execute_xml("wordcounter", an_input("text", data), form)))
    reference = complex_output(root, "output").find("wps:Reference", NS)
    assert reference is not None and reference.get("mimeType") == "application/json"
    href = reference.get("href")
    assert href.startswith(gateway.base + "/outputs/"), href
    fetched = gateway.session.get(href, timeout=30)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"].split(";")[0] == "application/json"
    assert fetched.json() == [[2, "to"], [2, "be"], [1, "or"], [1, "not"]]


def test_wordcounter_by_reference_is_the_default(gateway):
    root = succeeded(gateway.execute("wordcounter", "text=a b a"))
    href = complex_output(root, "output").find("wps:Reference", NS).get("href")
    assert gateway.session.get(href, timeout=30).json() == [[2, "a"], [1, "b"]]


def test_wordcounter_inline(gateway):
    root = succeeded(gateway.execute("wordcounter", "text=a b a", ResponseDocument="output@asReference=false"))
    output = complex_output(root, "output")
    assert output.find("wps:Reference", NS) is None
    complex_data = output.find("wps:Data/wps:ComplexData", NS)
    assert complex_data.get("mimeType") == "application/json"
    assert json.loads(complex_data.text) == [[2, "a"], [1, "b"]]


def test_unknown_output_file_is_an_exception_report(gateway):
    response = gateway.session.get(gateway.base + "/outputs/00000000-0000-0000-0000-000000000000/x.json",
                                   timeout=30)
    assert response.status_code == 404
    no_traceback(response)
    assert_valid(response.content)


# --- afterwards -------------------------------------------------------------------------------------------


def test_zz_gateway_still_answers_after_all_errors(gateway):
    response = gateway.get(service="WPS", request="GetCapabilities")
    assert response.status_code == 200
    root = assert_valid(response.content)
    assert len(root.findall("wps:ProcessOfferings/wps:Process", NS)) == 9
    assert gateway.process.poll() is None
