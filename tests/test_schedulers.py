"""Scheduler delegation against the real Slurm and Grid Engine started by slurm-demo/start-all.sh."""
import json
import os
import subprocess
import time

import pytest
from lxml import etree

from .gateway import NS, GatewayProcess, failure_text, literal_outputs, uuid_of, wait_for
from .processes import ALL
from .schedulers import REPO, gridengine_env, require
from .schemas import assert_valid

BACKENDS = {"slurm": "slurm", "drmaa": "gridengine"}
SECRETS = {"SECRET_TOKEN": "s3cr3t", "ALLOWED_VAR": "yes"}  # plus the database URL, set per gateway below
ALLOW_LIST = ["PATH", "LANG", "HOME", "ALLOWED_VAR", "FIXED=a,b c"]


def cluster_config(mode, **scheduler):
    # the test processes live in the repository, not in the virtualenv: named for the isolated joblauncher
    return {"processing": {"mode": mode, "parallelprocesses": 1},
            "scheduler": {"poll_interval": 0.5, "nfs_grace": 2.0, "pythonpath": [REPO], **scheduler},
            "processes": ALL}


def cluster_env(mode):
    return gridengine_env() if mode == "drmaa" else {}


@pytest.fixture(scope="module", params=list(BACKENDS))
def cluster(request, tmp_path_factory):
    """A gateway in slurm or drmaa mode, shared by the tests that do not restart it."""
    mode = request.param
    require(BACKENDS[mode])
    memory = {"hog": {"memory": 500}}
    workdir = str(tmp_path_factory.mktemp(mode))
    secrets = {**SECRETS, "WPSGATE_DATABASE__URL": "sqlite:///" + os.path.join(workdir, "jobs.sqlite")}
    gateway = GatewayProcess(workdir, cluster_config(mode, processes=memory, environment=ALLOW_LIST),
                             env={**cluster_env(mode), **secrets}).start()
    gateway.mode = mode
    yield gateway
    gateway.stop()


def submit(gateway, identifier, inputs="", **params):
    response = gateway.execute(identifier, inputs, storeExecuteResponse="true", **params)
    assert response.status_code == 200, response.text
    root = assert_valid(response.content)
    assert root.find("wps:Status/wps:ProcessAccepted", NS) is not None, response.text
    location = root.get("statusLocation")
    return location, uuid_of(location)


def final_record(gateway, uuid):
    """The job's row once the monitor has recorded its end (within a poll interval of the document)."""
    return wait_for(lambda: (r := gateway.job(uuid))["status"] in ("succeeded", "failed") and r, 30,
                    "the job table never recorded the end")


def scheduler_id(gateway, uuid):
    """The job's scheduler id, once the submitter has recorded it (accepting does not wait for it)."""
    record = wait_for(lambda: (r := gateway.job(uuid))["backend_id"] and r, 60, "the job was never submitted")
    assert record["submitted"] is True and record["backend"] == gateway.mode
    return record["backend_id"]


def scheduler_says(mode, backend_id):
    """The scheduler's own word on a job (for assertions made behind the gateway's back)."""
    if mode == "slurm":
        out = subprocess.run(["squeue", "-h", "-t", "all", "-j", backend_id, "-o", "%T"], capture_output=True,
                             text=True, timeout=20)
        return out.stdout.strip()
    env = {**os.environ, **gridengine_env()}
    out = subprocess.run(["qstat", "-j", backend_id], capture_output=True, text=True, timeout=20, env=env)
    return "queued-or-running" if out.returncode == 0 else "gone"


def test_async_demo_with_progress_and_id_persisted(cluster):
    location, uuid = submit(cluster, "sleep", "delay=0.5", status="true")
    record = cluster.job(uuid)
    assert record["backend"] == cluster.mode, record  # persisted before the answer
    scheduler_id(cluster, uuid)  # then submitted, and its id recorded
    percents, seen_in_api = set(), set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        document = etree.fromstring(cluster.session.get(location, timeout=10).content)
        started = document.find("wps:Status/wps:ProcessStarted", NS)
        if started is not None:
            percents.add(int(started.get("percentCompleted")))
        record = cluster.job(uuid)
        if record["status"] == "started":
            seen_in_api.add(record["percent"])
        if record["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert record["status"] == "succeeded", record
    final = etree.fromstring(cluster.session.get(location, timeout=10).content)
    assert_valid(etree.tostring(final))
    assert literal_outputs(final) == {"sleep_output": "done sleeping"}
    assert len(percents) >= 2, percents
    assert any(p > 0 for p in seen_in_api), seen_in_api  # node progress reached the job table


def test_every_demo_process_runs_async_on_the_scheduler(cluster):
    runs = {
        "hello": ("name=HPC", {"output": "Hello HPC"}),
        "ultimate_question": ("", {"answer": "42"}),
        "sleep": ("delay=0.1", {"sleep_output": "done sleeping"}),
        "wordcounter": ("text=x y x", None),
        "inout": ("string=s;int=5;float=2.5;boolean=true;date=2020-01-02;bbox=1,2,3,4,EPSG:3035",
                  {"string": "s", "int": "5", "float": "2.5", "boolean": "true", "date": "2020-01-02",
                   "datetime": "2016-09-02T12:00:00+00:00", "string_choice": "scissor", "bbox": None,
                   "text": None}),
        "bbox": ("bbox=0,0,10,10", {"bbox": None}),
        "binaryoperatorfornumbers": ("inputa=6;inputb=7;operator=multiply", {"output": "42.0"}),
    }
    locations = {name: submit(cluster, name, inputs, status="true")[0] for name, (inputs, _) in runs.items()}
    failing, _ = submit(cluster, "show_error", "message=expected;nice=true", status="true")
    for name, location in locations.items():
        final = cluster.wait_final(location, timeout=120)
        assert_valid(etree.tostring(final))
        expected = runs[name][1]
        if expected is not None:
            assert literal_outputs(final) == expected, (name, etree.tostring(final)[:800])
        else:  # wordcounter: by reference by default
            href = final.find("wps:ProcessOutputs/wps:Output/wps:Reference", NS).get("href")
            assert cluster.session.get(href, timeout=10).json() == [[2, "x"], [1, "y"]]
    assert failure_text(cluster.wait_final(failing, timeout=120)) == "expected"
    nap = cluster.execute("nap", "delay=0.01", storeExecuteResponse="true")  # synchronous only
    assert nap.status_code == 400 and b"StorageNotSupported" in nap.content


def test_outputs_by_reference_and_lineage(cluster):
    location, _ = submit(cluster, "wordcounter", "text=b a b", lineage="true")
    final = cluster.wait_final(location, timeout=90)
    assert_valid(etree.tostring(final))
    href = final.find("wps:ProcessOutputs/wps:Output/wps:Reference", NS).get("href")
    assert cluster.session.get(href, timeout=10).json() == [[2, "b"], [1, "a"]]
    assert final.find("wps:DataInputs/wps:Input", NS) is not None


def test_the_job_sees_only_the_allow_listed_environment(cluster):
    """The gateway's environment holds a database URL and a token; a job on the scheduler sees neither."""
    location, _ = submit(cluster, "environ")
    seen = json.loads(literal_outputs(cluster.wait_final(location, timeout=90))["output"])
    assert "SLURM_JOB_ID" in seen or "JOB_ID" in seen, seen  # it did run on the scheduler
    assert not {"SECRET_TOKEN", "WPSGATE_DATABASE__URL", "PYTHONPATH"} & set(seen), seen
    assert (seen["ALLOWED_VAR"], seen["FIXED"]) == ("yes", "a,b c")


def test_failing_process(cluster):
    location, uuid = submit(cluster, "show_error", "message=no data;nice=true", status="true")
    final = cluster.wait_final(location, timeout=90)
    assert failure_text(final) == "no data"
    assert final_record(cluster, uuid)["status"] == "failed"


def test_memory_limit(cluster):
    location, uuid = submit(cluster, "hog", status="true")
    final = cluster.wait_final(location, timeout=120)
    text = failure_text(final)
    assert "memory" in text.lower(), text
    assert final_record(cluster, uuid)["status"] == "failed"


def test_owslib_runs_on_the_scheduler(cluster):
    from owslib.wps import WebProcessingService, monitorExecution

    wps = WebProcessingService(cluster.wps, skip_caps=True)
    execution = wps.execute("hello", inputs=[("name", "cluster")])
    monitorExecution(execution, sleepSecs=0.5)
    assert execution.isSucceded(), execution.errors
    assert execution.processOutputs[0].data == ["Hello cluster"]


def test_dismiss_cancels_the_scheduler_job(cluster):
    location, uuid = submit(cluster, "spin", status="true")
    wait_for(lambda: cluster.job(uuid)["status"] == "started", 90, "the job never started")
    backend_id = cluster.job(uuid)["backend_id"]
    record = cluster.session.delete(f"{cluster.base}/status/{uuid}", timeout=30).json()
    assert record["status"] == "dismissed"
    assert cluster.session.get(location, timeout=10).status_code == 404
    if cluster.mode == "slurm":
        wait_for(lambda: scheduler_says("slurm", backend_id) in ("CANCELLED", ""), 30, "slurm still runs it")
    else:
        wait_for(lambda: scheduler_says("drmaa", backend_id) == "gone", 30, "grid engine still runs it")


def test_job_cancelled_behind_the_gateways_back(cluster):
    location, uuid = submit(cluster, "spin", status="true")
    wait_for(lambda: cluster.job(uuid)["status"] == "started", 90, "the job never started")
    backend_id = cluster.job(uuid)["backend_id"]
    if cluster.mode == "slurm":
        subprocess.run(["scancel", backend_id], check=True, timeout=20)
    else:
        subprocess.run(["qdel", backend_id], check=True, timeout=20, env={**os.environ, **gridengine_env()},
                       capture_output=True)
    final = cluster.wait_final(location, timeout=60)
    text = failure_text(final)
    assert "cancel" in text.lower() or "signal" in text.lower(), text


def test_sync_execute_on_the_scheduler(fresh_gateway, request):
    for mode, scheduler in BACKENDS.items():
        require(scheduler)
        gateway = fresh_gateway(cluster_config(mode, processes={"hello": {"sync": "scheduler"}}),
                                env=cluster_env(mode))
        response = gateway.execute("hello", "name=sync")
        assert literal_outputs(assert_valid(response.content)) == {"output": "Hello sync"}
        listing = gateway.session.get(gateway.base + "/status/", timeout=10).json()["jobs"]
        assert listing[0]["backend"] == mode and listing[0]["async"] is False
        raw = gateway.execute("hello", "name=raw", RawDataOutput="output")  # the bare value, from the node
        assert raw.status_code == 200 and raw.text == "Hello raw", raw.text
        assert raw.headers["Content-Type"].startswith("text/plain")
        listing = gateway.session.get(gateway.base + "/status/", timeout=10).json()["jobs"]
        assert listing[0]["backend"] == mode and listing[0]["status"] == "succeeded"
        local = gateway.execute("nap", "delay=0.01")  # not configured: runs on the local pool
        assert literal_outputs(assert_valid(local.content)) == {"output": "done sleeping"}


@pytest.mark.parametrize("mode", list(BACKENDS))
def test_walltime_from_timeout(fresh_gateway, mode):
    require(BACKENDS[mode])
    gateway = fresh_gateway(cluster_config(mode), env=cluster_env(mode))
    # Grid Engine enforces h_rt within seconds; Slurm's limit has one-minute granularity
    timeout = "3" if mode == "drmaa" else "60"
    location, uuid = submit(gateway, "spin", TIMEOUT=timeout, status="true")
    final = gateway.wait_final(location, timeout=150)
    text = failure_text(final)
    assert "walltime" in text or "TIMEOUT" in text or "killed" in text, text
    assert final_record(gateway, uuid)["status"] == "failed"


@pytest.mark.parametrize("mode", list(BACKENDS))
def test_tampered_job_file_is_refused(fresh_gateway, mode):
    require(BACKENDS[mode])
    hold = "--hold" if mode == "slurm" else "-h"
    gateway = fresh_gateway(cluster_config(mode, processes={"hello": {"native": hold}}), env=cluster_env(mode))
    gateway.mode = mode
    location, uuid = submit(gateway, "hello", "name=tampered")
    backend_id = scheduler_id(gateway, uuid)
    path = os.path.join(gateway.workdir, "spool", uuid, "job.dill")
    with open(path, "r+b") as handle:
        data = bytearray(handle.read())
        data[-10] ^= 0xFF
        handle.seek(0)
        handle.write(data)
    if mode == "slurm":
        subprocess.run(["scontrol", "release", backend_id], check=True, timeout=20)
    else:
        subprocess.run(["qrls", backend_id], check=True, timeout=20, env={**os.environ, **gridengine_env()},
                       capture_output=True)
    final = gateway.wait_final(location, timeout=90)
    text = failure_text(final)
    assert "refused" in text and "signature" in text, text
    assert literal_outputs(final) == {}


@pytest.mark.parametrize("mode", list(BACKENDS))
def test_gateway_restart_follows_every_job_to_its_end(fresh_gateway, tmp_path, mode):
    require(BACKENDS[mode])
    workdir = str(tmp_path / "restart")
    config = cluster_config(mode)
    gateway = fresh_gateway(config, workdir=workdir, env=cluster_env(mode))
    gateway.mode = mode
    jobs = [submit(gateway, "sleep", "delay=0.6", status="true") for _ in range(3)]
    ids = {uuid: scheduler_id(gateway, uuid) for _, uuid in jobs}
    wait_for(lambda: any(gateway.job(uuid)["status"] == "started" for _, uuid in jobs), 60, "nothing started")
    gateway.kill()
    time.sleep(1.0)
    restarted = fresh_gateway(config, workdir=workdir, port=gateway.port, env=cluster_env(mode))
    for location, uuid in jobs:
        final = restarted.wait_final(location, timeout=90)
        assert literal_outputs(final) == {"sleep_output": "done sleeping"}
    for _, uuid in jobs:
        record = wait_for(lambda: (r := restarted.job(uuid))["status"] == "succeeded" and r, 30, "not recorded")
        assert record["backend_id"] == ids[uuid]  # followed, never submitted again
