"""Every description feature the process API offers renders into a schema-valid ProcessDescription."""
from lxml import etree

from wpsgate import (FORMATS, AllowedValue, BoundingBoxInput, BoundingBoxOutput, ComplexInput, ComplexOutput,
                     LiteralInput, LiteralOutput, Metadata, Process, ValuesReference)
from wpsgate.process.formats import Format
from wpsgate.protocol.documents import DescriptionCache

from .gateway import NS
from .schemas import assert_valid


def _full_process():
    return Process(
        lambda request, response: response, "everything", "Every feature", abstract="All of them",
        metadata=[Metadata("docs", "https://example.org/docs", "http://www.opengis.net/spec/wps/1.0/role")],
        profile=["urn:ogc:wps:1.0.0:everything"], version="3.1", store_supported=True, status_supported=True,
        inputs=[
            LiteralInput("distance", "Distance", data_type="float", uoms=["metre", "foot"], default=1.5,
                         allowed_values=[AllowedValue(minval=0, maxval=10, spacing=0.5),
                                         AllowedValue(minval=20, maxval=30, range_closure="open-closed")]),
            LiteralInput("region", "Region", data_type="string",
                         allowed_values=ValuesReference("https://example.org/regions.xml")),
            LiteralInput("when", "When", data_type="dateTime", min_occurs=0, max_occurs=3),
            ComplexInput("grid", "Grid", supported_formats=[FORMATS.NETCDF, FORMATS.GEOTIFF,
                                                            Format("text/xml", ".gml", encoding="UTF-8",
                                                                   schema="http://schemas.opengis.net/gml/3.1.1/base/feature.xsd")],
                         max_megabytes=50),
            BoundingBoxInput("area", "Area", crss=["EPSG:4326", "EPSG:3857"], min_occurs=0),
        ],
        outputs=[LiteralOutput("mean", "Mean", data_type="float", uoms=["metre"]),
                 ComplexOutput("map", "Map", supported_formats=[FORMATS.PNG, FORMATS.GEOTIFF], as_reference=True),
                 BoundingBoxOutput("extent", "Extent", crss=["EPSG:4326"])])


def test_every_description_feature_is_schema_valid():
    document = DescriptionCache([_full_process()], "en-US", 3).all
    root = assert_valid(document)
    description = root.find("ProcessDescription")
    assert description.get("{http://www.opengis.net/wps/1.0.0}processVersion") == "3.1"
    distance = description.find("DataInputs/Input[1]/LiteralData")
    ranges = distance.findall("ows:AllowedValues/ows:Range", NS)
    assert [r.findtext("ows:Spacing", namespaces=NS) for r in ranges] == ["0.5", None]
    assert ranges[1].get("{http://www.opengis.net/ows/1.1}rangeClosure") == "open-closed"
    assert [u.text for u in distance.iterfind("UOMs/Supported/ows:UOM", NS)] == ["metre", "foot"]
    assert description.find("DataInputs/Input[2]/LiteralData/ValuesReference") is not None
    assert description.find("DataInputs/Input[4]/ComplexData").get("maximumMegabytes") == "50"
    assert description.findtext("DataInputs/Input[4]/ComplexData/Supported/Format[3]/Schema").endswith("feature.xsd")
    assert etree.QName(description.find("ProcessOutputs/Output[3]")[-1]).localname == "BoundingBoxOutput"
