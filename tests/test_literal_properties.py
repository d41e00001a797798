"""Property tests of literal conversion: whatever text arrives, a literal type answers with a value or a
LiteralError (nothing else), render then parse gives back every valid value, and converting a request's inputs
answers with inputs or an OWS exception (nothing that would become a 500)."""
from __future__ import annotations

import datetime as dt
import math
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from wpsgate.demo.inout import InOut
from wpsgate.exceptions import OWSException
from wpsgate.jobs.inputs import convert_inputs
from wpsgate.process import InputData, LiteralInput, Process
from wpsgate.process.literals import LITERAL_TYPES, LiteralError, literal_type
from wpsgate.protocol.requests import BBoxValue, ExecuteRequest, InputReference, RawInput

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TYPES = sorted(LITERAL_TYPES)

# Text that looks like the lexical forms, so that the search reaches the parsers' corners quickly.
_PIECES = ["0", "1", "9", "12", "-", "+", ".", "e", "E", ":", "T", "Z", "z", "[", "]", "://", "http", "urn:", " ",
           "\t", "\u00a0", "\u0661", "nan", "inf", "INF", "Infinity", "true", "false", "yes", "2017", "-05", "-11",
           "00:00", "+14:00", "_", "%", "#", "?", "@", "\x00", "\u2028", "9" * 45, "0x", "\ud7ff", "24", "60"]
lexical_text = st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)
any_text = st.one_of(st.text(max_size=80), lexical_text)

_PYTHON_TYPE = {"string": str, "integer": int, "float": float, "boolean": bool, "date": dt.date,
                "dateTime": dt.datetime, "time": dt.time, "anyURI": str, "positiveInteger": int,
                "nonNegativeInteger": int, "scale": float, "angle": float}


# --- parse: a value or LiteralError, never anything else ---------------------------------------------------


@pytest.mark.parametrize("name", TYPES)
@SETTINGS
@given(text=any_text)
@example(text="http://[")
@example(text="http://[::1")
@example(text="12")
@example(text="9" * 5000)
@example(text="1" + "0" * 400)
def test_parse_returns_a_value_or_raises_literal_error(name, text):
    dtype = literal_type(name)
    try:
        value = dtype.parse(text)
    except LiteralError:
        return
    except Exception as exc:  # noqa: BLE001 - the property under test
        pytest.fail(f"{name}.parse({text!r}) raised {type(exc).__name__}: {exc} instead of LiteralError")
    expected = _PYTHON_TYPE[name]
    assert isinstance(value, expected), (name, text, value)
    if expected is int:
        assert not isinstance(value, bool)
    if name == "date":
        assert not isinstance(value, dt.datetime)
    if name == "angle":
        assert 0.0 <= value < 360.0  # brought into [0, 360) as PyWPS does
    if name == "float":
        assert math.isfinite(value), (text, value)
    if name == "positiveInteger":
        assert value > 0
    if name == "nonNegativeInteger":
        assert value >= 0


# What each type may accept: its xsd lexical space (after stripping surrounding whitespace).
_XSD_TIME = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
LEXICAL = {
    "integer": r"[+-]?[0-9]+",
    "positiveInteger": r"\+?[0-9]+",
    "nonNegativeInteger": r"\+?[0-9]+|-0+",
    "float": r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?",
    "date": r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}",
    "dateTime": r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T" + _XSD_TIME,
    "time": _XSD_TIME,
}


@pytest.mark.parametrize("name", sorted(LEXICAL))
@SETTINGS
@given(text=any_text)
@example(text="12")
@example(text="1200")
@example(text="T12:00")
@example(text="12:30")
def test_accepted_text_is_in_the_xsd_lexical_space(name, text):
    try:
        literal_type(name).parse(text)
    except LiteralError:
        return
    except Exception:  # noqa: BLE001 - reported by the property above
        return
    assert re.fullmatch(LEXICAL[name], text.strip()), f"{name} accepted {text!r}, which is not xsd:{name}"


# --- render then parse is the identity for valid values ----------------------------------------------------

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
LIMIT_INT = 10 ** 39 - 1  # 40 characters with the sign: the longest integer the gateway takes


def round_trip(name, value):
    dtype = literal_type(name)
    text = dtype.render(value)
    assert isinstance(text, str)
    back = dtype.parse(text)
    assert back == value, (name, value, text, back)
    assert type(back) is type(value), (name, value, text, back)
    return text, back


@SETTINGS
@given(value=st.integers(min_value=-LIMIT_INT, max_value=LIMIT_INT))
def test_round_trip_integer(value):
    round_trip("integer", value)
    if value > 0:
        round_trip("positiveInteger", value)
    if value >= 0:
        round_trip("nonNegativeInteger", value)


@SETTINGS
@given(value=st.floats(allow_nan=False, allow_infinity=False))
@example(value=-0.0)
@example(value=5e-324)
@example(value=1.7976931348623157e308)
@example(value=1e16)
def test_round_trip_finite_float(value):
    _, back = round_trip("float", value)
    assert math.copysign(1.0, back) == math.copysign(1.0, value)


@SETTINGS
@given(value=st.booleans())
def test_round_trip_boolean(value):
    text, _ = round_trip("boolean", value)
    assert text in ("true", "false")


@SETTINGS
@given(value=st.dates())
def test_round_trip_date(value):
    round_trip("date", value)


@SETTINGS
@given(value=st.datetimes(timezones=offsets))
@example(value=dt.datetime(2016, 9, 2, 12, tzinfo=dt.timezone.utc))
@example(value=dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=14))))
def test_round_trip_datetime_with_timezone(value):
    _, back = round_trip("dateTime", value)
    assert back.utcoffset() == value.utcoffset()


@SETTINGS
@given(value=st.datetimes())
def test_round_trip_naive_datetime(value):
    _, back = round_trip("dateTime", value)
    assert back.tzinfo is None


@SETTINGS
@given(value=st.one_of(st.times(), st.times(timezones=offsets)))
def test_round_trip_time(value):
    _, back = round_trip("time", value)
    assert back.utcoffset() == value.utcoffset()


@SETTINGS
@given(value=st.text())
def test_round_trip_string(value):
    round_trip("string", value)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_rendering_a_non_finite_float_gives_xsd_or_refuses(value):
    """A float output of inf or nan is either written in the xsd lexical form (INF, -INF, NaN) or refused with
    ValueError (the runner turns that into a failed job); Python's 'inf' and 'nan' are not xsd:float."""
    try:
        text = literal_type("float").render(value)
    except ValueError:
        return
    assert text in ("INF", "-INF", "NaN"), text


# --- convert_inputs: inputs or an OWS exception ------------------------------------------------------------

INOUT = InOut()
_IDENTIFIERS = [declaration.identifier for declaration in INOUT.inputs] + ["nope", "STRING", "text "]
_INTERESTING = ["x", "", "1", "7", "11", "4", "-1", "0", "100", "100.5", "nan", "inf", "1e400", "true", "maybe",
                "2017-05-11", "2017-02-30", "2016-09-02T12:00:00Z", "rock", "lizard", "0,0,1,1",
                "0,0,1,1,EPSG:3035", "0,0,1,1,EPSG:9999", "0,0,1,1,EPSG:4326,3", "1,2,3", "nan,0,1,1",
                "a,b,c,d", "aGVsbG8=", "!!!", "9" * 50]
finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
any_float = st.floats(width=32)
bboxes = st.builds(BBoxValue, lower=st.lists(any_float, max_size=4).map(tuple),
                   upper=st.lists(any_float, max_size=4).map(tuple),
                   crs=st.one_of(st.none(), st.sampled_from(["EPSG:4326", "epsg:3035", "EPSG:9999", ""])),
                   dimensions=st.one_of(st.none(), st.integers(-3, 5)))
references = st.builds(InputReference, href=st.one_of(st.text(max_size=30),
                                                       st.sampled_from(["http://[", "file:///etc/passwd",
                                                                        "http://127.0.0.1:9/x"])))
wild_inputs = st.builds(
    RawInput,
    identifier=st.sampled_from(_IDENTIFIERS),
    kind=st.sampled_from([None, None, "literal", "complex", "bbox", "other"]),
    text=st.one_of(st.none(), st.sampled_from(_INTERESTING), any_text),
    payload=st.one_of(st.none(), st.none(), st.binary(max_size=40)),
    bbox=st.one_of(st.none(), st.none(), bboxes),
    reference=st.one_of(st.none(), st.none(), st.none(), references),
    uom=st.one_of(st.none(), st.sampled_from(["m", ""])),
    mime_type=st.one_of(st.none(), st.sampled_from(["text/plain", "application/json", "", "TEXT/PLAIN"])),
    encoding=st.one_of(st.none(), st.sampled_from(["base64", "utf-8", "BASE64", ""])),
    schema=st.one_of(st.none(), st.sampled_from(["http://127.0.0.1:9/s.xsd", ""])),
    datatype=st.one_of(st.none(), st.sampled_from(["integer", "string", "nonsense"])),
)
# Inputs as the KVP parser produces them (no kind, text only): valid values, and any text for a real input.
_VALID = {"string": ["x", "", "\u00e9 t"], "int": ["1", "7", " 11 "], "float": ["0", "99.5", "1e1", "100"],
          "boolean": ["true", "0"], "date": ["2017-05-11"], "datetime": ["2016-09-02T12:00:00Z"],
          "string_choice": ["rock", "paper"], "bbox": ["0,0,1,1", "0,0,1,1,EPSG:3035", "-1,-1,1,1,epsg:4326,2"],
          "text": ["hello", ""]}
valid_inputs = st.sampled_from([(k, v) for k, values in _VALID.items() for v in values]).map(
    lambda pair: RawInput(pair[0], text=pair[1]))
texted_inputs = st.builds(RawInput, identifier=st.sampled_from(list(_VALID)),
                          text=st.one_of(st.sampled_from(_INTERESTING), lexical_text),
                          mime_type=st.one_of(st.none(), st.just("text/plain")))
raw_inputs = st.one_of(valid_inputs, valid_inputs, valid_inputs, texted_inputs, wild_inputs)


def _check_converted(process: Process, converted: dict[str, list[InputData]]) -> None:
    declarations = process.input_map
    assert set(converted) <= set(declarations)
    for identifier, values in converted.items():
        declaration = declarations[identifier]
        assert 1 <= len(values) <= declaration.max_occurs or (not values and declaration.min_occurs == 0)
        for value in values:
            assert isinstance(value, InputData)
    for declaration in process.inputs:
        if declaration.min_occurs > 0:
            assert declaration.identifier in converted


@SETTINGS
@given(first=st.sampled_from([(RawInput("string", text="x"),), ()]),
       inputs=st.one_of(st.lists(raw_inputs, max_size=5, unique_by=lambda raw: raw.identifier),
                        st.lists(raw_inputs, max_size=5)),
       limit=st.sampled_from([0, 5, 64, 3 * 1024 * 1024, 3 * 1024 * 1024]))
def test_convert_inout_inputs_returns_inputs_or_an_ows_exception(first, inputs, limit):
    request = ExecuteRequest("inout", inputs=first + tuple(inputs))
    try:
        converted = convert_inputs(INOUT, request, limit)
    except OWSException as exc:
        assert exc.http_status < 500, repr(exc)
        assert exc.locator is not None, repr(exc)  # every input error names what to fix
        return
    except Exception as exc:  # noqa: BLE001 - the property under test
        pytest.fail(f"convert_inputs raised {type(exc).__name__}: {exc} for {inputs!r}")
    _check_converted(INOUT, converted)
    for item in converted.get("float", []):
        assert math.isfinite(item.data) and 0.0 <= item.data <= 100.0
    for item in converted.get("int", []):
        assert item.data in (1, 2, 3, 5, 7, 11)
    for item in converted.get("string_choice", []):
        assert item.data in ("rock", "paper", "scissor")


EVERY_TYPE = Process(lambda request, response: response, "everytype", "Every literal type",
                     inputs=[LiteralInput(name.lower(), name, data_type=name, min_occurs=0) for name in TYPES])


@SETTINGS
@given(name=st.sampled_from(TYPES), text=any_text)
@example(name="anyURI", text="http://[")
def test_convert_every_literal_type_returns_inputs_or_an_ows_exception(name, text):
    request = ExecuteRequest("everytype", inputs=(RawInput(name.lower(), text=text),))
    try:
        converted = convert_inputs(EVERY_TYPE, request, 3 * 1024 * 1024)
    except OWSException as exc:
        assert exc.http_status < 500 and exc.locator == name.lower(), repr(exc)
        return
    except Exception as exc:  # noqa: BLE001 - the property under test
        pytest.fail(f"convert_inputs raised {type(exc).__name__}: {exc} for {name}={text!r}")
    assert isinstance(converted[name.lower()][0].data, _PYTHON_TYPE[name])
