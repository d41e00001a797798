"""The joblauncher, run as the scheduler runs it: ``python -m joblauncher --key KEY FOLDER`` in a subprocess.

Job folders are written the way the gateway writes them for a scheduler (see
``Lifecycle.persist_now``): the folder, the dilled job wrapped in a signed job
file, and an accepted status document.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid as _uuid
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from lxml import etree

from wpsgate.config import config_from_mapping
from wpsgate.jobs.folder import JobFolder
from wpsgate.jobs.jobfile import load_or_create_key, sign, write_job_file
from wpsgate.protocol.documents import JobStatus, render_execute_response
from wpsgate.protocol.kvp import parse_kvp
from wpsgate.registry import load_processes
from wpsgate.service import Urls, WPSService

from . import launcher_processes
from .schemas import assert_valid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
NS = {"wps": "http://www.opengis.net/wps/1.0.0", "ows": "http://www.opengis.net/ows/1.1"}
ACCEPTED_MESSAGE = "Process accepted, submitted to the scheduler"


# --- building job folders the way the gateway does ---------------------------------------------------------

@dataclass
class Site:
    workdir: str
    spool: str
    key_path: str
    key: bytes
    config: object

    def service(self, processes=None) -> WPSService:
        if processes is None:
            processes = load_processes(None)
            for extra in (launcher_processes.Greeter("Bonjour", "?"), launcher_processes.touch(),
                          launcher_processes.where()):
                processes[extra.identifier] = extra
        return WPSService(self.config, processes, engine=None, urls=Urls("http://127.0.0.1:9"))


@pytest.fixture
def site(tmp_path) -> Site:
    workdir = str(tmp_path / "gw")
    config = config_from_mapping({"server": {"workdir": workdir}}, environ={})
    key_path = os.path.join(config.workdir, "job.key")
    return Site(config.workdir, config.spool, key_path, load_or_create_key(key_path), config)


@dataclass
class Job:
    folder: JobFolder
    spec: object
    process: object


def persist(key: bytes, spec, process, timeout: float) -> JobFolder:
    """What the lifecycle persists for a scheduler (without the job table): the gateway's own job file writer."""
    folder = JobFolder(spec.spool, spec.uuid).create()
    write_job_file(folder, key, spec, timeout, process=process, durable=True)
    accepted = render_execute_response(spec.context, JobStatus("accepted", ACCEPTED_MESSAGE))
    folder.write_status(accepted, durable=True)
    return folder


def make_job(site: Site, identifier: str, datainputs: str = "", extra: str = "", processes=None) -> Job:
    query = (f"service=WPS&request=Execute&version=1.0.0&identifier={identifier}"
             f"&storeExecuteResponse=true{extra}")
    if datainputs:
        query += "&DataInputs=" + datainputs
    process, spec, timeout, _expire = site.service(processes).prepare(parse_kvp(query))
    spec.store = True  # the engine does this before persisting
    return Job(persist(site.key, spec, process, timeout), spec, process)


def launcher_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WPSGATE_JOB_KEY")}
    env["PYTHONPATH"] = REPO
    env.update(extra)
    return env


def launch(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "joblauncher", *args], cwd=REPO, env=env or launcher_env(),
                          capture_output=True, text=True, timeout=timeout)


def run(site: Site, job: Job, **kwargs) -> subprocess.CompletedProcess:
    return launch("--key", site.key_path, job.folder.path, **kwargs)


def status_root(folder: JobFolder, validate: bool = True) -> etree._Element:
    with open(folder.status, "rb") as handle:
        document = handle.read()
    return assert_valid(document) if validate else etree.fromstring(document)


def state_of(root: etree._Element) -> str:
    status = root.find("wps:Status", NS)
    assert status is not None and len(status) == 1
    return etree.QName(status[0]).localname


def failure_text(root: etree._Element) -> str:
    return root.findtext("wps:Status/wps:ProcessFailed//ows:ExceptionText", namespaces=NS) or ""


def result_of(folder: JobFolder) -> dict:
    record = folder.read_final()  # the typed final record, as the gateway reads it
    assert record is not None, f"no readable result.json in {folder.path}"
    return dataclasses.asdict(record)


def leftovers(folder: JobFolder) -> list[str]:
    found = []
    for base, _dirs, files in os.walk(folder.path):
        found += [os.path.join(base, f) for f in files if f.startswith(".tmp-") or f.endswith(".part")]
    return found


def explain(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"


def parse_time(value: str) -> _dt.datetime:
    moment = _dt.datetime.fromisoformat(value)
    assert moment.tzinfo is not None, f"{value} has no time zone"
    return moment


def still_accepted(folder: JobFolder) -> bool:
    root = status_root(folder, validate=False)
    return state_of(root) == "ProcessAccepted"


# --- jobs that run ------------------------------------------------------------------------------------------

def test_hello_succeeds_with_a_valid_document_and_a_final_record(site):
    job = make_job(site, "hello", "name=World")
    before = _dt.datetime.now(_dt.timezone.utc)
    proc = run(site, job)
    after = _dt.datetime.now(_dt.timezone.utc)
    assert proc.returncode == 0, explain(proc)

    root = status_root(job.folder)
    assert state_of(root) == "ProcessSucceeded"
    assert root.get("statusLocation") == f"http://127.0.0.1:9/status/{job.spec.uuid}.xml"
    assert root.findtext("wps:Process/ows:Identifier", namespaces=NS) == "hello"
    outputs = root.findall("wps:ProcessOutputs/wps:Output", NS)
    assert [o.findtext("ows:Identifier", namespaces=NS) for o in outputs] == ["output"]
    assert outputs[0].findtext("wps:Data/wps:LiteralData", namespaces=NS) == "Hello World"

    record = result_of(job.folder)
    assert record["state"] == "succeeded"
    assert record["exit"] == 0
    started, finished = parse_time(record["started"]), parse_time(record["finished"])
    assert before - _dt.timedelta(seconds=1) <= started <= finished <= after + _dt.timedelta(seconds=1)
    assert isinstance(record["peak_memory_mb"], (int, float))
    assert 5 < record["peak_memory_mb"] < 4096  # a Python interpreter, in MB (not KB, not bytes)
    assert record.get("signal") is None
    assert not os.path.exists(job.folder.work), "the work folder is removed after the job"
    assert leftovers(job.folder) == []


def test_output_by_reference_is_written_into_outputs(site):
    job = make_job(site, "wordcounter", quote("text=the cat saw the dog", safe="="))
    proc = run(site, job)
    assert proc.returncode == 0, explain(proc)

    root = status_root(job.folder)
    assert state_of(root) == "ProcessSucceeded"
    reference = root.find("wps:ProcessOutputs/wps:Output/wps:Reference", NS)
    assert reference is not None
    href = reference.get("href") or reference.get("{http://www.w3.org/1999/xlink}href")
    assert href == f"http://127.0.0.1:9/outputs/{job.spec.uuid}/output.json"
    assert reference.get("mimeType") == "application/json"

    assert os.listdir(job.folder.outputs) == ["output.json"]
    with open(os.path.join(job.folder.outputs, "output.json"), encoding="utf-8") as handle:
        assert json.load(handle) == [[2, "the"], [1, "saw"], [1, "dog"], [1, "cat"]]  # Emu's order
    record = result_of(job.folder)
    assert record["state"] == "succeeded" and record["exit"] == 0
    assert record["outputs"] == ["output.json"]
    assert leftovers(job.folder) == []


@pytest.mark.parametrize("nice, expected", [
    ("true", "Boom: the river overflowed"),
    ("false", "process raised Exception: Boom: the river overflowed"),
])
def test_failing_process_exits_1_with_its_message(site, nice, expected):
    job = make_job(site, "show_error", quote(f"message=Boom: the river overflowed;nice={nice}", safe="=;"))
    proc = run(site, job)
    assert proc.returncode == 1, explain(proc)
    root = status_root(job.folder)
    assert state_of(root) == "ProcessFailed"
    assert failure_text(root) == expected
    record = result_of(job.folder)
    assert record["state"] == "failed"
    assert record["exit"] == 1
    assert record["message"] == expected
    assert leftovers(job.folder) == []


def test_process_with_constructor_arguments_runs_with_its_state(site):
    job = make_job(site, "greeter", "name=World")
    assert job.process.greeting == "Bonjour"
    proc = run(site, job)
    assert proc.returncode == 0, explain(proc)
    root = status_root(job.folder)
    assert state_of(root) == "ProcessSucceeded"
    assert root.findtext("wps:ProcessOutputs/wps:Output/wps:Data/wps:LiteralData", namespaces=NS) == \
        "Bonjour World?"
    assert root.find("wps:Process", NS).get(f"{{{NS['wps']}}}processVersion") == "2.0"


def test_process_from_a_test_module_runs_in_the_job_work_folder(site, tmp_path):
    marker = tmp_path / "ran.txt"
    job = make_job(site, "touch", quote(f"path={marker}", safe="=/"))
    assert type(job.process).__module__ == "wpsgate.process.process"
    assert job.process.handler.__module__ == "tests.launcher_processes"
    proc = run(site, job)
    assert proc.returncode == 0, explain(proc)
    assert marker.read_text().startswith("ran in " + os.path.realpath(job.folder.work))
    root = status_root(job.folder)
    assert state_of(root) == "ProcessSucceeded"
    assert root.findtext("wps:ProcessOutputs/wps:Output/wps:Data/wps:LiteralData", namespaces=NS) == \
        f"touched {marker}"


def test_key_defaults_to_job_key_beside_the_spool(site):
    job = make_job(site, "hello", "name=Default")
    assert os.path.dirname(job.folder.path) == site.spool
    proc = launch(job.folder.path)
    assert proc.returncode == 0, explain(proc)
    assert state_of(status_root(job.folder)) == "ProcessSucceeded"


def test_key_from_the_environment(site, tmp_path):
    job = make_job(site, "hello", "name=Env")
    moved = tmp_path / "elsewhere.key"
    shutil.move(site.key_path, moved)
    proc = launch(job.folder.path, env=launcher_env(WPSGATE_JOB_KEY=str(moved)))
    assert proc.returncode == 0, explain(proc)
    assert state_of(status_root(job.folder)) == "ProcessSucceeded"


def test_documents_go_to_the_folder_the_launcher_was_given(site, tmp_path):
    """A job folder run from another path (moved or copied spool) writes its documents there, not elsewhere."""
    job = make_job(site, "wordcounter", quote("text=a b a", safe="="))
    new_spool = tmp_path / "moved" / "spool"
    new_spool.mkdir(parents=True)
    target = new_spool / job.spec.uuid
    shutil.move(job.folder.path, target)
    proc = launch("--key", site.key_path, str(target))
    assert proc.returncode == 0, explain(proc)
    moved = JobFolder(str(new_spool), job.spec.uuid)
    assert state_of(status_root(moved)) == "ProcessSucceeded"
    assert result_of(moved)["state"] == "succeeded"
    assert os.listdir(moved.outputs) == ["output.json"]
    assert not os.path.exists(job.folder.path), "the launcher wrote into the job's former folder"


# --- jobs that must not run ----------------------------------------------------------------------------------

def assert_refused(proc, folder: JobFolder, marker, *words: str) -> dict:
    assert proc.returncode == 3, explain(proc)
    assert not marker.exists(), "a refused job ran"
    assert "job refused" in proc.stderr
    record = result_of(folder)
    assert record["state"] == "refused"
    assert record["exit"] == 3
    assert record["message"].startswith("job refused: ")
    for word in words:
        assert word in record["message"], record["message"]
    assert still_accepted(folder), "a refused job must not write a status document of its own"
    assert os.listdir(folder.outputs) == []
    assert leftovers(folder) == []
    return record


def touch_job(site, tmp_path, name="marker") -> tuple[Job, object]:
    marker = tmp_path / name
    return make_job(site, "touch", quote(f"path={marker}", safe="=/")), marker


def test_the_touch_job_runs_when_untouched(site, tmp_path):
    """The control for the refusal tests below: the same job, unmodified, does create its marker."""
    job, marker = touch_job(site, tmp_path)
    proc = run(site, job)
    assert proc.returncode == 0, explain(proc)
    assert marker.exists()


@pytest.mark.parametrize("where", ["payload-end", "payload-start", "signature"])
def test_tampered_job_file_is_refused(site, tmp_path, where):
    job, marker = touch_job(site, tmp_path)
    data = bytearray(open(job.folder.job_file, "rb").read())
    header_end = data.index(b"\n")
    index = {"payload-end": len(data) - 5, "payload-start": header_end + 3, "signature": header_end - 7}[where]
    data[index] ^= 0xFF
    with open(job.folder.job_file, "wb") as handle:
        handle.write(bytes(data))
    assert_refused(run(site, job), job.folder, marker, "signature")


def test_unsigned_job_file_is_refused(site, tmp_path):
    job, marker = touch_job(site, tmp_path)
    data = open(job.folder.job_file, "rb").read()
    with open(job.folder.job_file, "wb") as handle:
        handle.write(data.partition(b"\n")[2])  # the bare payload, as a careless writer would
    assert_refused(run(site, job), job.folder, marker, "not signed")


def test_job_file_signed_with_another_key_is_refused(site, tmp_path):
    job, marker = touch_job(site, tmp_path)
    other = load_or_create_key(str(tmp_path / "intruder.key"))
    data = open(job.folder.job_file, "rb").read()
    with open(job.folder.job_file, "wb") as handle:
        handle.write(sign(other, job.spec.uuid, data.partition(b"\n")[2]))
    assert_refused(run(site, job), job.folder, marker, "signature")


def test_job_file_copied_into_another_jobs_folder_is_refused(site, tmp_path):
    first, first_marker = touch_job(site, tmp_path, "first")
    second, second_marker = touch_job(site, tmp_path, "second")
    shutil.copyfile(first.folder.job_file, second.folder.job_file)
    assert_refused(run(site, second), second.folder, first_marker, "signature")
    assert not second_marker.exists()


def test_missing_job_file_is_refused(site, tmp_path):
    job, marker = touch_job(site, tmp_path)
    os.unlink(job.folder.job_file)
    assert_refused(run(site, job), job.folder, marker, "job.dill")


def test_unreadable_key_is_refused(site, tmp_path):
    job, marker = touch_job(site, tmp_path)
    proc = launch("--key", str(tmp_path / "no-such.key"), job.folder.path)
    assert_refused(proc, job.folder, marker, "signing key")


def test_folder_not_named_like_a_job_is_refused(site, tmp_path):
    job, marker = touch_job(site, tmp_path)
    renamed = tmp_path / "not-a-job"
    shutil.copytree(job.folder.path, renamed)
    proc = launch("--key", site.key_path, str(renamed))
    assert proc.returncode == 3, explain(proc)
    assert not marker.exists()
    assert "not a job folder" in proc.stderr


# --- jobs that cannot be loaded -------------------------------------------------------------------------------

EXTERNAL_MODULE = '''
from wpsgate.process import LiteralOutput, Process


class External(Process):
    def __init__(self):
        super().__init__(self._handler, identifier="external", title="External", store_supported=True,
                         status_supported=True, outputs=[LiteralOutput("output", "o", data_type="string")])

    def _handler(self, request, response):
        open(MARKER, "w").close()
        response.outputs["output"].data = "ran"
'''


def test_process_from_a_module_missing_on_the_node_exits_4(site, tmp_path, monkeypatch):
    name = "wpsgate_external_" + _uuid.uuid4().hex[:8]
    folder = tmp_path / "only-on-the-gateway"
    folder.mkdir()
    marker = tmp_path / "external-ran"
    (folder / f"{name}.py").write_text(EXTERNAL_MODULE + f"\nMARKER = {str(marker)!r}\n")
    monkeypatch.syspath_prepend(str(folder))  # the test process only: not PYTHONPATH
    module = importlib.import_module(name)
    try:
        process = module.External()
        job = make_job(site, "external", processes={"external": process})
    finally:
        sys.modules.pop(name, None)

    proc = run(site, job)
    assert proc.returncode == 4, explain(proc)
    assert not marker.exists()
    root = status_root(job.folder)
    assert state_of(root) == "ProcessFailed"
    text = failure_text(root)
    assert "could not be loaded" in text
    assert name in text
    record = result_of(job.folder)
    assert record["state"] == "failed"
    assert record["exit"] == 4
    assert "could not be loaded" in record["message"]
    assert leftovers(job.folder) == []


def test_inspect_of_a_job_that_cannot_be_loaded_says_so(site, tmp_path, monkeypatch):
    """inspect loads the job; a missing module is the documented exit 4 with a message, not a traceback."""
    name = "wpsgate_external_" + _uuid.uuid4().hex[:8]
    folder = tmp_path / "only-on-the-gateway"
    folder.mkdir()
    (folder / f"{name}.py").write_text(EXTERNAL_MODULE + "\nMARKER = '/nonexistent'\n")
    monkeypatch.syspath_prepend(str(folder))
    module = importlib.import_module(name)
    try:
        job = make_job(site, "external", processes={"external": module.External()})
    finally:
        sys.modules.pop(name, None)
    proc = launch("--key", site.key_path, "inspect", job.folder.path)
    assert proc.returncode == 4, explain(proc)
    assert "Traceback" not in proc.stderr
    assert name in proc.stderr
    assert still_accepted(job.folder)


# --- signals ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("signum, code, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")])
def test_signal_during_the_handler_writes_process_failed(site, signum, code, name):
    job = make_job(site, "sleep", "delay=5", extra="&status=true")
    process = subprocess.Popen([PYTHON, "-m", "joblauncher", "--key", site.key_path, job.folder.path],
                               cwd=REPO, env=launcher_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 20
        seen = []
        while time.monotonic() < deadline:
            root = status_root(job.folder, validate=False)  # atomically replaced: always parses
            state = state_of(root)
            seen.append(state)
            started = root.find("wps:Status/wps:ProcessStarted", NS)
            if started is not None and "Waiting" in (started.text or ""):
                break
            assert process.poll() is None, f"the launcher ended early: {process.communicate()}"
            time.sleep(0.02)
        else:
            pytest.fail(f"the job never reported progress: {seen[-5:]}")
        sent = time.monotonic()
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=20)
        elapsed = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == code, f"exit {process.returncode}\n{stdout}\n{stderr}"
    assert elapsed < 4, "the launcher waited for the handler instead of stopping it"
    root = status_root(job.folder)
    assert state_of(root) == "ProcessFailed"
    text = failure_text(root)
    assert "signal" in text and name in text
    record = result_of(job.folder)
    assert record["state"] == "failed"
    assert record["exit"] == code
    assert record["signal"] == int(signum)
    assert record["interrupted"] is True  # said explicitly, not left to the message's words
    assert leftovers(job.folder) == []


def test_status_updates_are_written_atomically(site):
    """Progress documents of a job with status=true are replaced, never rewritten in place."""
    job = make_job(site, "sleep", "delay=0.05", extra="&status=true")
    process = subprocess.Popen([PYTHON, "-m", "joblauncher", "--key", site.key_path, job.folder.path],
                               cwd=REPO, env=launcher_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    states = set()
    try:
        while process.poll() is None:
            with open(job.folder.status, "rb") as handle:
                document = handle.read()
            states.add(state_of(etree.fromstring(document)))  # a torn document would not parse
        process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert state_of(status_root(job.folder)) == "ProcessSucceeded"
    assert leftovers(job.folder) == []
    assert not [f for f in os.listdir(job.folder.path) if f.startswith(".tmp-")]


# --- inspect and usage ------------------------------------------------------------------------------------

def test_inspect_prints_the_job_and_does_not_run_it(site, tmp_path):
    job, marker = touch_job(site, tmp_path)
    proc = launch("--key", site.key_path, "inspect", job.folder.path)
    assert proc.returncode == 0, explain(proc)
    shown = json.loads(proc.stdout)
    assert shown["uuid"] == job.spec.uuid
    assert shown["process"] == "touch"
    assert shown["process_class"] == "wpsgate.process.process.Process"
    assert shown["inputs"] == {"path": [repr(str(marker))]}
    assert shown["outputs"] == [{"identifier": "output", "as_reference": False, "mime_type": None}]
    assert shown["status_document"] == "ProcessAccepted"
    assert shown["final_record"] is None
    assert shown["timeout"] == 3600.0
    assert not marker.exists(), "inspect ran the job"
    assert still_accepted(job.folder)
    assert job.folder.read_final() is None


def test_inspect_of_a_finished_job_shows_its_state(site):
    job = make_job(site, "hello", "name=World")
    assert run(site, job).returncode == 0
    proc = launch("--key", site.key_path, "inspect", job.folder.path)
    assert proc.returncode == 0, explain(proc)
    shown = json.loads(proc.stdout)
    assert shown["process"] == "hello"
    assert shown["process_class"] == "wpsgate.demo.hello.Hello"
    assert shown["inputs"] == {"name": ["'World'"]}
    assert shown["status_document"] == "ProcessSucceeded"
    assert shown["final_record"]["state"] == "succeeded"


def test_inspect_refuses_a_tampered_job(site, tmp_path):
    job, marker = touch_job(site, tmp_path)
    data = bytearray(open(job.folder.job_file, "rb").read())
    data[-2] ^= 0x01
    open(job.folder.job_file, "wb").write(bytes(data))
    proc = launch("--key", site.key_path, "inspect", job.folder.path)
    assert proc.returncode == 3, explain(proc)
    assert "job refused" in proc.stderr
    assert proc.stdout == ""
    assert not marker.exists()


def test_explicit_run_command(site):
    job = make_job(site, "hello", "name=Run")
    proc = launch("--key", site.key_path, "run", job.folder.path)
    assert proc.returncode == 0, explain(proc)
    assert state_of(status_root(job.folder)) == "ProcessSucceeded"


def test_help_exits_0_and_documents_exit_codes():
    proc = launch("--help")
    assert proc.returncode == 0, explain(proc)
    assert "inspect" in proc.stdout
    assert "3 job file refused" in proc.stdout
    assert "4 job" in proc.stdout


@pytest.mark.parametrize("args", [[], ["inspect"], ["run"], ["a", "b"], ["inspect", "a", "b"], ["--bogus", "x"],
                                  ["--key"]])
def test_wrong_usage_exits_2(args):
    proc = launch(*args)
    assert proc.returncode == 2, explain(proc)
    assert proc.stderr.strip(), "a usage error says what is wrong"


@pytest.mark.parametrize("variable, value", [("SLURM_ARRAY_TASK_ID", "1"), ("SGE_TASK_ID", "2")])
def test_an_array_task_runs_the_job_its_manifest_line_names(site, variable, value):
    """Slurm numbers array tasks from 0, Grid Engine's bulk jobs from 1: both run the second job."""
    first, second = make_job(site, "hello", "name=first"), make_job(site, "hello", "name=second")
    manifest = os.path.join(site.spool, "batches", "wps-batch-" + "0" * 32 + ".txt")
    os.makedirs(os.path.dirname(manifest))
    with open(manifest, "w") as handle:
        handle.write(f"{first.spec.uuid}\n{second.spec.uuid}\n")
    env = {k: v for k, v in launcher_env().items() if k not in ("SLURM_ARRAY_TASK_ID", "SGE_TASK_ID")}
    proc = launch("--key", site.key_path, "--batch", manifest, env={**env, variable: value})
    assert proc.returncode == 0, explain(proc)
    assert state_of(status_root(second.folder)) == "ProcessSucceeded"
    assert state_of(status_root(first.folder)) == "ProcessAccepted"  # not its line
    with open(second.folder.log) as handle:  # the task's output went to its own job's log
        assert f"job {second.spec.uuid} succeeded" in handle.read()


def test_an_array_task_without_a_job_on_its_line_is_refused(site):
    manifest = os.path.join(site.spool, "batches", "wps-batch-" + "1" * 32 + ".txt")
    os.makedirs(os.path.dirname(manifest))
    with open(manifest, "w") as handle:
        handle.write("../../etc\n")
    proc = launch("--key", site.key_path, "--batch", manifest, env={**launcher_env(), "SLURM_ARRAY_TASK_ID": "0"})
    assert proc.returncode == 3 and "no job on line 1" in proc.stderr, explain(proc)
