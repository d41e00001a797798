"""OWSLib, the most used WPS 1.0.0 client, against the gateway: capabilities, descriptions, every demo process."""
import pytest
from lxml import etree
from owslib.util import ServiceException
from owslib.wps import (ASYNC, SYNC, BoundingBoxDataInput, ComplexDataInput, WebProcessingService,
                        monitorExecution)

from wpsgate.registry import load_processes

from .gateway import NS
from .schemas import assert_valid

DEMOS = ["hello", "ultimate_question", "sleep", "nap", "wordcounter", "inout", "bbox", "binaryoperatorfornumbers",
         "show_error"]
DATA_TYPES = {"literal": None, "complex": "ComplexData", "bbox": "BoundingBoxData"}


@pytest.fixture(scope="module")
def wps(gateway):
    return WebProcessingService(gateway.wps, timeout=60)


def run(wps, identifier, inputs, output=None, mode=SYNC, **kwargs):
    execution = wps.execute(identifier, inputs, output=output, mode=mode, **kwargs)
    if inputs:
        # what OWSLib sent is a valid WPS 1.0.0 Execute request (without inputs OWSLib sends an empty
        # wps:DataInputs, which the schema does not allow and the gateway tolerates)
        assert_valid(execution.request)
    else:
        assert b"<wps100:DataInputs/>" in execution.request
    return execution


def explain(execution) -> str:
    response = execution.response
    if not isinstance(response, (bytes, str)):
        response = etree.tostring(response)
    return f"sent: {execution.request!r}\nreceived: {response!r}"


def outputs(execution) -> dict:
    return {o.identifier: o for o in execution.processOutputs}


def succeeded(execution) -> dict:
    assert execution.isSucceded(), explain(execution)
    assert execution.status == "ProcessSucceeded" and execution.percentCompleted == 100
    assert not execution.errors, explain(execution)
    return outputs(execution)


# --- capabilities and descriptions ------------------------------------------------------------------------


def test_capabilities(wps):
    assert [p.identifier for p in wps.processes] == DEMOS
    assert wps.identification.type == "WPS" and wps.identification.version == "1.0.0"
    assert wps.identification.title
    assert {op.name for op in wps.operations} == {"GetCapabilities", "DescribeProcess", "Execute"}
    execute = wps.getOperationByName("Execute")
    assert any(m["type"] == "Post" and m["url"].endswith("/wps") for m in execute.methods)
    titles = {p.identifier: p.title for p in wps.processes}
    assert titles["hello"] == "Say Hello" and titles["nap"].startswith("Afternoon Nap")
    versions = {p.identifier: p.processVersion for p in wps.processes}
    assert versions["hello"] == "1.5" and versions["ultimate_question"] == "2.0"


@pytest.mark.parametrize("identifier", DEMOS)
def test_describe_process_matches_declaration(wps, identifier):
    declared = load_processes(None)[identifier]
    described = wps.describeprocess(identifier)
    assert described.identifier == identifier and described.title == declared.title
    assert described.storeSupported == declared.store_supported
    assert described.statusSupported == declared.status_supported
    assert [i.identifier for i in described.dataInputs] == [i.identifier for i in declared.inputs]
    for got, want in zip(described.dataInputs, declared.inputs):
        assert (got.minOccurs, got.maxOccurs) == (want.min_occurs, want.max_occurs), want.identifier
        assert got.dataType == (DATA_TYPES[want.kind] or want.data_type), want.identifier
        if want.kind == "literal" and want.default is not None:
            assert str(got.defaultValue) == want.dtype.render(want.default) or got.defaultValue == want.default
        if want.kind == "complex":
            assert [f.mimeType for f in got.supportedValues] == [f.mime_type for f in want.supported_formats]
        if want.kind == "bbox":
            assert got.supportedValues == list(want.crss)
    assert [o.identifier for o in described.processOutputs] == [o.identifier for o in declared.outputs]
    for got, want in zip(described.processOutputs, declared.outputs):
        assert got.dataType == (DATA_TYPES[want.kind] or want.data_type), want.identifier


def test_describe_allowed_values(wps):
    inout = {i.identifier: i for i in wps.describeprocess("inout").dataInputs}
    assert inout["int"].allowedValues == [1, 2, 3, 5, 7, 11] and inout["int"].defaultValue == 7
    assert inout["string_choice"].allowedValues == ["rock", "paper", "scissor"]
    operator = {i.identifier: i for i in wps.describeprocess("binaryoperatorfornumbers").dataInputs}["operator"]
    assert operator.allowedValues == ["add", "subtract", "multiply", "divide"]


def test_describe_unknown_process(wps):
    with pytest.raises(ServiceException) as info:
        wps.describeprocess("nope")
    assert "InvalidParameterValue" in str(info.value)


# --- every demo process, synchronously --------------------------------------------------------------------


def test_hello(wps):
    execution = run(wps, "hello", [("name", "X")], output=[("output", False)])
    assert succeeded(execution)["output"].data == ["Hello X"]


def test_hello_without_response_form(wps):
    execution = run(wps, "hello", [("name", "Zoë")])
    assert succeeded(execution)["output"].data == ["Hello Zoë"]


def test_ultimate_question(wps):
    execution = run(wps, "ultimate_question", [], output=[("answer", False)])
    assert succeeded(execution)["answer"].data == ["42"]


@pytest.mark.parametrize("operator,expected", [("multiply", 12.0), ("add", 7.0), ("subtract", -1.0),
                                               ("divide", 0.75)])
def test_binary_operator(wps, operator, expected):
    execution = run(wps, "binaryoperatorfornumbers", [("inputa", "3"), ("inputb", "4"), ("operator", operator)],
                    output=[("output", False)])
    output = succeeded(execution)["output"]
    assert float(output.data[0]) == expected
    assert output.dataType.endswith("float")


def test_binary_operator_divide_by_zero_fails_with_message(wps):
    execution = run(wps, "binaryoperatorfornumbers", [("inputa", "1"), ("inputb", "0"), ("operator", "divide")])
    assert execution.status in ("ProcessFailed", "Exception") and not execution.isSucceded()
    assert any("division by zero" in e.text for e in execution.errors), explain(execution)


def test_wordcounter_by_reference(wps):
    text = ComplexDataInput("the quick fox and the lazy dog and the cat", mimeType="text/plain")
    execution = run(wps, "wordcounter", [("text", text)], output=[("output", True)])
    output = succeeded(execution)["output"]
    assert output.reference and output.reference.startswith(wps.url.rsplit("/wps", 1)[0] + "/outputs/")
    assert output.mimeType == "application/json"
    import json

    counts = json.loads(output.retrieveData())
    assert counts[:2] == [[3, "the"], [2, "and"]] and [1, "fox"] in counts


def test_wordcounter_default_is_by_reference(wps):
    execution = run(wps, "wordcounter", [("text", ComplexDataInput("a b a", mimeType="text/plain"))])
    output = succeeded(execution)["output"]
    assert output.reference and output.retrieveData() == b'[[2, "a"], [1, "b"]]'


def test_wordcounter_inline(wps):
    execution = run(wps, "wordcounter", [("text", ComplexDataInput("b a b"))], output=[("output", False)])
    output = succeeded(execution)["output"]
    assert output.reference is None and output.data == ['[[2, "b"], [1, "a"]]']


def test_inout_echoes(wps):
    inputs = [("string", "some text"), ("int", "3"), ("float", "1.5"), ("float", "99"), ("boolean", "true"),
              ("date", "2020-02-29"), ("datetime", "2020-02-29T10:00:00Z"), ("string_choice", "paper"),
              ("bbox", BoundingBoxDataInput([1, 2, 3, 4], crs="EPSG:3035")),
              ("text", ComplexDataInput("one\ntwo", mimeType="text/plain"))]
    result = succeeded(run(wps, "inout", inputs))
    values = {k: v.data[0] for k, v in result.items() if k not in ("bbox",)}
    assert values == {"string": "some text", "int": "3", "float": "100.5", "boolean": "true", "date": "2020-02-29",
                      "datetime": "2020-02-29T10:00:00+00:00", "string_choice": "paper", "text": "one\ntwo"}
    box = result["bbox"].data[0]
    assert "3035" in str(box.crs)
    assert sorted(float(v) for v in (box.minx, box.miny, box.maxx, box.maxy)) == [1.0, 2.0, 3.0, 4.0]


def test_inout_defaults(wps):
    result = succeeded(run(wps, "inout", [("string", "x")]))
    assert result["int"].data == ["7"] and result["string_choice"].data == ["scissor"]
    assert result["date"].data == ["2012-05-01"] and result["boolean"].data == ["true"]  # Emu's defaults


def test_inout_out_of_range(wps):
    with pytest.raises(ServiceException) as info:
        run(wps, "inout", [("string", "x"), ("int", "4")])
    assert 'exceptionCode="InvalidParameterValue"' in str(info.value) and 'locator="int"' in str(info.value)


def bbox_corners(execution) -> tuple[str, list[float], list[float]]:
    response = execution.response
    root = etree.fromstring(response) if isinstance(response, (bytes, str)) else response
    box = root.find("wps:ProcessOutputs/wps:Output/wps:Data/wps:BoundingBoxData", NS)
    return (box.get("crs"), [float(v) for v in box.findtext("ows:LowerCorner", namespaces=NS).split()],
            [float(v) for v in box.findtext("ows:UpperCorner", namespaces=NS).split()])


def test_bbox_echoes(wps):
    execution = run(wps, "bbox", [("bbox", BoundingBoxDataInput([1, 2, 3, 4], crs="EPSG:4326"))])
    result = succeeded(execution)
    assert result["bbox"].dataType == "BoundingBoxData"
    assert bbox_corners(execution) == ("EPSG:4326", [1.0, 2.0], [3.0, 4.0])


def test_bbox_with_owslib_default_crs(wps):
    """OWSLib's BoundingBoxDataInput spells its default CRS 'epsg:4326'; EPSG codes are not case-sensitive."""
    execution = run(wps, "bbox", [("bbox", BoundingBoxDataInput([1, 2, 3, 4]))])
    succeeded(execution)
    crs, lower, upper = bbox_corners(execution)
    assert crs.upper() == "EPSG:4326" and (lower, upper) == ([1.0, 2.0], [3.0, 4.0])


def test_bbox_without_input(wps):
    execution = run(wps, "bbox", [])
    succeeded(execution)
    assert bbox_corners(execution) == ("EPSG:4326", [-180.0, -90.0], [180.0, 90.0])


@pytest.mark.parametrize("nice,message", [("true", "boom"), ("false", "process raised Exception: boom")])
def test_show_error(wps, nice, message):
    execution = run(wps, "show_error", [("message", "boom"), ("nice", nice)])
    assert not execution.isSucceded() and execution.isComplete()
    assert [(e.code, e.text) for e in execution.errors] == [("NoApplicableCode", message)], explain(execution)


def test_sleep(wps):
    execution = run(wps, "sleep", [("delay", "0.01")], output=[("sleep_output", False)])
    assert succeeded(execution)["sleep_output"].data == ["done sleeping"]


def test_nap(wps):
    execution = run(wps, "nap", [("delay", "0.01")], output=[("output", False)])
    assert succeeded(execution)["output"].data == ["done sleeping"]


def test_nap_async_is_refused(wps):
    with pytest.raises(ServiceException) as info:
        run(wps, "nap", [("delay", "0.01")], output=[("output", False)], mode=ASYNC)
    assert "StorageNotSupported" in str(info.value)


def test_lineage(wps):
    execution = run(wps, "hello", [("name", "L")], output=[("output", False)], lineage=True)
    succeeded(execution)
    assert [i.identifier for i in execution.dataInputs] == ["name"]
    assert execution.dataInputs[0].data == ["L"]


# --- and one asynchronous run, the way OWSLib users write it ----------------------------------------------


def test_async_with_monitor_execution(wps):
    execution = run(wps, "ultimate_question", [], output=[("answer", False)], mode=ASYNC)
    assert execution.statusLocation and execution.status in ("ProcessAccepted", "ProcessStarted",
                                                              "ProcessSucceeded")
    monitorExecution(execution, sleepSecs=0.1)
    assert succeeded(execution)["answer"].data == ["42"]


# --- the README's examples, run as written (only the address changed) -----------------------------------


def _python_blocks(path, after):
    """The ```python blocks of ``path`` that follow the line containing ``after``."""
    import os
    import re

    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), path),
              encoding="utf-8") as handle:
        text = handle.read()
    return re.findall(r"```python\n(.*?)```", text[text.index(after):], re.DOTALL)


def _run_example(code, gateway, namespace=None):
    import contextlib
    import io

    namespace = dict(namespace or {})
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code.replace("http://127.0.0.1:5000/wps", gateway.wps), "README example", "exec"), namespace)
    return namespace, printed.getvalue()


def test_readme_owslib_examples_run_async(gateway):
    first, second = _python_blocks("README.md", "With OWSLib:")[:2]
    namespace, printed = _run_example(first, gateway)
    execution = namespace["execution"]
    # asynchronous as the comment says: OWSLib asked for a stored response with status, and polled it
    assert b'storeExecuteResponse="true"' in execution.request and b'status="true"' in execution.request
    assert execution.statusLocation and "/status/" in execution.statusLocation
    assert printed.splitlines()[-1] == "ProcessSucceeded ['done sleeping']"
    namespace, printed = _run_example(second, gateway, namespace)
    assert b'storeExecuteResponse="true"' in namespace["execution"].request
    assert printed.strip().startswith(gateway.base + "/outputs/") and printed.strip().endswith(".json")


def test_slurm_demo_owslib_example_runs(gateway):
    """The client side of slurm-demo's example (the same on any backend): the complex input is accepted."""
    (code,) = _python_blocks("slurm-demo/README.md", "With OWSLib")[:1]
    namespace, printed = _run_example(code, gateway)
    assert namespace["execution"].isSucceded(), namespace["execution"].errors
    assert b'storeExecuteResponse="true"' in namespace["execution"].request
    assert printed.strip().startswith(gateway.base + "/outputs/")


def test_readme_xml_post_example(gateway):
    """``curl -H 'Content-Type: text/xml' --data-binary @etc/examples/execute-hello.xml``: accepted, then hello."""
    import os

    from .gateway import literal_outputs

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "etc", "examples",
                        "execute-hello.xml")
    with open(path, "rb") as handle:
        response = gateway.post(handle.read())
    assert response.status_code == 200, response.text
    document = assert_valid(response.content)
    assert document.find("wps:Status/wps:ProcessAccepted", NS) is not None, response.text
    final = gateway.wait_final(document.get("statusLocation"))
    assert literal_outputs(final) == {"output": "Hello World"}
