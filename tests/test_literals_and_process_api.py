"""The process API: literal types, allowed values, formats, validation modes, and converting a request's inputs."""
import datetime as dt
import io
import json
import os

import pytest

from wpsgate.exceptions import FileSizeExceeded, InvalidParameterValue, MissingParameterValue
from wpsgate.demo.binaryoperator import BinaryOperator
from wpsgate.demo.hello import Hello
from wpsgate.demo.inout import InOut
from wpsgate.demo.wordcounter import WordCounter
from wpsgate.jobs.inputs import convert_inputs, parse_bbox_text
from wpsgate.process import (FORMATS, AllowedValue, AnyValue, BoundingBox, ComplexInput, ComplexOutput, Format,
                             InputData, LiteralInput, LiteralOutput, MODE, Process, WPSResponse)
from wpsgate.process.literals import LITERAL_TYPES, LiteralError, literal_type
from wpsgate.process.validation import ValidationError, validate_complex
from wpsgate.protocol.kvp import parse_kvp

LIMIT = 3 * 1024 * 1024


# --- literal types ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,text,expected", [
    ("string", " any thing é ", " any thing é "),
    ("string", "", ""),
    ("integer", "42", 42),
    ("integer", " -7 ", -7),
    ("integer", "+5", 5),
    ("float", "1.5", 1.5),
    ("float", "-2e3", -2000.0),
    ("float", "3", 3.0),
    ("float", ".5", 0.5),
    ("boolean", "true", True),
    ("boolean", "FALSE", False),
    ("boolean", "1", True),
    ("boolean", "0", False),
    ("date", "2017-05-11", dt.date(2017, 5, 11)),
    ("dateTime", "2016-09-02T12:00:00Z", dt.datetime(2016, 9, 2, 12, tzinfo=dt.timezone.utc)),
    ("dateTime", "2016-09-02T12:00:00+02:00",
     dt.datetime(2016, 9, 2, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
    ("dateTime", "2016-09-02T12:00:00", dt.datetime(2016, 9, 2, 12)),
    ("time", "12:30:05", dt.time(12, 30, 5)),
    ("time", "12:30:05Z", dt.time(12, 30, 5, tzinfo=dt.timezone.utc)),
    ("anyURI", "http://example.org/a?b=c", "http://example.org/a?b=c"),
    ("anyURI", "urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:EPSG::4326"),
    ("positiveInteger", "1", 1),
    ("nonNegativeInteger", "0", 0),
])
def test_literal_types_convert(name, text, expected):
    value = literal_type(name).parse(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("name,text", [
    ("integer", "1.5"), ("integer", "abc"), ("integer", ""), ("integer", "1" * 41),
    ("float", "abc"), ("float", ""), ("float", "NaN"), ("float", "nan"), ("float", "inf"), ("float", "-Infinity"),
    ("float", "1e999"), ("float", "1" * 401),
    ("boolean", "maybe"), ("boolean", ""),
    ("date", "2017-13-01"), ("date", "11.05.2017"), ("date", "2017-02-30"),
    ("dateTime", "yesterday"), ("dateTime", "2016-09-02T25:00:00"),
    ("time", "25:00:00"), ("time", "noon"),
    ("anyURI", "not a uri"), ("anyURI", "relative/path"), ("anyURI", ""), ("anyURI", "http://a b"),
    ("positiveInteger", "0"), ("positiveInteger", "-1"), ("positiveInteger", "x"),
    ("nonNegativeInteger", "-1"), ("nonNegativeInteger", "1.0"),
])
def test_literal_types_reject(name, text):
    with pytest.raises(LiteralError):
        literal_type(name).parse(text)


@pytest.mark.parametrize("name,text", [
    ("integer", "1_000"),            # Python's int() accepts digit separators; xsd:integer does not
    ("integer", "\u0661\u0662"),     # Arabic-Indic digits
    ("float", "1_0.5"),
    ("nonNegativeInteger", "1_0"),
    ("dateTime", "2016-09-02"),      # xsd:dateTime needs a time
    ("date", "20170511"),            # ISO 8601 basic format is not xsd:date
    ("date", "2017-W19-4"),          # nor is a week date
])
def test_literal_types_accept_only_the_xsd_lexical_space(name, text):
    with pytest.raises(LiteralError):
        literal_type(name).parse(text)


def test_literal_type_names_and_aliases():
    assert set(LITERAL_TYPES) == {"string", "integer", "float", "boolean", "date", "dateTime", "time", "anyURI",
                                  "positiveInteger", "nonNegativeInteger", "scale", "angle"}
    assert literal_type("angle").parse("370") == 10.0  # PyWPS's angle, in [0, 360)
    assert literal_type("double").name == "float"
    assert literal_type("int").name == "integer"
    assert literal_type("http://www.w3.org/TR/xmlschema-2/#dateTime").name == "dateTime"
    assert literal_type("xs:boolean").name == "boolean"
    assert literal_type("float").reference == "http://www.w3.org/TR/xmlschema-2/#float"
    with pytest.raises(ValueError):
        literal_type("complex")


@pytest.mark.parametrize("name,value,text", [
    ("float", 1.0, "1.0"), ("boolean", True, "true"), ("boolean", False, "false"), ("integer", 3, "3"),
    ("date", dt.date(2017, 5, 11), "2017-05-11"),
    ("dateTime", dt.datetime(2016, 9, 2, 12, tzinfo=dt.timezone.utc), "2016-09-02T12:00:00+00:00"),
])
def test_literal_types_render(name, value, text):
    assert literal_type(name).render(value) == text
    assert literal_type(name).parse(text) == value


# --- allowed values and ranges ----------------------------------------------------------------------------


def literal(data_type="integer", **kwargs) -> LiteralInput:
    return LiteralInput("x", "X", data_type=data_type, **kwargs)


def accepts(declaration: LiteralInput, text: str) -> bool:
    try:
        declaration.convert(text)
    except LiteralError:
        return False
    return True


def test_allowed_value_list():
    declaration = literal(allowed_values=[1, 2, 3, 5])
    assert [accepts(declaration, t) for t in ("1", "5", "4", "0")] == [True, True, False, False]


def test_allowed_value_list_given_as_text_is_converted():
    declaration = literal(allowed_values=["1", "2"])
    assert accepts(declaration, "2") and not accepts(declaration, "3")
    declaration = literal("float", allowed_values=[AllowedValue(value="0.5")])
    assert accepts(declaration, "0.5") and not accepts(declaration, "0.25")


def test_allowed_string_values():
    declaration = literal("string", allowed_values=["rock", "paper"])
    assert accepts(declaration, "rock") and not accepts(declaration, "Rock") and not accepts(declaration, "")


def test_any_value():
    for allowed in (None, AnyValue, AnyValue(), []):
        assert accepts(literal(allowed_values=allowed), "123456")


@pytest.mark.parametrize("closure,admitted", [
    ("closed", {0: True, 5: True, 10: True, -1: False, 11: False}),
    ("open", {0: False, 5: True, 10: False}),
    ("closed-open", {0: True, 5: True, 10: False}),
    ("open-closed", {0: False, 5: True, 10: True}),
])
def test_range_closures(closure, admitted):
    declaration = literal(allowed_values=[AllowedValue(minval=0, maxval=10, range_closure=closure)])
    assert {value: accepts(declaration, str(value)) for value in admitted} == admitted


def test_range_spacing():
    declaration = literal(allowed_values=[AllowedValue(minval=0, maxval=10, spacing=2)])
    assert [accepts(declaration, t) for t in ("0", "4", "10", "3", "12")] == [True, True, True, False, False]
    declaration = literal("float", allowed_values=[AllowedValue(minval=0.0, maxval=1.0, spacing=0.1)])
    assert accepts(declaration, "0.3") and accepts(declaration, "0.7") and not accepts(declaration, "0.35")


def test_half_open_ranges():
    at_least = literal("float", allowed_values=[AllowedValue(minval=0.0)])
    assert accepts(at_least, "1e300") and not accepts(at_least, "-0.001")
    at_most = literal("float", allowed_values=[AllowedValue(maxval=0.0)])
    assert accepts(at_most, "-1e300") and not accepts(at_most, "0.001")


def test_values_and_ranges_combined():
    declaration = literal(allowed_values=[AllowedValue(minval=0, maxval=3), 7, AllowedValue(value=9)])
    assert [accepts(declaration, t) for t in ("2", "7", "9", "5")] == [True, True, True, False]


def test_range_bounds_given_as_text_are_converted():
    """As a value list given as text is converted to the data type, so are range bounds (PyWPS does)."""
    declaration = literal("float", allowed_values=[AllowedValue(minval="0", maxval="100")])
    assert accepts(declaration, "50") and not accepts(declaration, "150")


def test_date_range():
    declaration = literal("date", allowed_values=[AllowedValue(minval=dt.date(2000, 1, 1),
                                                               maxval=dt.date(2000, 12, 31))])
    assert accepts(declaration, "2000-06-01") and not accepts(declaration, "2001-01-01")


# --- LiteralInput defaults and uoms -----------------------------------------------------------------------


def test_literal_input_default_is_converted_and_checked():
    declaration = LiteralInput("d", "D", data_type="date", default="2017-05-11", min_occurs=0)
    assert declaration.default == dt.date(2017, 5, 11)
    assert LiteralInput("n", "N", data_type="integer", default=7).default == 7
    with pytest.raises(LiteralError):
        LiteralInput("n", "N", data_type="integer", default=4, allowed_values=[1, 2])
    with pytest.raises(LiteralError):
        LiteralInput("n", "N", data_type="integer", default="seven")


def test_literal_input_uoms_and_defaults():
    declaration = LiteralInput("len", "Length", data_type="float", uoms=["metre", "foot"])
    assert declaration.uoms == ("metre", "foot")
    assert (declaration.min_occurs, declaration.max_occurs, declaration.default) == (1, 1, None)
    assert declaration.title == "Length" and declaration.data_type == "float"


@pytest.mark.parametrize("min_occurs,max_occurs", [(-1, 1), (0, 0), (2, 1)])
def test_literal_input_bad_occurrences(min_occurs, max_occurs):
    with pytest.raises(ValueError):
        LiteralInput("x", "X", min_occurs=min_occurs, max_occurs=max_occurs)


def test_declarations_need_an_identifier():
    with pytest.raises(ValueError):
        LiteralInput("", "X")
    with pytest.raises(ValueError):
        ComplexInput("x", "X", supported_formats=[])


# --- formats ----------------------------------------------------------------------------------------------


def test_formats_table():
    expected = {"GEOJSON": "application/geo+json", "JSON": "application/json", "GML": "application/gml+xml",
                "KML": "application/vnd.google-earth.kml+xml", "KMZ": "application/vnd.google-earth.kmz",
                "GEOTIFF": "image/tiff; subtype=geotiff", "NETCDF": "application/x-netcdf", "TEXT": "text/plain",
                "CSV": "text/csv", "XML": "text/xml", "ZIP": "application/zip", "SHP": "application/x-zipped-shp"}
    for name, mime_type in expected.items():
        fmt = getattr(FORMATS, name)
        assert isinstance(fmt, Format) and fmt.mime_type == mime_type, name
        assert fmt.extension.startswith("."), name
    assert {n for n in ("KMZ", "GEOTIFF", "NETCDF", "ZIP", "SHP") if getattr(FORMATS, n).binary} == \
        {"KMZ", "GEOTIFF", "NETCDF", "ZIP", "SHP"}
    assert not any(getattr(FORMATS, n).binary for n in ("GEOJSON", "JSON", "GML", "KML", "TEXT", "CSV", "XML"))


def test_choose_format():
    declaration = ComplexInput("data", "Data", supported_formats=[FORMATS.GEOJSON, FORMATS.GML,
                                                                  FORMATS.XML.with_(schema="urn:s")])
    assert declaration.data_format == FORMATS.GEOJSON
    assert declaration.choose_format(None) == FORMATS.GEOJSON
    assert declaration.choose_format("application/gml+xml") == FORMATS.GML
    assert declaration.choose_format("APPLICATION/GML+XML; charset=UTF-8") == FORMATS.GML
    assert declaration.choose_format("text/xml", schema="urn:s").schema == "urn:s"
    assert declaration.choose_format("text/xml", schema="urn:other") is None
    assert declaration.choose_format("application/pdf") is None
    assert declaration.choose_format("application/geo+json", encoding="base64") == FORMATS.GEOJSON
    assert declaration.choose_format("application/geo+json", encoding="koi8-r") is None


def test_choose_format_explicit_default():
    declaration = ComplexInput("data", "Data", supported_formats=[FORMATS.TEXT, FORMATS.CSV],
                               data_format=FORMATS.CSV)
    assert declaration.choose_format(None) == FORMATS.CSV
    assert declaration.choose_format("text/plain") == FORMATS.TEXT


# --- validation modes -------------------------------------------------------------------------------------


def test_mode_none_accepts_anything():
    validate_complex(b"\xff\xfe not json", FORMATS.JSON, MODE.NONE)


def test_mode_simple_checks_text_is_utf8():
    validate_complex("{ nicht json é".encode(), FORMATS.JSON, MODE.SIMPLE)
    validate_complex(b"\x00\xff\x10", FORMATS.ZIP, MODE.SIMPLE)
    with pytest.raises(ValidationError):
        validate_complex(b"\xff\xfe\x00", FORMATS.TEXT, MODE.SIMPLE)


def test_mode_strict_json():
    validate_complex(b'{"type": "FeatureCollection", "features": []}', FORMATS.GEOJSON, MODE.STRICT)
    with pytest.raises(ValidationError):
        validate_complex(b'{"type": ', FORMATS.GEOJSON, MODE.STRICT)
    with pytest.raises(ValidationError):
        validate_complex(b"[1, 2,]", FORMATS.JSON, MODE.STRICT)


def test_mode_strict_xml():
    validate_complex(b"<a><b/></a>", FORMATS.GML, MODE.STRICT)
    with pytest.raises(ValidationError):
        validate_complex(b"<a><b></a>", FORMATS.XML, MODE.STRICT)
    with pytest.raises(ValidationError):
        validate_complex(b"<?xml version='1.0'?><!DOCTYPE a [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><a>&e;</a>"
                         b"<b/>", FORMATS.XML, MODE.STRICT)


def test_mode_strict_leaves_other_text_alone():
    validate_complex(b"a,b\n1,2", FORMATS.CSV, MODE.STRICT)


XSD = """<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:test" xmlns="urn:test"
           elementFormDefault="qualified">
  <xs:element name="point">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="x" type="xs:double"/>
        <xs:element name="y" type="xs:double"/>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""


@pytest.mark.parametrize("as_url", [False, True])
def test_mode_strict_xml_schema_from_local_file(tmp_path, as_url):
    path = tmp_path / "point.xsd"
    path.write_text(XSD)
    fmt = FORMATS.XML.with_(schema=path.as_uri() if as_url else str(path))
    validate_complex(b'<point xmlns="urn:test"><x>1</x><y>2.5</y></point>', fmt, MODE.STRICT)
    with pytest.raises(ValidationError):
        validate_complex(b'<point xmlns="urn:test"><x>1</x></point>', fmt, MODE.STRICT)
    with pytest.raises(ValidationError):
        validate_complex(b'<point xmlns="urn:test"><x>east</x><y>2</y></point>', fmt, MODE.STRICT)
    # SIMPLE does not look at the schema
    validate_complex(b'<point xmlns="urn:test"/>', fmt, MODE.SIMPLE)


def test_mode_strict_schema_never_fetched(tmp_path):
    fmt = FORMATS.XML.with_(schema="http://schemas.example.org/point.xsd")
    with pytest.raises(ValidationError):
        validate_complex(b"<point/>", fmt, MODE.STRICT)
    fmt = FORMATS.XML.with_(schema=str(tmp_path / "missing.xsd"))
    with pytest.raises(ValidationError):
        validate_complex(b"<point/>", fmt, MODE.STRICT)


def test_format_validate_callable():
    fmt = FORMATS.CSV.with_(validate=lambda payload: None if payload.startswith(b"id,") else "needs an id column")
    validate_complex(b"id,v\n1,2", fmt, MODE.STRICT)
    with pytest.raises(ValidationError, match="needs an id column"):
        validate_complex(b"v\n2", fmt, MODE.STRICT)


def test_strict_validation_through_convert_inputs(tmp_path):
    process = Process(lambda request, response: response, "strict", "Strict", inputs=[
        ComplexInput("doc", "Doc", supported_formats=[FORMATS.JSON, FORMATS.XML], mode=MODE.STRICT)])
    good = execute_request("strict", "doc=%7B%22a%22%3A1%7D@mimeType=application/json")
    assert convert_inputs(process, good, LIMIT)["doc"][0].data == '{"a":1}'
    bad = execute_request("strict", "doc=%7B%22a%22@mimeType=application/json")
    with pytest.raises(InvalidParameterValue) as info:
        convert_inputs(process, bad, LIMIT)
    assert info.value.locator == "doc"
    bad_xml = execute_request("strict", "doc=%3Ca%3E@mimeType=text/xml")
    with pytest.raises(InvalidParameterValue) as info:
        convert_inputs(process, bad_xml, LIMIT)
    assert info.value.locator == "doc"


# --- Process, WPSResponse, InputData ----------------------------------------------------------------------


def test_process_duplicate_identifiers_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        Process(lambda r, s: s, "p", "P", inputs=[LiteralInput("a", "A"), LiteralInput("a", "A2")])
    with pytest.raises(ValueError, match="duplicate"):
        Process(lambda r, s: s, "p", "P", outputs=[LiteralOutput("o", "O"), LiteralOutput("o", "O2")])
    # an input and an output may share a name (inout does)
    process = Process(lambda r, s: s, "p", "P", inputs=[LiteralInput("a", "A")], outputs=[LiteralOutput("a", "A")])
    assert process.input_map["a"].kind == "literal" and process.output_map["a"].kind == "literal"


def test_process_needs_identifier():
    with pytest.raises(ValueError):
        Process(lambda r, s: s, "", "No name")


def test_process_defaults():
    process = Process(lambda r, s: s, "p", "")
    assert (process.title, process.version, process.store_supported, process.status_supported) == \
        ("p", "None", False, False)


@pytest.mark.parametrize("percent,expected", [(-5, 0), (0, 0), (42.7, 42), (100, 100), (150, 100), (1e9, 100)])
def test_update_status_clamps_percent(percent, expected):
    seen = []
    response = WPSResponse(Hello(), reporter=lambda message, pct: seen.append((message, pct)))
    response.update_status("working", percent)
    assert response.status_percentage == expected
    assert seen == [("working", expected)]


def test_update_status_keeps_percent_when_not_given():
    response = WPSResponse(Hello())
    response.update_status("a", 30)
    response.update_status("b")
    assert (response.message, response.status_percentage) == ("b", 30)


def test_wpsresponse_has_every_declared_output():
    response = WPSResponse(InOut())
    assert set(response.outputs) == {o.identifier for o in InOut().outputs}
    assert not any(o.is_set for o in response.outputs.values())


def test_input_data_text_complex_from_bytes(tmp_path):
    item = InputData("text", "complex", payload="one two\nthree é\n".encode(), data_format=FORMATS.TEXT,
                     workdir=str(tmp_path))
    assert item.data == "one two\nthree é\n"
    path = item.file
    assert os.path.dirname(path) == str(tmp_path) and path.endswith(".txt")
    with open(path, "rb") as handle:
        assert handle.read() == "one two\nthree é\n".encode()
    assert item.file == path  # written once
    with item.stream as stream:
        assert isinstance(stream, io.TextIOBase)
        assert stream.readlines() == ["one two\n", "three é\n"]


def test_input_data_binary_complex(tmp_path):
    payload = bytes(range(256))
    item = InputData("archive", "complex", payload=payload, data_format=FORMATS.ZIP, workdir=str(tmp_path))
    assert item.data == payload
    assert item.file.endswith(".zip")
    with item.stream as stream:
        assert stream.read() == payload and "b" in stream.mode


def test_input_data_complex_from_file(tmp_path):
    path = tmp_path / "staged.json"
    path.write_text('{"a": 1}')
    item = InputData("doc", "complex", path=str(path), data_format=FORMATS.JSON, url="http://example.org/x.json")
    assert json.loads(item.data) == {"a": 1}
    assert item.file == str(path) and item.url == "http://example.org/x.json"


def test_input_data_literal_and_bbox():
    assert InputData("n", "literal", 5, uom="m").data == 5
    with pytest.raises(AttributeError):
        InputData("n", "literal", 5).file
    box = InputData("bbox", "bbox", BoundingBox([1.0, 2.0], [3.0, 4.0], "EPSG:4326", 2))
    assert box.data == [1.0, 2.0, 3.0, 4.0]
    assert (box.ll, box.ur, box.crs, box.dimensions) == ([1.0, 2.0], [3.0, 4.0], "EPSG:4326", 2)


# --- convert_inputs ---------------------------------------------------------------------------------------


def execute_request(identifier: str, data_inputs: str = ""):
    query = f"service=WPS&request=Execute&version=1.0.0&identifier={identifier}"
    return parse_kvp(query + (f"&DataInputs={data_inputs}" if data_inputs else ""))


def convert(process, data_inputs: str = "", limit: int = LIMIT):
    return convert_inputs(process, execute_request(process.identifier, data_inputs), limit)


def expect_error(process, data_inputs, exc_type, locator):
    with pytest.raises(exc_type) as info:
        convert(process, data_inputs)
    assert type(info.value) is exc_type and info.value.locator == locator, repr(info.value)
    return info.value


def test_convert_inout_defaults_applied():
    inputs = convert(InOut(), "string=x")
    values = {k: [i.data for i in v] for k, v in inputs.items()}
    assert values == {"string": ["x"], "int": [7], "float": [3.14], "boolean": [True], "date": [dt.date(2012, 5, 1)],
                      "datetime": [dt.datetime(2016, 9, 2, 12, 0, tzinfo=dt.timezone.utc)],
                      "string_choice": ["scissor"]}  # Emu's defaults


def test_convert_inout_all_kinds():
    inputs = convert(InOut(), "string=h%C3%A9llo;int=11;float=0;float=99.5;boolean=true;date=2012-05-04;"
                              "datetime=2016-09-02T12:00:00Z;string_choice=rock;bbox=1,2,3,4,EPSG:3035;"
                              "text=one%20two@mimeType=text/plain")
    assert inputs["string"][0].data == "héllo"
    assert inputs["int"][0].data == 11
    assert [i.data for i in inputs["float"]] == [0.0, 99.5]
    assert inputs["boolean"][0].data is True
    assert inputs["date"][0].data == dt.date(2012, 5, 4)
    assert inputs["string_choice"][0].data == "rock"
    box = inputs["bbox"][0]
    assert (box.ll, box.ur, box.crs, box.dimensions) == ([1.0, 2.0], [3.0, 4.0], "EPSG:3035", 2)
    assert inputs["text"][0].data == "one two" and inputs["text"][0].data_format == FORMATS.TEXT


def test_convert_bbox_default_crs():
    box = convert(InOut(), "string=x;bbox=-180,-90,180,90")["bbox"][0]
    assert box.crs == "EPSG:4326" and box.data == [-180.0, -90.0, 180.0, 90.0]


def test_convert_unknown_input():
    expect_error(InOut(), "string=x;colour=red", InvalidParameterValue, "colour")


def test_convert_missing_required():
    expect_error(Hello(), "", MissingParameterValue, "name")
    expect_error(WordCounter(), "", MissingParameterValue, "text")


def test_convert_too_many_occurrences():
    expect_error(InOut(), "string=x;" + ";".join(f"float={i}" for i in range(6)), InvalidParameterValue, "float")
    expect_error(InOut(), "string=x;string=y", InvalidParameterValue, "string")


def test_convert_five_floats_is_fine():
    assert len(convert(InOut(), "string=x;" + ";".join(f"float={i}" for i in range(5)))["float"]) == 5


@pytest.mark.parametrize("data_inputs,locator", [
    ("string=x;int=4", "int"),
    ("string=x;int=seven", "int"),
    ("string=x;float=100.5", "float"),
    ("string=x;float=-1", "float"),
    ("string=x;float=nan", "float"),
    ("string=x;float=1;float=inf", "float"),
    ("string=x;boolean=perhaps", "boolean"),
    ("string=x;date=2017-02-30", "date"),
    ("string=x;string_choice=lizard", "string_choice"),
    ("string=x;bbox=1,2,3", "bbox"),
    ("string=x;bbox=1,2,3,4,EPSG:9999", "bbox"),
    ("string=x;bbox=1,2,3,4,EPSG:4326,3", "bbox"),
    ("string=x;bbox=1,2,nan,4", "bbox"),
])
def test_convert_bad_literal_and_bbox_values(data_inputs, locator):
    expect_error(InOut(), data_inputs, InvalidParameterValue, locator)


def test_convert_unsupported_mime_type():
    expect_error(InOut(), "string=x;text=abc@mimeType=application/json", InvalidParameterValue, "text")
    expect_error(WordCounter(), "text=abc@mimeType=image/png", InvalidParameterValue, "text")


def test_convert_complex_base64_in_kvp():
    inputs = convert(WordCounter(), "text=aGVsbG8gd29ybGQ%3D@mimeType=text/plain@encoding=base64")
    assert inputs["text"][0].data == "hello world"
    expect_error(WordCounter(), "text=%21%21%21@encoding=base64", InvalidParameterValue, "text")


def test_convert_complex_by_reference_keeps_url():
    (item,) = convert(WordCounter(), "text=@xlink:href=http%3A%2F%2Fexample.org%2Fa.txt")["text"]
    assert item.url == "http://example.org/a.txt" and item.kind == "complex"


def test_convert_literal_by_reference_refused():
    expect_error(Hello(), "name=@xlink:href=http://example.org/x", InvalidParameterValue, "name")


def test_convert_literal_uom():
    process = Process(lambda r, s: s, "len", "Length", inputs=[
        LiteralInput("length", "Length", data_type="float", uoms=["metre", "foot"])])
    assert convert(process, "length=3")["length"][0].uom == "metre"
    assert convert(process, "length=3@uom=foot")["length"][0].uom == "foot"
    expect_error(process, "length=3@uom=furlong", InvalidParameterValue, "length")


def test_convert_size_limits():
    with pytest.raises(FileSizeExceeded) as info:
        convert(Hello(), "name=" + "x" * 101, limit=100)
    assert info.value.locator == "name" and info.value.http_status == 413
    with pytest.raises(FileSizeExceeded) as info:
        convert(WordCounter(), "text=" + "x" * 101, limit=100)
    assert info.value.locator == "text"
    small = Process(lambda r, s: s, "small", "Small", inputs=[
        ComplexInput("doc", "Doc", supported_formats=[FORMATS.TEXT], max_megabytes=0.0001)])
    with pytest.raises(FileSizeExceeded):
        convert(small, "doc=" + "x" * 200)


def test_convert_binary_operator_defaults_and_operator():
    inputs = convert(BinaryOperator(), "inputa=6;operator=multiply")
    assert (inputs["inputa"][0].data, inputs["inputb"][0].data, inputs["operator"][0].data) == (6.0, 3.0, "multiply")
    expect_error(BinaryOperator(), "operator=power", InvalidParameterValue, "operator")


def test_convert_xml_request_kinds_must_match_declaration():
    from wpsgate.protocol.requests import BBoxValue, ExecuteRequest, RawInput

    request = ExecuteRequest("inout", inputs=(RawInput("string", kind="literal", text="x"),
                                              RawInput("int", kind="complex", payload=b"3")))
    with pytest.raises(InvalidParameterValue) as info:
        convert_inputs(InOut(), request, LIMIT)
    assert info.value.locator == "int"
    request = ExecuteRequest("inout", inputs=(RawInput("string", kind="literal", text="x"),
                                              RawInput("bbox", kind="bbox",
                                                       bbox=BBoxValue((0.0, 0.0), (1.0, 1.0), None, 3))))
    with pytest.raises(InvalidParameterValue) as info:
        convert_inputs(InOut(), request, LIMIT)
    assert info.value.locator == "bbox"


@pytest.mark.parametrize("text,expected", [
    ("1,2,3,4", ([1.0, 2.0], [3.0, 4.0], None, None)),
    ("1, 2, 3, 4, EPSG:4326", ([1.0, 2.0], [3.0, 4.0], "EPSG:4326", None)),
    ("1,2,3,4,5,6,urn:ogc:def:crs:EPSG::4979,3", ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], "urn:ogc:def:crs:EPSG::4979", 3)),
])
def test_parse_bbox_text(text, expected):
    assert parse_bbox_text(text, "bbox") == expected


@pytest.mark.parametrize("text", ["", "1,2", "1,2,3", "1,2,3,4,EPSG:4326,two", "1,2,3,4,a,b,c", "a,b,c,d"])
def test_parse_bbox_text_errors(text):
    with pytest.raises(InvalidParameterValue) as info:
        parse_bbox_text(text, "bbox")
    assert info.value.locator == "bbox"


def test_complex_output_declaration():
    output = ComplexOutput("o", "O", supported_formats=[FORMATS.JSON, FORMATS.TEXT], as_reference=True)
    assert output.as_reference and output.data_format == FORMATS.JSON
    assert output.choose_format("text/plain") == FORMATS.TEXT and output.choose_format("image/png") is None
