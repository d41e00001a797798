"""WPS 1.0.0 XML (HTTP POST) request parsing: parse_xml, without a server."""
import base64
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from wpsgate.exceptions import (InvalidParameterValue, MalformedRequest, MissingParameterValue, NoApplicableCode,
                                OperationNotSupported, OWSException, VersionNegotiationFailed)
from wpsgate.protocol.requests import (BBoxValue, DescribeProcessRequest, ExecuteRequest, GetCapabilitiesRequest,
                                       InputReference, OutputRequest)
from wpsgate.protocol.xml_request import parse_xml

NSDECL = ('xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1" '
          'xmlns:xlink="http://www.w3.org/1999/xlink"')


def execute_xml(inputs: str = "", form: str = "", identifier: str = "inout", attrs: str = "") -> bytes:
    data_inputs = f"<wps:DataInputs>{inputs}</wps:DataInputs>" if inputs else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<wps:Execute service="WPS" version="1.0.0" {NSDECL} {attrs}>'
            f"<ows:Identifier>{identifier}</ows:Identifier>{data_inputs}{form}</wps:Execute>").encode()


def one_input(identifier: str, data: str) -> str:
    return f"<wps:Input><ows:Identifier>{identifier}</ows:Identifier>{data}</wps:Input>"


def parse_execute(body: bytes) -> ExecuteRequest:
    request = parse_xml(body)
    assert isinstance(request, ExecuteRequest)
    return request


def raises(body: bytes, exc_type: type, locator: str | None) -> OWSException:
    with pytest.raises(exc_type) as info:
        parse_xml(body)
    assert type(info.value) is exc_type, repr(info.value)
    assert info.value.locator == locator, repr(info.value)
    return info.value


# --- GetCapabilities and DescribeProcess ------------------------------------------------------------------


def test_getcapabilities_with_accept_versions():
    body = (f'<wps:GetCapabilities service="WPS" language="en-US" {NSDECL}><wps:AcceptVersions>'
            "<ows:Version>0.4.0</ows:Version><ows:Version>1.0.0</ows:Version>"
            "</wps:AcceptVersions></wps:GetCapabilities>").encode()
    assert parse_xml(body) == GetCapabilitiesRequest(accept_versions=("0.4.0", "1.0.0"), language="en-US")


def test_getcapabilities_minimal():
    assert parse_xml(f'<wps:GetCapabilities service="WPS" {NSDECL}/>'.encode()) == GetCapabilitiesRequest()


def test_getcapabilities_version_negotiation_fails():
    body = (f'<wps:GetCapabilities service="WPS" {NSDECL}><wps:AcceptVersions><ows:Version>2.0.0</ows:Version>'
            "</wps:AcceptVersions></wps:GetCapabilities>").encode()
    raises(body, VersionNegotiationFailed, "AcceptVersions")


def test_describe_process_several_identifiers():
    body = (f'<wps:DescribeProcess service="WPS" version="1.0.0" language="en-US" {NSDECL}>'
            "<ows:Identifier>hello</ows:Identifier><ows:Identifier> nap </ows:Identifier>"
            "<ows:Identifier>inout</ows:Identifier></wps:DescribeProcess>").encode()
    assert parse_xml(body) == DescribeProcessRequest(identifiers=("hello", "nap", "inout"), language="en-US")


def test_describe_process_needs_identifier():
    raises(f'<wps:DescribeProcess service="WPS" version="1.0.0" {NSDECL}/>'.encode(), MissingParameterValue,
           "identifier")


# --- Execute: response forms ------------------------------------------------------------------------------


def test_execute_minimal_defaults():
    request = parse_execute(execute_xml(identifier="ultimate_question"))
    assert request == ExecuteRequest(identifier="ultimate_question")


def test_execute_empty_data_inputs_tolerated():
    """OWSLib sends an empty wps:DataInputs for a process without inputs (schema-invalid, but common)."""
    body = (f'<wps:Execute service="WPS" version="1.0.0" {NSDECL}><ows:Identifier>ultimate_question'
            "</ows:Identifier><wps:DataInputs/></wps:Execute>").encode()
    assert parse_execute(body).inputs == ()


def test_execute_response_document():
    form = ('<wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true" lineage="true">'
            '<wps:Output asReference="true" mimeType="text/plain"><ows:Identifier>text</ows:Identifier></wps:Output>'
            '<wps:Output uom="m" asReference="false"><ows:Identifier>float</ows:Identifier></wps:Output>'
            "<wps:Output><ows:Identifier>string</ows:Identifier></wps:Output>"
            "</wps:ResponseDocument></wps:ResponseForm>")
    request = parse_execute(execute_xml(form=form, attrs='language="en-US"'))
    assert (request.store_execute_response, request.status, request.lineage) == (True, True, True)
    assert request.language == "en-US"
    assert request.outputs == (OutputRequest("text", as_reference=True, mime_type="text/plain"),
                               OutputRequest("float", as_reference=False, uom="m"),
                               OutputRequest("string"))
    assert request.raw_output is None


def test_execute_response_document_timeout_and_expire():
    form = ('<wps:ResponseForm><wps:ResponseDocument timeout="120" expire="3600">'
            "</wps:ResponseDocument></wps:ResponseForm>")
    request = parse_execute(execute_xml(form=form))
    assert (request.timeout, request.expire) == (120.0, 3600.0)


@pytest.mark.parametrize("attribute", ["timeout", "expire"])
@pytest.mark.parametrize("value", ["0", "-1", "soon", "NaN", "INF"])
def test_execute_bad_timeout_and_expire(attribute, value):
    form = f'<wps:ResponseForm><wps:ResponseDocument {attribute}="{value}"/></wps:ResponseForm>'
    raises(execute_xml(form=form), InvalidParameterValue, attribute)


def test_execute_raw_data_output():
    form = ('<wps:ResponseForm><wps:RawDataOutput mimeType="application/json">'
            "<ows:Identifier>output</ows:Identifier></wps:RawDataOutput></wps:ResponseForm>")
    request = parse_execute(execute_xml(form=form, identifier="wordcounter"))
    assert request.raw_output == OutputRequest("output", mime_type="application/json")
    assert request.outputs == () and not request.store_execute_response


@pytest.mark.parametrize("attribute", ["storeExecuteResponse", "status", "lineage"])
def test_execute_bad_boolean(attribute):
    form = f'<wps:ResponseForm><wps:ResponseDocument {attribute}="1"/></wps:ResponseForm>'
    raises(execute_xml(form=form), InvalidParameterValue, attribute)


def test_execute_bad_as_reference():
    form = ('<wps:ResponseForm><wps:ResponseDocument><wps:Output asReference="maybe">'
            "<ows:Identifier>text</ows:Identifier></wps:Output></wps:ResponseDocument></wps:ResponseForm>")
    raises(execute_xml(form=form), InvalidParameterValue, "text")


def test_execute_empty_response_form():
    raises(execute_xml(form="<wps:ResponseForm/>"), InvalidParameterValue, "ResponseForm")


def test_execute_output_without_identifier():
    form = "<wps:ResponseForm><wps:ResponseDocument><wps:Output/></wps:ResponseDocument></wps:ResponseForm>"
    raises(execute_xml(form=form), MissingParameterValue, "Identifier")


def test_execute_without_identifier():
    body = f'<wps:Execute service="WPS" version="1.0.0" {NSDECL}></wps:Execute>'.encode()
    raises(body, MissingParameterValue, "Identifier")


# --- Execute: literal data --------------------------------------------------------------------------------


def test_literal_data_with_type_and_uom():
    request = parse_execute(execute_xml(
        one_input("float", '<wps:Data><wps:LiteralData dataType="float" uom="metre">3.5</wps:LiteralData>'
                           "</wps:Data>")
        + one_input("string", "<wps:Data><wps:LiteralData>a &amp; b &lt;c&gt; é</wps:LiteralData></wps:Data>")
        + one_input("float", "<wps:Data><wps:LiteralData>4</wps:LiteralData></wps:Data>")))
    first, second, third = request.inputs
    assert (first.identifier, first.kind, first.text, first.datatype, first.uom) == \
        ("float", "literal", "3.5", "float", "metre")
    assert (second.identifier, second.text) == ("string", "a & b <c> é")
    assert (third.identifier, third.text) == ("float", "4")


def test_literal_data_empty():
    (item,) = parse_execute(execute_xml(one_input("string", "<wps:Data><wps:LiteralData/></wps:Data>"))).inputs
    assert item.text == "" and item.kind == "literal"


def test_literal_data_in_a_declared_legacy_encoding():
    body = ('<?xml version="1.0" encoding="ISO-8859-1"?>'
            f'<wps:Execute service="WPS" version="1.0.0" {NSDECL}><ows:Identifier>hello</ows:Identifier>'
            "<wps:DataInputs>" + one_input("name", "<wps:Data><wps:LiteralData>Zoë</wps:LiteralData></wps:Data>")
            + "</wps:DataInputs></wps:Execute>").encode("iso-8859-1")
    assert parse_execute(body).inputs[0].text == "Zoë"


def test_input_without_data_or_reference():
    raises(execute_xml(one_input("string", "")), MissingParameterValue, "string")


def test_data_without_a_known_child():
    raises(execute_xml(one_input("string", "<wps:Data/>")), InvalidParameterValue, "string")


# --- Execute: complex data --------------------------------------------------------------------------------


def complex_input(content: str, attrs: str = 'mimeType="text/xml"') -> bytes:
    return execute_xml(one_input("text", f"<wps:Data><wps:ComplexData {attrs}>{content}</wps:ComplexData></wps:Data>"))


def test_complex_data_xml_child():
    (item,) = parse_execute(complex_input('<doc xmlns="urn:x" a="1"><p>Hello &amp; bye</p></doc>',
                                          'mimeType="text/xml" schema="urn:x.xsd" encoding="UTF-8"')).inputs
    assert (item.kind, item.mime_type, item.schema, item.encoding) == ("complex", "text/xml", "urn:x.xsd", "UTF-8")
    doc = etree.fromstring(item.payload)
    assert doc.tag == "{urn:x}doc" and doc.get("a") == "1" and doc.findtext("{urn:x}p") == "Hello & bye"


def test_complex_data_xml_child_of_a_pretty_printed_request_is_the_element_alone():
    """Whitespace or text after the child element (its tail) is not part of the payload."""
    (item,) = parse_execute(complex_input("\n        <doc><p>x</p></doc>\n      ")).inputs
    assert item.payload.endswith(b"</doc>"), item.payload


def test_reference_body_of_a_pretty_printed_request_is_the_element_alone():
    ref = ('<wps:Reference xlink:href="http://example.org/wfs" method="POST"><wps:Body>\n  <GetFeature/>\n  tail'
           "</wps:Body></wps:Reference>")
    (item,) = parse_execute(execute_xml(one_input("text", ref))).inputs
    assert item.reference.body.endswith(b"/>"), item.reference.body


def test_complex_data_two_root_elements():
    raises(complex_input("<a/><b/>"), InvalidParameterValue, "text")


def test_complex_data_plain_text():
    (item,) = parse_execute(complex_input("one two &amp; three\nfour", 'mimeType="text/plain"')).inputs
    assert item.payload == b"one two & three\nfour" and item.mime_type == "text/plain"


def test_complex_data_utf8_text():
    (item,) = parse_execute(complex_input("Grüße 東京", 'mimeType="text/plain"')).inputs
    assert item.payload == "Grüße 東京".encode()


def test_complex_data_cdata():
    (item,) = parse_execute(complex_input("<![CDATA[<not> & parsed]]>", 'mimeType="text/plain"')).inputs
    assert item.payload == b"<not> & parsed"


def test_complex_data_without_mime_type():
    (item,) = parse_execute(complex_input("abc", "")).inputs
    assert item.mime_type is None and item.payload == b"abc"


def test_complex_data_base64():
    raw = bytes(range(256))
    encoded = base64.b64encode(raw).decode()
    wrapped = "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))
    (item,) = parse_execute(complex_input(wrapped, 'mimeType="application/zip" encoding="base64"')).inputs
    assert item.payload == raw and item.encoding == "base64"


def test_complex_data_base64_encoding_name_any_case():
    (item,) = parse_execute(complex_input(base64.b64encode(b"hi").decode(), 'encoding="Base64"')).inputs
    assert item.payload == b"hi"


@pytest.mark.parametrize("content", ["not base64!", "QUJ", "QUJDR", "Zm9v\u00e9"])
def test_complex_data_invalid_base64(content):
    exc = raises(complex_input(content, 'mimeType="text/plain" encoding="base64"'), InvalidParameterValue, "text")
    assert exc.http_status == 400


def test_complex_data_base64_with_element_child():
    raises(complex_input("<a/>", 'encoding="base64"'), InvalidParameterValue, "text")


# --- Execute: bounding box --------------------------------------------------------------------------------


def test_bounding_box_data():
    data = ('<wps:Data><wps:BoundingBoxData crs="EPSG:3035" dimensions="2">'
            "<ows:LowerCorner>-10.5 20</ows:LowerCorner><ows:UpperCorner> 30 40.25 </ows:UpperCorner>"
            "</wps:BoundingBoxData></wps:Data>")
    (item,) = parse_execute(execute_xml(one_input("bbox", data))).inputs
    assert item.kind == "bbox"
    assert item.bbox == BBoxValue(lower=(-10.5, 20.0), upper=(30.0, 40.25), crs="EPSG:3035", dimensions=2)


def test_bounding_box_without_crs_or_dimensions():
    data = ("<wps:Data><wps:BoundingBoxData><ows:LowerCorner>0 0 0</ows:LowerCorner>"
            "<ows:UpperCorner>1 1 1</ows:UpperCorner></wps:BoundingBoxData></wps:Data>")
    (item,) = parse_execute(execute_xml(one_input("bbox", data))).inputs
    assert item.bbox == BBoxValue(lower=(0.0, 0.0, 0.0), upper=(1.0, 1.0, 1.0))


@pytest.mark.parametrize("inner,exc_type", [
    ("<ows:LowerCorner>0 0</ows:LowerCorner>", MissingParameterValue),
    ("<ows:UpperCorner>0 0</ows:UpperCorner>", MissingParameterValue),
    ("<ows:LowerCorner>a b</ows:LowerCorner><ows:UpperCorner>1 1</ows:UpperCorner>", InvalidParameterValue),
    ("<ows:LowerCorner>nan 0</ows:LowerCorner><ows:UpperCorner>1 1</ows:UpperCorner>", InvalidParameterValue),
    ("<ows:LowerCorner>0 0</ows:LowerCorner><ows:UpperCorner>1 inf</ows:UpperCorner>", InvalidParameterValue),
    ("<ows:LowerCorner></ows:LowerCorner><ows:UpperCorner>1 1</ows:UpperCorner>", InvalidParameterValue),
])
def test_bounding_box_errors(inner, exc_type):
    data = f"<wps:Data><wps:BoundingBoxData>{inner}</wps:BoundingBoxData></wps:Data>"
    raises(execute_xml(one_input("bbox", data)), exc_type, "bbox")


def test_bounding_box_bad_dimensions():
    data = ('<wps:Data><wps:BoundingBoxData dimensions="two"><ows:LowerCorner>0 0</ows:LowerCorner>'
            "<ows:UpperCorner>1 1</ows:UpperCorner></wps:BoundingBoxData></wps:Data>")
    raises(execute_xml(one_input("bbox", data)), InvalidParameterValue, "bbox")


# --- Execute: references ----------------------------------------------------------------------------------


def test_reference_get():
    ref = '<wps:Reference xlink:href="http://example.org/a.txt?x=1&amp;y=2" mimeType="text/plain" encoding="UTF-8"/>'
    (item,) = parse_execute(execute_xml(one_input("text", ref))).inputs
    assert item.reference == InputReference(href="http://example.org/a.txt?x=1&y=2", method="GET")
    assert (item.mime_type, item.encoding, item.payload, item.text) == ("text/plain", "UTF-8", None, None)


def test_reference_post_with_body_and_headers():
    ref = ('<wps:Reference xlink:href="http://example.org/wfs" method="POST" schema="urn:s">'
           '<wps:Header key="Accept" value="text/xml"/><wps:Header key="X-Token" value="abc"/>'
           '<wps:Body><GetFeature xmlns="http://www.opengis.net/wfs" service="WFS"/></wps:Body>'
           "</wps:Reference>")
    (item,) = parse_execute(execute_xml(one_input("text", ref))).inputs
    reference = item.reference
    assert reference.href == "http://example.org/wfs" and reference.method == "POST"
    assert reference.headers == (("Accept", "text/xml"), ("X-Token", "abc"))
    body = etree.fromstring(reference.body)
    assert body.tag == "{http://www.opengis.net/wfs}GetFeature" and body.get("service") == "WFS"
    assert item.schema == "urn:s"


def test_reference_post_with_text_body():
    ref = ('<wps:Reference xlink:href="http://example.org/x" method="post"><wps:Body>a=1&amp;b=2</wps:Body>'
           "</wps:Reference>")
    (item,) = parse_execute(execute_xml(one_input("text", ref))).inputs
    assert item.reference.method == "POST" and item.reference.body == b"a=1&b=2"


def test_reference_body_reference():
    ref = ('<wps:Reference xlink:href="http://example.org/x" method="POST">'
           '<wps:BodyReference xlink:href="http://example.org/body.xml"/></wps:Reference>')
    (item,) = parse_execute(execute_xml(one_input("text", ref))).inputs
    assert item.reference.body_href == "http://example.org/body.xml" and item.reference.body is None


def test_reference_plain_href_attribute():
    (item,) = parse_execute(execute_xml(one_input("text", '<wps:Reference href="http://example.org/y"/>'))).inputs
    assert item.reference.href == "http://example.org/y"


def test_reference_errors():
    raises(execute_xml(one_input("text", "<wps:Reference/>")), MissingParameterValue, "text")
    raises(execute_xml(one_input("text", '<wps:Reference xlink:href="http://e/x" method="PUT"/>')),
           InvalidParameterValue, "text")


# --- malformed and hostile requests -----------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \n", b"<wps:Execute", b"not xml at all", b"<a><b></a>",
                                  b'<?xml version="1.0" encoding="no-such-encoding"?><a/>', b"\xff\xfe\x00<"])
def test_not_well_formed(body):
    exc = raises(body, MalformedRequest, "request")
    assert isinstance(exc, NoApplicableCode)
    assert exc.code == "NoApplicableCode" and exc.http_status == 400


XXE = (f'<?xml version="1.0"?>\n<!DOCTYPE wps:Execute [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
       f'<wps:Execute service="WPS" version="1.0.0" {NSDECL}><ows:Identifier>hello</ows:Identifier>'
       "<wps:DataInputs>" + one_input("name", "<wps:Data><wps:LiteralData>&xxe;</wps:LiteralData></wps:Data>")
       + "</wps:DataInputs></wps:Execute>").encode()
BILLION_LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                            for i in range(1, 10))
                  + f']>\n<wps:Execute service="WPS" version="1.0.0" {NSDECL}><ows:Identifier>&lol9;'
                    "</ows:Identifier></wps:Execute>").encode()
PARAMETER_ENTITY = ('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>\n'
                    f'<wps:GetCapabilities service="WPS" {NSDECL}/>').encode()
EXTERNAL_DTD = ('<?xml version="1.0"?>\n<!DOCTYPE x SYSTEM "file:///etc/passwd">\n'
                f'<wps:GetCapabilities service="WPS" {NSDECL}/>').encode()
HARMLESS_DOCTYPE = f'<!DOCTYPE wps:GetCapabilities>\n<wps:GetCapabilities service="WPS" {NSDECL}/>'.encode()


@pytest.mark.parametrize("body", [XXE, BILLION_LAUGHS, PARAMETER_ENTITY, EXTERNAL_DTD, HARMLESS_DOCTYPE],
                         ids=["xxe", "billion-laughs", "parameter-entity", "external-dtd", "plain-doctype"])
def test_dtds_and_entities_are_refused(body):
    exc = raises(body, MalformedRequest, "request")
    assert exc.http_status == 400
    assert "root:" not in exc.message and "lollollol" not in exc.message


def test_undeclared_entity_is_malformed():
    body = execute_xml(one_input("name", "<wps:Data><wps:LiteralData>&xxe;</wps:LiteralData></wps:Data>"))
    raises(body, MalformedRequest, "request")


@pytest.mark.parametrize("namespace", ["http://www.opengis.net/wps/2.0", "http://www.opengis.net/wps/1.0", ""])
def test_wrong_namespace(namespace):
    xmlns = f'xmlns="{namespace}"' if namespace else ""
    body = (f'<Execute service="WPS" version="1.0.0" {xmlns} xmlns:ows="http://www.opengis.net/ows/1.1">'
            "<ows:Identifier>hello</ows:Identifier></Execute>").encode()
    exc = raises(body, InvalidParameterValue, "request")
    assert exc.http_status == 400


@pytest.mark.parametrize("root", ['<wps:GetStatus service="WPS" version="1.0.0" {ns}/>',
                                  '<wps:Dismiss service="WPS" version="1.0.0" {ns}/>',
                                  '<GetMap xmlns="http://www.opengis.net/wms" service="WMS"/>'])
def test_unknown_root_is_operation_not_supported(root):
    exc = raises(root.format(ns=NSDECL).encode(), OperationNotSupported,
                 etree.QName(etree.fromstring(root.format(ns=NSDECL).encode())).localname)
    assert exc.http_status == 501


@pytest.mark.parametrize("root", ["GetCapabilities", "DescribeProcess", "Execute"])
def test_missing_service_attribute_is_tolerated(root):
    """PyWPS's clients and test helpers leave it out; the WPS namespace of the root names the service."""
    body = (f'<wps:{root} version="1.0.0" {NSDECL}><ows:Identifier>hello</ows:Identifier></wps:{root}>').encode()
    assert type(parse_xml(body)).__name__ == f"{root}Request"


@pytest.mark.parametrize("root", ["GetCapabilities", "DescribeProcess", "Execute"])
def test_empty_service_attribute(root):
    body = (f'<wps:{root} service="" version="1.0.0" {NSDECL}><ows:Identifier>hello</ows:Identifier>'
            f'</wps:{root}>').encode()
    raises(body, MissingParameterValue, "service")


def test_wrong_service_attribute():
    raises(f'<wps:GetCapabilities service="WMS" {NSDECL}/>'.encode(), InvalidParameterValue, "service")


@pytest.mark.parametrize("root", ["DescribeProcess", "Execute"])
def test_missing_version(root):
    body = (f'<wps:{root} service="WPS" {NSDECL}><ows:Identifier>hello</ows:Identifier></wps:{root}>').encode()
    raises(body, MissingParameterValue, "version")


@pytest.mark.parametrize("root", ["DescribeProcess", "Execute"])
def test_wrong_version(root):
    body = (f'<wps:{root} service="WPS" version="2.0.0" {NSDECL}><ows:Identifier>hello</ows:Identifier>'
            f"</wps:{root}>").encode()
    raises(body, InvalidParameterValue, "version")


def test_comments_and_processing_instructions_do_not_change_values():
    body = execute_xml(one_input("string", "<wps:Data><wps:LiteralData>ab<!-- x -->cd</wps:LiteralData></wps:Data>"))
    body = body.replace(b"<wps:Execute", b"<!-- hi --><?pi x?><wps:Execute", 1)
    assert parse_execute(body).inputs[0].text == "abcd"


# --- properties -------------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_property_arbitrary_bytes(body):
    try:
        result = parse_xml(body)
    except OWSException as exc:
        assert 400 <= exc.http_status < 600
        return
    assert isinstance(result, (GetCapabilitiesRequest, DescribeProcessRequest, ExecuteRequest))


_FIELD = st.one_of(st.text(max_size=10), st.sampled_from(["", "1.0.0", "WPS", "true", "false", "base64", "0", "2",
                                                          "1 2", "3 4", "EPSG:4326", "QUJD", "POST", "GET"]))
_XML_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff")


def _clean(text: str) -> str:
    return "".join(ch for ch in text if ch in "\t\n\r" or (ord(ch) >= 0x20 and ch not in "\ufffe\uffff"))


@st.composite
def execute_documents(draw):
    """Valid-shaped Execute requests whose attribute values and texts are arbitrary."""
    f = lambda: _clean(draw(_FIELD))  # noqa: E731
    text = lambda: escape(_clean(draw(st.text(alphabet=_XML_CHARS, max_size=20))))  # noqa: E731
    inputs = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["literal", "complex", "bbox", "reference"]))
        if kind == "literal":
            data = f"<wps:Data><wps:LiteralData uom={quoteattr(f())}>{text()}</wps:LiteralData></wps:Data>"
        elif kind == "complex":
            data = (f"<wps:Data><wps:ComplexData mimeType={quoteattr(f())} encoding={quoteattr(f())}>{text()}"
                    "</wps:ComplexData></wps:Data>")
        elif kind == "bbox":
            data = (f"<wps:Data><wps:BoundingBoxData crs={quoteattr(f())} dimensions={quoteattr(f())}>"
                    f"<ows:LowerCorner>{escape(f())}</ows:LowerCorner><ows:UpperCorner>{escape(f())}</ows:UpperCorner>"
                    "</wps:BoundingBoxData></wps:Data>")
        else:
            data = (f"<wps:Reference xlink:href={quoteattr(f())} method={quoteattr(f())}>"
                    f"<wps:Header key={quoteattr(f())} value={quoteattr(f())}/><wps:Body>{text()}</wps:Body>"
                    "</wps:Reference>")
        inputs.append(one_input(escape(f()), data))
    form = ""
    if draw(st.booleans()):
        tag = draw(st.sampled_from(["ResponseDocument", "RawDataOutput"]))
        attrs = " ".join(f"{name}={quoteattr(f())}" for name in
                         draw(st.lists(st.sampled_from(["storeExecuteResponse", "status", "lineage", "timeout",
                                                        "expire", "mimeType", "asReference"]), unique=True)))
        output = f"<ows:Identifier>{escape(f())}</ows:Identifier>"
        inner = f"<wps:Output asReference={quoteattr(f())}>{output}</wps:Output>" if tag == "ResponseDocument" \
            else output
        form = f"<wps:ResponseForm><wps:{tag} {attrs}>{inner}</wps:{tag}></wps:ResponseForm>"
    return (f"<wps:Execute service={quoteattr(f())} version={quoteattr(f())} {NSDECL}>"
            f"<ows:Identifier>{escape(f())}</ows:Identifier><wps:DataInputs>{''.join(inputs)}</wps:DataInputs>"
            f"{form}</wps:Execute>").encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(execute_documents())
def test_property_structured_execute_documents(body):
    try:
        result = parse_xml(body)
    except OWSException as exc:
        assert exc.code != "NoApplicableCode" or exc.http_status == 400, exc
        return
    assert isinstance(result, ExecuteRequest)
