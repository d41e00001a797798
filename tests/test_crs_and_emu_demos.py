"""Bounding box CRSs compared as CRSs (the forms QGIS and OWSLib send), and the demo processes behaving as
birdhouse Emu's processes of the same identifiers (defaults, sums, case, outputs)."""
from __future__ import annotations

import json

import pytest

from wpsgate.process.crs import crs_key, same_crs, supported_crs

from .gateway import NS, exception_of, literal_outputs
from .schemas import assert_valid

EPSG_4326_FORMS = ["EPSG:4326", "epsg:4326", "urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:EPSG:6.6:4326",
                   "urn:x-ogc:def:crs:EPSG:6.3:4326", "http://www.opengis.net/def/crs/EPSG/0/4326",
                   "https://www.opengis.net/def/crs/EPSG/9.8.15/4326", "http://www.opengis.net/gml/srs/epsg.xml#4326"]


@pytest.mark.parametrize("form", EPSG_4326_FORMS)
def test_every_form_of_epsg_4326_is_the_same_crs(form):
    assert crs_key(form) == "EPSG:4326"
    assert supported_crs(form, ["EPSG:3035", "EPSG:4326"]) == "EPSG:4326"


def test_different_crss_stay_different():
    assert not same_crs("EPSG:4326", "EPSG:43260")
    assert not same_crs("urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:OGC:1.3:CRS84")  # axis order differs
    assert not same_crs("EPSG:4326", "http://www.opengis.net/def/crs/EPSG/0/3035")
    assert supported_crs("urn:ogc:def:crs:EPSG::32633", ["EPSG:4326", "EPSG:3035"]) is None


def bbox_output(root):
    for output in root.iterfind("wps:ProcessOutputs/wps:Output", NS):
        if output.findtext("ows:Identifier", namespaces=NS) == "bbox":
            return output.find("wps:Data/wps:BoundingBoxData", NS)
    raise AssertionError("no bbox output")


@pytest.mark.parametrize("form", ["urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:EPSG:6.6:4326",
                                  "http://www.opengis.net/def/crs/EPSG/0/4326"])
def test_a_bbox_in_another_form_of_a_supported_crs_is_accepted_and_echoed_as_sent(gateway, form):
    response = gateway.execute("bbox", f"bbox=0,40,10,50,{form}")
    root = assert_valid(response.content)
    assert root.find("wps:Status/wps:ProcessSucceeded", NS) is not None, response.text
    assert bbox_output(root).get("crs") == form


def test_a_bbox_crs_in_xml_is_compared_as_a_crs(gateway):
    body = ('<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0" '
            'xmlns:ows="http://www.opengis.net/ows/1.1"><ows:Identifier>inout</ows:Identifier><wps:DataInputs>'
            '<wps:Input><ows:Identifier>bbox</ows:Identifier><wps:Data>'
            '<wps:BoundingBoxData crs="urn:ogc:def:crs:EPSG::3035" dimensions="2">'
            '<ows:LowerCorner>1 2</ows:LowerCorner><ows:UpperCorner>3 4</ows:UpperCorner>'
            '</wps:BoundingBoxData></wps:Data></wps:Input></wps:DataInputs></wps:Execute>')
    root = assert_valid(gateway.post(body).content)
    assert bbox_output(root).get("crs") == "urn:ogc:def:crs:EPSG::3035"


def test_a_crs_that_is_not_supported_is_still_refused(gateway):
    response = gateway.execute("bbox", "bbox=0,40,10,50,urn:ogc:def:crs:EPSG::32633")
    assert response.status_code == 400
    assert exception_of(response)[:2] == ("InvalidParameterValue", "bbox")


# --- the demo processes behave as Emu's ---------------------------------------------------------------------

def test_inout_defaults_and_outputs_as_emu(gateway):
    root = assert_valid(gateway.execute("inout").content)
    outputs = literal_outputs(root)
    assert outputs["string"] == "This is just a string" and outputs["int"] == "7"
    assert outputs["float"] == "3.14" and outputs["boolean"] == "true"
    assert outputs["date"] == "2012-05-01" and outputs["string_choice"] == "scissor"
    assert outputs["datetime"].startswith("2016-09-02T12:00:00")
    text = [o for o in root.iterfind("wps:ProcessOutputs/wps:Output", NS)
            if o.findtext("ows:Identifier", namespaces=NS) == "text"][0]
    assert text.findtext("wps:Data/wps:ComplexData", namespaces=NS) == "request didn't have a text file."
    box = bbox_output(root)
    assert box.findtext("ows:LowerCorner", namespaces=NS) == "0.0 0.0"
    assert box.findtext("ows:UpperCorner", namespaces=NS) == "10.0 10.0"


def test_inout_sums_its_floats_as_emu(gateway):
    outputs = literal_outputs(assert_valid(gateway.execute("inout", "float=1.25;float=2;float=0.5").content))
    assert outputs["float"] == "3.75"


def test_wordcounter_keeps_case_and_emus_order(gateway):
    response = gateway.execute("wordcounter", "text=To be or not to be, To", RawDataOutput="output")
    assert response.status_code == 200
    assert json.loads(response.content) == [[2, "be"], [2, "To"], [1, "to"], [1, "or"], [1, "not"]]
