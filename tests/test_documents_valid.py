"""Every kind of document the gateway produces validates against the official schemas."""
from lxml import etree

from .gateway import NS, literal_outputs
from .schemas import assert_valid

DEMOS = ["hello", "ultimate_question", "sleep", "nap", "wordcounter", "inout", "bbox", "binaryoperatorfornumbers",
         "show_error"]


def test_capabilities_valid_and_lists_demo_processes(gateway):
    response = gateway.get(service="WPS", request="GetCapabilities")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    root = assert_valid(response.content)
    offered = [e.text for e in root.iterfind("wps:ProcessOfferings/wps:Process/ows:Identifier", NS)]
    assert offered == DEMOS


def test_describe_all_valid(gateway):
    response = gateway.get(service="WPS", request="DescribeProcess", version="1.0.0", identifier="ALL")
    root = assert_valid(response.content)
    described = [e.text for e in root.iterfind("ProcessDescription/ows:Identifier", NS)]
    assert described == DEMOS


def test_describe_some_in_requested_order(gateway):
    response = gateway.get(service="WPS", request="DescribeProcess", version="1.0.0", identifier="nap,hello")
    root = assert_valid(response.content)
    assert [e.text for e in root.iterfind("ProcessDescription/ows:Identifier", NS)] == ["nap", "hello"]
    nap = root.find("ProcessDescription", NS)
    assert nap.get("storeSupported") == "false"


def test_describe_inout_details(gateway):
    root = assert_valid(gateway.get(service="WPS", request="DescribeProcess", version="1.0.0",
                                    identifier="inout").content)
    inputs = {i.findtext("ows:Identifier", namespaces=NS): i for i in root.iterfind(".//DataInputs/Input", NS)}
    assert [v.text for v in inputs["int"].iterfind("LiteralData/ows:AllowedValues/ows:Value", NS)] == \
        ["1", "2", "3", "5", "7", "11"]
    assert inputs["int"].findtext("LiteralData/DefaultValue") == "7"
    assert inputs["float"].get("maxOccurs") == "5" and inputs["float"].get("minOccurs") == "0"
    assert inputs["float"].find("LiteralData/ows:AllowedValues/ows:Range/ows:MaximumValue", NS).text == "100.0"
    assert inputs["string"].find("LiteralData/ows:AnyValue", NS) is not None
    assert [c.text for c in inputs["bbox"].iterfind("BoundingBoxData/Supported/CRS")] == ["EPSG:4326", "EPSG:3035"]
    assert inputs["text"].find("ComplexData").get("maximumMegabytes") == "3"
    assert inputs["text"].findtext("ComplexData/Default/Format/MimeType") == "text/plain"


def test_execute_every_demo_valid(gateway):
    for identifier, inputs in [("hello", "name=Ada"), ("ultimate_question", ""), ("nap", "delay=0.01"),
                               ("sleep", "delay=0.01"), ("wordcounter", "text=a b a"),
                               ("inout", "string=x;int=3;float=1.5;float=2;boolean=true;bbox=1,2,3,4,EPSG:3035"),
                               ("bbox", "bbox=0,0,10,10"), ("binaryoperatorfornumbers", "inputa=1;inputb=2"),
                               ("show_error", "message=boom")]:
        response = gateway.execute(identifier, inputs, lineage="true")
        assert response.status_code == 200, (identifier, response.text)
        root = assert_valid(response.content)
        failed = root.find("wps:Status/wps:ProcessFailed", NS)
        assert (failed is not None) == (identifier == "show_error"), (identifier, response.text)


def test_hello_answer(gateway):
    root = etree.fromstring(gateway.execute("hello", "name=World").content)
    assert literal_outputs(root) == {"output": "Hello World"}


def test_exception_report_valid(gateway):
    response = gateway.get(service="WPS", request="Execute", version="1.0.0", identifier="nope")
    assert response.status_code == 400
    assert_valid(response.content)
