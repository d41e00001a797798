"""PyWPS processes served unchanged: declarations, every input and output kind, translations, errors,
progress, files PyWPS stores itself, and the scheduler path (dill job file run by the joblauncher).

Jobs run in-process through the same ``run_job`` a worker and the joblauncher use; the scheduler path runs
the real ``python -m joblauncher`` on a signed job folder.  No network.  CI installs PyWPS (.ci/run): there a
missing PyWPS fails these tests rather than skipping them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import dill
import pytest
from lxml import etree

from wpsgate.config import ConfigError, config_from_mapping
from wpsgate.exceptions import InvalidParameterValue
from wpsgate.jobs.folder import JobFolder, atomic_write
from wpsgate.jobs.jobfile import load_or_create_key, pack
from wpsgate.jobs.runner import run_job
from wpsgate.protocol.documents import DescriptionCache, JobStatus, render_capabilities, render_execute_response
from wpsgate.protocol.kvp import parse_kvp
from wpsgate.registry import load_processes
from wpsgate.service import Urls, WPSService

from .schemas import assert_valid

try:
    import pywps  # noqa: F401
except ImportError:  # pragma: no cover - depends on the installation
    if os.environ.get("CI"):
        raise
    pytest.skip("PyWPS is not installed (pip install -e '.[pywps]')", allow_module_level=True)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS = {"wps": "http://www.opengis.net/wps/1.0.0", "ows": "http://www.opengis.net/ows/1.1"}
PROCESSES = ["tests.pywps_processes:every"]
OUTPUT_URL = "http://127.0.0.1:9/outputs/"


@pytest.fixture(scope="module")
def processes():
    return load_processes(PROCESSES)


@pytest.fixture
def service(tmp_path, processes):
    config = config_from_mapping({"server": {"workdir": str(tmp_path / "gw")},
                                  "metadata": {"languages": ["en-US", "fr-CA", "de-DE"]}}, environ={})
    return WPSService(config, processes, engine=None, urls=Urls("http://127.0.0.1:9"))


def run(service, query: str, *, before=None, progress=None):
    """Prepare an Execute as the gateway does, then run it as a worker does; returns (outcome, document root)."""
    process, spec, _timeout, _expire = service.prepare(parse_kvp(
        "service=WPS&request=Execute&version=1.0.0&" + query))
    if before is not None:
        before(spec)
    outcome = run_job(process, spec, progress)
    root = assert_valid(outcome.document) if outcome.document else None
    return outcome, spec, root


def outputs_of(root) -> dict:
    found = {}
    for output in root.iterfind("wps:ProcessOutputs/wps:Output", NS):
        identifier = output.findtext("ows:Identifier", namespaces=NS)
        data = output.find("wps:Data/*", NS)
        reference = output.find("wps:Reference", NS)
        found[identifier] = reference.attrib if reference is not None else data
    return found


def report(root) -> dict:
    return json.loads(outputs_of(root)["report"].text)


# --- declarations ------------------------------------------------------------------------------------------

def test_declarations_become_wpsgates(processes):
    document = DescriptionCache(list(processes.values()), "en-US", 3).all
    root = assert_valid(document)
    kinds = root.find("ProcessDescription", NS)
    assert kinds.get("storeSupported") == "true" and kinds.get("statusSupported") == "true"
    assert kinds.get("{http://www.opengis.net/wps/1.0.0}processVersion") == "2.0"
    assert kinds.find("ows:Metadata", NS).get("{http://www.w3.org/1999/xlink}href") == "https://example.org/docs"
    inputs = {i.findtext("ows:Identifier", namespaces=NS): i for i in kinds.iterfind("DataInputs/Input")}
    assert inputs["string"].findtext("LiteralData/DefaultValue") == "a default"
    assert [v.text for v in inputs["int"].iterfind("LiteralData/ows:AllowedValues/ows:Value", NS)] == ["1", "2", "3"]
    assert inputs["float"].get("maxOccurs") == "3" and inputs["float"].get("minOccurs") == "0"
    assert inputs["float"].findtext("LiteralData/UOMs/Default/ows:UOM", namespaces=NS) == "metre"
    assert inputs["float"].findtext("LiteralData/ows:AllowedValues/ows:Range/ows:MaximumValue",
                                    namespaces=NS) == "10.0"
    assert inputs["uri"].findtext("LiteralData/ows:DataType", namespaces=NS) == "anyURI"
    assert inputs["angle"].findtext("LiteralData/ows:DataType", namespaces=NS) == "angle"
    assert inputs["text"].findtext("ComplexData/Default/Format/MimeType") == "text/plain"
    assert [c.text for c in inputs["bbox"].iterfind("BoundingBoxData/Supported/CRS")] == ["epsg:4326", "epsg:3035"]
    outputs = {o.findtext("ows:Identifier", namespaces=NS): o for o in kinds.iterfind("ProcessOutputs/Output")}
    assert [u.text for u in outputs["length"].iterfind("LiteralOutput/UOMs/Supported/ows:UOM", NS)] == \
        ["metre", "feet"]
    assert [f.text for f in outputs["json"].iterfind("ComplexOutput/Supported/Format/MimeType")] == \
        ["application/json", "text/plain"]
    assert processes["pywps_translated"].store_supported is False  # PyWPS's 'false' string read as a flag


def test_registry_names_what_is_neither(tmp_path, monkeypatch):
    module = tmp_path / "not_a_process.py"
    module.write_text("thing = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="wpsgate's or PyWPS's"):
        load_processes(["not_a_process:thing"])
    assert list(load_processes(["tests.pywps_processes:Kinds"])) == ["pywps_kinds"]  # a class is instantiated


# --- running -----------------------------------------------------------------------------------------------

def test_every_input_kind_reaches_the_handler_as_pywps_gives_it(service):
    outcome, _spec, root = run(service, "identifier=pywps_kinds&DataInputs=float=2.5@uom=metre;float=3;"
                               "uri=https://example.org/a;when=2024-02-29;angle=370;text=hello%20there;"
                               'doc={"a":1};bbox=1,2,3,4,urn:ogc:def:crs:EPSG::4326')
    assert outcome.state == "succeeded", outcome.message
    seen = report(root)
    assert seen["string"] == "a default" and seen["int"] == 2  # defaults, as PyWPS gives them
    assert seen["floats"] == [2.5, 3.0] and seen["uom"] == "metre"
    assert seen["uri"] == "example.org" and seen["when"] == "2024-02-29" and seen["angle"] == 10.0
    assert seen["text_data"] == "hello there" and seen["text_stream_is_binary"] is False  # PyWPS: inline is text
    assert seen["text_file_exists"] is True and seen["text_mime"] == "text/plain"
    assert seen["doc"] == {"a": 1} and seen["workdir_is_cwd"] is True and seen["language"] == "en-US"
    assert seen["bbox"] == [[1.0, 2.0, 3.0, 4.0], "urn:ogc:def:crs:EPSG::4326"]  # the client's CRS form
    outputs = outputs_of(root)
    assert outputs["copy"].text == "hello there"
    assert outputs["length"].text == "1.5" and outputs["length"].get("uom") == "feet"
    assert outputs["bbox"].get("crs") == "urn:ogc:def:crs:EPSG::4326"
    assert outputs["json"]["href"].startswith("http://127.0.0.1:9/outputs/")  # as_reference declared


def test_client_output_choices_reach_the_pywps_outputs(service):
    _outcome, _spec, root = run(service, "identifier=pywps_kinds&ResponseDocument=report;json@mimeType=text/plain")
    assert report(root)["json_format"] == "text/plain"


def test_a_staged_reference_is_read_from_the_job_folder_and_keeps_the_clients_url(service, tmp_path):
    staged = tmp_path / "staged.txt"
    staged.write_text("from the gateway's copy")

    def stage(spec):  # what the stager does before the job runs: the file is in place, nothing is fetched later
        spec.inputs["text"][0]._path = str(staged)

    outcome, _spec, root = run(service, "identifier=pywps_kinds&DataInputs=text=@xlink:href=https://example.org/t.txt",
                               before=stage)
    assert outcome.state == "succeeded", outcome.message
    seen = report(root)
    assert seen["text_data"] == "from the gateway's copy" and seen["text_url"] == "https://example.org/t.txt"
    assert seen["text_stream_is_binary"] is True  # as PyWPS streams a fetched reference (Emu's wordcounter decodes)


def test_files_pywps_stores_itself_land_flat_in_the_jobs_outputs(service):
    outcome, spec, root = run(service, "identifier=pywps_kinds")
    assert outcome.state == "succeeded", outcome.message
    metalink = etree.fromstring(etree.tostring(outputs_of(root)["files"][0]))
    urls = [u.text for u in metalink.iter("{urn:ietf:params:xml:ns:metalink}metaurl")]
    folder = JobFolder(spec.spool, spec.uuid)
    assert len(urls) == 2
    for url in urls:
        assert url.startswith(spec.output_url) and "/" not in url[len(spec.output_url):]
        with open(os.path.join(folder.outputs, url[len(spec.output_url):])) as handle:
            assert handle.read().startswith("member ")


def test_progress_in_both_call_styles(service):
    reports = []
    outcome, _spec, _root = run(service, "identifier=pywps_kinds",
                                progress=lambda message, percent, document: reports.append((message, percent)))
    assert outcome.state == "succeeded"
    assert ("reading", 10) in reports and ("still reading", 20) in reports and ("done", 90) in reports


def test_process_error_is_shown_and_other_exceptions_are_not(service):
    outcome, spec, root = run(service, "identifier=pywps_fails&DataInputs=nice=true&storeExecuteResponse=true")
    assert outcome.state == "failed" and outcome.message == "the river is frozen"
    outcome, spec, root = run(service, "identifier=pywps_fails&DataInputs=nice=false&storeExecuteResponse=true")
    assert outcome.state == "failed" and "/secret/path" not in outcome.message
    assert outcome.message == "the process failed (KeyError); the details are in the job's log"
    record = JobFolder(spec.spool, spec.uuid).read_final()
    assert "/secret/path/on/the/node" in record.traceback  # for the operator, in the job folder


# --- languages ---------------------------------------------------------------------------------------------

def test_translations_in_every_document(service, processes):
    described = assert_valid(service.describe(parse_kvp(
        "service=WPS&request=DescribeProcess&version=1.0.0&identifier=pywps_translated&language=fr-CA")).body)
    description = described.find("ProcessDescription", NS)
    assert described.get("{http://www.w3.org/XML/1998/namespace}lang") == "fr-CA"
    assert description.findtext("ows:Title", namespaces=NS) == "Processus traduit"
    assert description.findtext("ows:Abstract", namespaces=NS) == "En français."
    assert description.findtext("DataInputs/Input/ows:Title", namespaces=NS) == "Un nombre"
    assert description.findtext("ProcessOutputs/Output/ows:Title", namespaces=NS) == "Sortie #1"
    assert description.findtext("ProcessOutputs/Output/ows:Abstract", namespaces=NS) == "Un de plus."
    german = render_capabilities(service.config.metadata, list(processes.values()), "http://x/wps", "de-DE")
    assert "Übersetzter Prozess" in german.decode()
    assert [e.text for e in assert_valid(german).iterfind("wps:Languages/wps:Supported/ows:Language", NS)] == \
        ["en-US", "fr-CA", "de-DE"]
    outcome, _spec, root = run(service, "identifier=pywps_translated&DataInputs=n=1&language=fr-CA")
    assert root.findtext("wps:Process/ows:Title", namespaces=NS) == "Processus traduit"
    assert root.findtext("wps:ProcessOutputs/wps:Output/ows:Title", namespaces=NS) == "Sortie #1"
    assert root.findtext("wps:ProcessOutputs/wps:Output/ows:Abstract", namespaces=NS) == "Un de plus."
    assert outputs_of(root)["out"].text == "2"


def test_an_unsupported_language_is_refused_with_its_locator(service):
    with pytest.raises(InvalidParameterValue) as caught:
        service.prepare(parse_kvp("service=WPS&request=Execute&version=1.0.0&identifier=pywps_translated"
                                  "&DataInputs=n=1&language=xx-XX"))
    assert caught.value.locator == "language"


# --- the scheduler path ------------------------------------------------------------------------------------

def test_a_pywps_job_runs_from_its_signed_job_file_on_the_launcher(service, tmp_path):
    """What a compute node does: verify the signed dill job file, load the PyWPS process, run it."""
    process, spec, timeout, _expire = service.prepare(parse_kvp(
        "service=WPS&request=Execute&version=1.0.0&identifier=pywps_kinds&storeExecuteResponse=true&status=true"
        "&DataInputs=text=on%20the%20node;bbox=1,2,3,4,http://www.opengis.net/def/crs/EPSG/0/4326"))
    key_path = os.path.join(service.config.workdir, "job.key")
    key = load_or_create_key(key_path)
    folder = JobFolder(spec.spool, spec.uuid).create()
    job = dill.dumps({"process": process, "spec": spec, "timeout": timeout})
    atomic_write(folder.job_file, pack(key, spec.uuid, spec.context, job), durable=True)
    folder.write_status(render_execute_response(spec.context, JobStatus("accepted", "accepted")), durable=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WPSGATE_JOB_KEY")}
    env["PYTHONPATH"] = REPO
    done = subprocess.run([sys.executable, "-m", "joblauncher", "--key", key_path, folder.path], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(folder.status, "rb") as handle:
        root = assert_valid(handle.read())
    assert root.find("wps:Status/wps:ProcessSucceeded", NS) is not None
    seen = report(root)
    assert seen["text_data"] == "on the node" and seen["bbox"][1] == "http://www.opengis.net/def/crs/EPSG/0/4326"
    stored = os.listdir(folder.outputs)
    assert "json.json" in stored and len(stored) == 3  # the reference output and the two MetaLink members
