"""WPS 1.0.0 KVP (HTTP GET) parsing: parse_kvp, split_query and parse_data_inputs, without a server."""
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wpsgate.exceptions import (InvalidParameterValue, MissingParameterValue, OperationNotSupported,
                                OWSException, VersionNegotiationFailed)
from wpsgate.protocol.kvp import parse_data_inputs, parse_kvp, split_query
from wpsgate.protocol.requests import (DescribeProcessRequest, ExecuteRequest, GetCapabilitiesRequest,
                                       InputReference, OutputRequest)

EXECUTE = "service=WPS&request=Execute&version=1.0.0&identifier=inout"


def execute(extra: str = "") -> ExecuteRequest:
    request = parse_kvp(EXECUTE + ("&" + extra if extra else ""))
    assert isinstance(request, ExecuteRequest)
    return request


def raises(query: str, exc_type: type, locator: str | None) -> OWSException:
    with pytest.raises(exc_type) as info:
        parse_kvp(query)
    assert type(info.value) is exc_type, repr(info.value)
    assert info.value.locator == locator, repr(info.value)
    return info.value


# --- keys, service, request, version -------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "service=WPS&request=GetCapabilities",
    "SERVICE=WPS&REQUEST=GetCapabilities",
    "Service=wps&Request=getcapabilities",
    "sErViCe=WpS&rEqUeSt=GETCAPABILITIES",
])
def test_keys_and_keywords_case_insensitive(query):
    assert isinstance(parse_kvp(query), GetCapabilitiesRequest)


def test_split_query_lowercases_keys_and_decodes_plain_values():
    params = split_query("Service=WPS&ReQuEsT=Execute&Identifier=a%2Cb&Language=de%2DDE&x=%C3%A9+t")
    assert params == {"service": "WPS", "request": "Execute", "identifier": "a,b", "language": "de-DE",
                      "x": "é t"}


def test_split_query_leaves_structured_values_encoded():
    params = split_query("DataInputs=a%3Db%3Bc&ResponseDocument=o%40asReference%3Dtrue&RawDataOutput=r%3D")
    assert params == {"datainputs": "a%3Db%3Bc", "responsedocument": "o%40asReference%3Dtrue",
                      "rawdataoutput": "r%3D"}


def test_split_query_ignores_empty_pairs_and_keys():
    assert split_query("&&service=WPS&&=x&") == {"service": "WPS"}


def test_getcapabilities_fields():
    request = parse_kvp("service=WPS&request=GetCapabilities&AcceptVersions=0.4.0,1.0.0&language=en-US")
    assert request == GetCapabilitiesRequest(accept_versions=("0.4.0", "1.0.0"), language="en-US")


def test_getcapabilities_needs_no_version():
    assert parse_kvp("service=WPS&request=GetCapabilities").accept_versions == ()


@pytest.mark.parametrize("accept", ["2.0.0", "0.4.0,2.0.0", "1.0"])
def test_accept_versions_without_100_fails_negotiation(accept):
    raises(f"service=WPS&request=GetCapabilities&acceptversions={accept}", VersionNegotiationFailed,
           "AcceptVersions")


def test_missing_service():
    raises("request=GetCapabilities", MissingParameterValue, "service")
    raises("service=&request=GetCapabilities", MissingParameterValue, "service")


@pytest.mark.parametrize("service", ["WMS", "WPS2", "W%20PS"])
def test_wrong_service(service):
    raises(f"service={service}&request=GetCapabilities", InvalidParameterValue, "service")


def test_missing_request():
    raises("service=WPS", MissingParameterValue, "request")
    raises("service=WPS&request=", MissingParameterValue, "request")


@pytest.mark.parametrize("operation", ["GetStatus", "Dismiss", "GetMap"])
def test_unknown_request_is_operation_not_supported(operation):
    exc = raises(f"service=WPS&request={operation}&version=1.0.0", OperationNotSupported, operation)
    assert exc.http_status == 501


@pytest.mark.parametrize("operation", ["DescribeProcess", "Execute"])
def test_missing_version(operation):
    raises(f"service=WPS&request={operation}&identifier=hello", MissingParameterValue, "version")
    raises(f"service=WPS&request={operation}&identifier=hello&version=", MissingParameterValue, "version")


@pytest.mark.parametrize("operation", ["DescribeProcess", "Execute"])
@pytest.mark.parametrize("version", ["2.0.0", "1.0", "0.4.0"])
def test_wrong_version(operation, version):
    raises(f"service=WPS&request={operation}&identifier=hello&version={version}", InvalidParameterValue,
           "version")


def test_describe_identifier_list_and_all():
    request = parse_kvp("service=WPS&request=DescribeProcess&version=1.0.0&identifier=hello,%20nap,inout")
    assert request == DescribeProcessRequest(identifiers=("hello", "nap", "inout"))
    for spelling in ("all", "ALL", "All"):
        request = parse_kvp(f"service=WPS&request=DescribeProcess&version=1.0.0&identifier={spelling}")
        assert request.identifiers == (spelling,)


def test_describe_language():
    request = parse_kvp("service=WPS&request=DescribeProcess&version=1.0.0&identifier=hello&Language=en-US")
    assert request.language == "en-US"


@pytest.mark.parametrize("operation", ["DescribeProcess", "Execute"])
def test_missing_identifier(operation):
    raises(f"service=WPS&request={operation}&version=1.0.0", MissingParameterValue, "identifier")
    raises(f"service=WPS&request={operation}&version=1.0.0&identifier=,", MissingParameterValue, "identifier")


def test_execute_takes_one_identifier():
    raises("service=WPS&request=Execute&version=1.0.0&identifier=a,b", InvalidParameterValue, "identifier")


@pytest.mark.parametrize("query,locator", [
    ("service=WPS&service=WPS&request=GetCapabilities", "service"),
    ("service=WPS&SERVICE=WPS&request=GetCapabilities", "service"),
    (EXECUTE + "&DataInputs=a=1&datainputs=b=2", "datainputs"),
    (EXECUTE + "&version=1.0.0", "version"),
])
def test_duplicate_keys_are_refused(query, locator):
    raises(query, InvalidParameterValue, locator)


@pytest.mark.parametrize("query,locator", [
    ("service=WP%S&request=GetCapabilities", "service"),
    ("service=WPS&request=GetCapabilities&language=%E", "language"),
    (EXECUTE + "&DataInputs=string=%zz", "string"),
    (EXECUTE + "&DataInputs=str%ing=1", "DataInputs"),
    ("serv%ice=WPS&request=GetCapabilities", "request"),
])
def test_broken_percent_escapes(query, locator):
    raises(query, InvalidParameterValue, locator)


@pytest.mark.parametrize("query,locator", [
    ("service=WPS&request=GetCapabilities&language=%FF", "language"),
    (EXECUTE + "&DataInputs=string=%C3%28", "string"),
    (EXECUTE + "&DataInputs=string%3D%ED%A0%80", "DataInputs"),  # an encoded surrogate is not UTF-8
])
def test_invalid_utf8_after_decoding(query, locator):
    raises(query, InvalidParameterValue, locator)


# --- DataInputs ------------------------------------------------------------------------------------------


def test_data_inputs_simple_and_repeated():
    inputs = parse_data_inputs("string=x;int=3;float=1.5;float=2")
    assert [(i.identifier, i.text) for i in inputs] == [("string", "x"), ("int", "3"), ("float", "1.5"),
                                                        ("float", "2")]
    assert all(i.kind is None and i.reference is None for i in inputs)


def test_data_inputs_values_with_reserved_characters_and_utf8():
    inputs = parse_data_inputs("string=a%3Db%3Bc%40d%25e;text=%C3%A9t%C3%A9+%E2%82%AC%20%F0%9F%90%8D")
    assert [(i.identifier, i.text) for i in inputs] == [("string", "a=b;c@d%e"), ("text", "été € 🐍")]


def test_data_inputs_identifier_and_attribute_fields_are_decoded():
    (item,) = parse_data_inputs("my%20input=1@uom=m%2Fs")
    assert item.identifier == "my input" and item.text == "1" and item.uom == "m/s"


def test_data_inputs_entry_without_value():
    (item,) = parse_data_inputs("string")
    assert item.identifier == "string" and item.text == ""


def test_data_inputs_empty_entries_ignored():
    assert [i.identifier for i in parse_data_inputs(";a=1;;b=2;")] == ["a", "b"]


def test_data_inputs_wholly_encoded_like_requests():
    query = urlencode({"service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": "hello",
                       "DataInputs": "name=Ada Lovelace;other=x@uom=m"})
    assert "name%3DAda+Lovelace" in query
    request = parse_kvp(query)
    assert [(i.identifier, i.text, i.uom) for i in request.inputs] == [("name", "Ada Lovelace", None),
                                                                       ("other", "x", "m")]


def test_data_inputs_wholly_encoded_keeps_a_plus_sign():
    # urlencode turns '+' into %2B and ' ' into '+'; both must come back as they were.
    query = urlencode({"service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": "hello",
                       "DataInputs": "name=1+1 = 2"})
    (item,) = parse_kvp(query).inputs
    assert item.text == "1+1 = 2"


def test_data_inputs_per_field_escapes_encoded_again_by_a_url_library():
    """A value written in the standard's form (per-field escapes) and then encoded whole by urlencode."""
    query = urlencode({"service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": "hello",
                       "DataInputs": "name=a%3Db%3Bc%40d;other=%C3%A9@uom=m%2Fs"})
    assert "%253D" in query
    request = parse_kvp(query)
    assert [(i.identifier, i.text, i.uom) for i in request.inputs] == [("name", "a=b;c@d", None),
                                                                       ("other", "é", "m/s")]


def test_data_inputs_wholly_encoded_utf8():
    query = urlencode({"service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": "hello",
                       "DataInputs": "name=Zoë 東京"})
    (item,) = parse_kvp(query).inputs
    assert item.text == "Zoë 東京"


def test_data_inputs_all_attributes():
    (item,) = parse_data_inputs("text=abc@mimeType=text%2Fplain@encoding=UTF-8@schema=http%3A%2F%2Fs%2Fx.xsd"
                                "@datatype=string@uom=m")
    assert (item.mime_type, item.encoding, item.schema, item.datatype, item.uom) == \
        ("text/plain", "UTF-8", "http://s/x.xsd", "string", "m")
    assert item.text == "abc"


def test_data_inputs_attribute_names_case_insensitive():
    (item,) = parse_data_inputs("text=abc@MIMETYPE=text/plain@Encoding=base64@UOM=m")
    assert (item.mime_type, item.encoding, item.uom) == ("text/plain", "base64", "m")


@pytest.mark.parametrize("attribute", ["xlink:href", "href", "XLINK:HREF"])
def test_data_inputs_by_reference(attribute):
    (item,) = parse_data_inputs(f"text=@{attribute}=http%3A%2F%2Fexample.org%2Fa.txt%3Fx%3D1%26y%3D2"
                                "@mimeType=text/plain")
    assert item.reference == InputReference(href="http://example.org/a.txt?x=1&y=2", method="GET")
    assert item.text is None and item.mime_type == "text/plain"


def test_data_inputs_reference_with_literal_equals_in_href():
    (item,) = parse_data_inputs("text=@xlink:href=http://example.org/get?a=b")
    assert item.reference.href == "http://example.org/get?a=b"


def test_data_inputs_reference_method_post():
    (item,) = parse_data_inputs("text=@xlink:href=http://example.org/x@method=post")
    assert item.reference.method == "POST"
    with pytest.raises(InvalidParameterValue) as info:
        parse_data_inputs("text=@xlink:href=http://example.org/x@method=DELETE")
    assert info.value.locator == "text"


def test_data_inputs_bounding_box_text_is_kept():
    (item,) = parse_data_inputs("bbox=-10.5,20,30,40.25,EPSG:3035,2")
    assert item.text == "-10.5,20,30,40.25,EPSG:3035,2" and item.bbox is None


@pytest.mark.parametrize("raw,locator", [
    ("a=1@foo=bar", "a"),          # unknown attribute
    ("a=1@uom", "a"),              # attribute without a value
    ("a=1@=m", "a"),               # attribute without a name
    ("=1", "DataInputs"),          # entry without an identifier
    ("%20=1", "DataInputs"),
])
def test_data_inputs_errors(raw, locator):
    with pytest.raises(InvalidParameterValue) as info:
        parse_data_inputs(raw)
    assert info.value.locator == locator


def test_empty_data_inputs_means_no_inputs():
    assert execute("DataInputs=").inputs == ()


# --- ResponseDocument and RawDataOutput ------------------------------------------------------------------


def test_response_document():
    request = execute("ResponseDocument=string;text@asReference=true@mimeType=text/plain;float@uom=m"
                      "@asReference=FALSE")
    assert request.outputs == (
        OutputRequest("string"),
        OutputRequest("text", as_reference=True, mime_type="text/plain"),
        OutputRequest("float", as_reference=False, uom="m"),
    )
    assert request.raw_output is None


def test_response_document_wholly_encoded():
    query = EXECUTE + "&" + urlencode({"ResponseDocument": "text@asReference=true@mimeType=text/plain"})
    assert parse_kvp(query).outputs == (OutputRequest("text", as_reference=True, mime_type="text/plain"),)


def test_response_document_list_wholly_encoded():
    """urlencode turns 'string;int' into string%3Bint (no '=' anywhere): still two outputs."""
    query = EXECUTE + "&" + urlencode({"ResponseDocument": "string;int"})
    assert parse_kvp(query).outputs == (OutputRequest("string"), OutputRequest("int"))


def test_response_document_errors():
    with pytest.raises(InvalidParameterValue) as info:
        execute("ResponseDocument=text@asReference=yes")
    assert info.value.locator == "text"
    with pytest.raises(InvalidParameterValue) as info:
        execute("ResponseDocument=text@colour=red")
    assert info.value.locator == "text"
    with pytest.raises(InvalidParameterValue) as info:
        execute("ResponseDocument=text=value")
    assert info.value.locator == "text"


def test_raw_data_output():
    request = execute("RawDataOutput=text@mimeType=text%2Fplain")
    assert request.raw_output == OutputRequest("text", mime_type="text/plain")
    assert request.outputs == ()


def test_raw_data_output_names_exactly_one_output():
    with pytest.raises(InvalidParameterValue) as info:
        execute("RawDataOutput=a;b")
    assert info.value.locator == "RawDataOutput"


def test_raw_data_output_and_response_document_exclude_each_other():
    with pytest.raises(InvalidParameterValue):
        execute("RawDataOutput=a&ResponseDocument=b")


# --- booleans, TIMEOUT, EXPIRE, language ------------------------------------------------------------------


def test_execute_defaults():
    request = execute()
    assert (request.store_execute_response, request.status, request.lineage) == (False, False, False)
    assert (request.timeout, request.expire, request.language) == (None, None, None)
    assert request.identifier == "inout" and request.version == "1.0.0"


def test_execute_booleans_any_case():
    request = execute("storeExecuteResponse=TRUE&Status=True&LINEAGE=true")
    assert (request.store_execute_response, request.status, request.lineage) == (True, True, True)
    request = execute("storeExecuteResponse=false&status=False&lineage=")
    assert (request.store_execute_response, request.status, request.lineage) == (False, False, False)


@pytest.mark.parametrize("key,locator", [("storeExecuteResponse", "storeExecuteResponse"),
                                         ("status", "status"), ("lineage", "lineage")])
@pytest.mark.parametrize("value", ["1", "yes", "on", "truee"])
def test_invalid_booleans(key, locator, value):
    raises(f"{EXECUTE}&{key}={value}", InvalidParameterValue, locator)


def test_timeout_and_expire():
    request = execute("TIMEOUT=90&expire=3600.5")
    assert (request.timeout, request.expire) == (90.0, 3600.5)


@pytest.mark.parametrize("value", ["0", "-5", "abc", "inf", "nan", "1e999"])
def test_invalid_timeout_and_expire(value):
    raises(f"{EXECUTE}&TIMEOUT={value}", InvalidParameterValue, "TIMEOUT")
    raises(f"{EXECUTE}&EXPIRE={value}", InvalidParameterValue, "EXPIRE")


def test_execute_language():
    assert execute("language=de-DE").language == "de-DE"


# --- property: anything goes in, a request or an OWSException comes out -----------------------------------

# Tornado hands the query over as the latin-1 decoding of the request target, so every character is < U+0100.
_QUERY_PIECES = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=12),
    st.sampled_from(["service=WPS", "request=Execute", "request=DescribeProcess", "request=GetCapabilities",
                     "version=1.0.0", "identifier=inout", "identifier=all", "DataInputs=", "ResponseDocument=",
                     "RawDataOutput=", "=", "&", ";", "@", "%", "%3D", "%3B", "%40", "%C3%A9", "%FF", "%E2%82",
                     "@uom=", "@xlink:href=", "@method=", "@asReference=", "lineage=", "status=", "TIMEOUT=",
                     "AcceptVersions=", "+", ","]),
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_QUERY_PIECES, max_size=14).map("".join))
def test_property_parse_kvp_returns_request_or_ows_exception(query):
    try:
        result = parse_kvp(query)
    except OWSException as exc:
        assert exc.code and 400 <= exc.http_status < 600
        return
    assert isinstance(result, (GetCapabilitiesRequest, DescribeProcessRequest, ExecuteRequest))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=60))
def test_property_data_inputs_returns_inputs_or_ows_exception(raw):
    try:
        result = parse_data_inputs(raw)
    except OWSException:
        return
    assert all(item.identifier for item in result)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
                          .filter(lambda s: s.strip() == s and s.strip()),
                          st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)),
                min_size=1, max_size=4))
def test_property_per_field_encoding_round_trips(pairs):
    """Any identifier and value survive when each field is %-encoded on its own (the standard's way)."""
    from urllib.parse import quote

    raw = ";".join(f"{quote(identifier, safe='')}={quote(value, safe='')}" for identifier, value in pairs)
    result = parse_data_inputs(raw)
    assert [(i.identifier, i.text) for i in result] == pairs
