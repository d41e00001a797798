"""Faults on each backend: the gateway crashing mid-burst, the scheduler's controller going away,
the joblauncher killed on the node. Nothing is lost, nothing runs twice, every job ends truthfully."""
import os
import signal
import subprocess
import threading
import time
from collections import Counter

import pytest
import requests
from lxml import etree

from .gateway import failure_text, literal_outputs, status_of, uuid_of, wait_for
from .processes import ALL
from .schedulers import REPO, gridengine_env, require
from .schemas import assert_valid

MODES = {"local": None, "slurm": "slurm", "drmaa": "gridengine"}


def config_for(mode):
    config = {"processing": {"mode": mode, "parallelprocesses": 2}, "processes": ALL}
    if mode != "local":
        # the test processes (tests.processes) live in the repository, not in the virtualenv: the
        # joblauncher runs isolated, so the folder is named for it
        config["scheduler"] = {"poll_interval": 0.5, "nfs_grace": 2.0, "submit_retries": 3, "pythonpath": [REPO]}
    return config


def env_for(mode):
    return gridengine_env() if mode == "drmaa" else {}


def submit(gateway, identifier, inputs="", **params):
    response = gateway.execute(identifier, inputs, storeExecuteResponse="true", **params)
    assert response.status_code == 200, response.text
    root = assert_valid(response.content)
    return root


@pytest.mark.parametrize("mode", list(MODES))
def test_gateway_killed_mid_burst_loses_nothing_and_runs_nothing_twice(fresh_gateway, tmp_path, mode):
    if MODES[mode]:
        require(MODES[mode])
    tally = tmp_path / "tally.txt"
    tally.touch()
    workdir = str(tmp_path / "gw")
    gateway = fresh_gateway(config_for(mode), workdir=workdir, env=env_for(mode))
    accepted, lock, stop = [], threading.Lock(), threading.Event()
    inputs = f"path={tally};delay=0.3"

    def submitter():
        session = requests.Session()
        while not stop.is_set():
            try:
                response = session.get(gateway.wps, timeout=10, params={
                    "service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": "tally",
                    "DataInputs": inputs, "storeExecuteResponse": "true"})
            except requests.RequestException:
                return  # the gateway is gone: this request was never accepted
            if response.status_code == 200 and b"ProcessAccepted" in response.content:
                with lock:
                    accepted.append(etree.fromstring(response.content).get("statusLocation"))

    threads = [threading.Thread(target=submitter) for _ in range(4)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(accepted) >= 24, 60, "the burst did not get going")
    gateway.kill()
    stop.set()
    for thread in threads:
        thread.join(15)
    restarted = fresh_gateway(config_for(mode), workdir=workdir, port=gateway.port, env=env_for(mode))
    outcomes = {}
    for location in accepted:
        final = restarted.wait_final(location, timeout=180)
        uuid = uuid_of(location)
        outcomes[uuid] = (status_of(final), failure_text(final), literal_outputs(final))
    runs = Counter(tally.read_text().split())
    assert max(runs.values(), default=0) <= 1, [u for u, n in runs.items() if n > 1]  # nothing ran twice
    for uuid, (state, reason, outputs) in outcomes.items():
        if state == "ProcessSucceeded":
            assert outputs == {"output": uuid} and runs[uuid] == 1
        else:
            # only the local pool loses a running job with its gateway, and it says so
            assert mode == "local" and "gateway restarted" in reason, (uuid, state, reason)
    succeeded = sum(1 for s, _, _ in outcomes.values() if s == "ProcessSucceeded")
    assert succeeded >= len(outcomes) - 2 * 2, outcomes  # at most the jobs running on the 2 workers
    listing = restarted.session.get(restarted.base + "/status/", params={"process": "tally", "limit": 1000},
                                    timeout=10).json()["jobs"]
    assert {j["uuid"] for j in listing} >= set(outcomes)


@pytest.mark.parametrize("mode", ["slurm", "drmaa"])
def test_jobs_persisted_but_not_submitted_when_the_gateway_is_killed_are_submitted_once(fresh_gateway, tmp_path,
                                                                                       mode):
    """Accepting does not wait for the scheduler: a gateway SIGKILLed between the two leaves jobs that were
    accepted and never submitted.  The restart submits each of them, and each exactly once."""
    require(MODES[mode])
    tally = tmp_path / "tally.txt"
    tally.touch()
    workdir = str(tmp_path / "gw")
    held = config_for(mode)
    held["scheduler"]["submit_window"] = 600  # the submitter waits: nothing reaches the scheduler
    gateway = fresh_gateway(held, workdir=workdir, env=env_for(mode))
    locations = [submit(gateway, "tally", f"path={tally};delay=0").get("statusLocation") for _ in range(4)]
    assert all(gateway.job(uuid_of(location))["submitted"] is False for location in locations)
    gateway.kill()
    restarted = fresh_gateway(config_for(mode), workdir=workdir, port=gateway.port, env=env_for(mode))
    for location in locations:
        final = restarted.wait_final(location, timeout=180)
        assert literal_outputs(final) == {"output": uuid_of(location)}, failure_text(final)
    runs = Counter(tally.read_text().split())
    assert runs == Counter({uuid_of(location): 1 for location in locations})  # every one ran, none twice
    ids = [restarted.job(uuid_of(location))["backend_id"] for location in locations]
    assert all(ids) and len(set(ids)) == len(ids)


@pytest.mark.parametrize("mode", ["slurm", "drmaa"])
def test_a_job_the_scheduler_refuses_after_accept_fails_with_its_message(fresh_gateway, mode):
    require(MODES[mode])
    config = config_for(mode)
    config["scheduler"]["processes"] = {"hello": {"queue": "nosuchqueue"}}
    gateway = fresh_gateway(config, env=env_for(mode))
    accepted = submit(gateway, "hello", "name=refused")
    assert status_of(accepted) == "ProcessAccepted"  # the answer did not wait for the scheduler
    final = gateway.wait_final(accepted.get("statusLocation"), timeout=60)
    text = failure_text(final)
    assert status_of(final) == "ProcessFailed" and text.startswith("the scheduler refused the job: "), text
    assert "nosuchqueue" in text, text  # the scheduler's own message
    record = gateway.job(uuid_of(accepted.get("statusLocation")))
    assert (record["status"], record["submitted"]) == ("failed", False)


def _controller(scheduler):
    """(pid file, start script, environment) of a scheduler's controller daemon."""
    if scheduler == "slurm":
        return "/run/slurmctld.pid", "slurm-start.sh", {}
    return "/var/spool/gridengine/qmaster/qmaster.pid", "gridengine-start.sh", gridengine_env()


def _stop_controller(scheduler):
    pid_file, _, _ = _controller(scheduler)
    with open(pid_file) as handle:
        pid = int(handle.read().split()[0])
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 60, f"the {scheduler} controller did not stop")


def _start_controller(scheduler):
    _, script, env = _controller(scheduler)
    subprocess.run(["bash", os.path.join(REPO, "slurm-demo", script)], check=True, timeout=180,
                   capture_output=True, env={**os.environ, **env})


@pytest.mark.parametrize("mode", ["slurm", "drmaa"])
def test_scheduler_controller_outage(fresh_gateway, mode):
    scheduler = MODES[mode]
    require(scheduler)
    gateway = fresh_gateway(config_for(mode), env=env_for(mode))
    running = submit(gateway, "sleep", "delay=2", status="true").get("statusLocation")
    uuid = uuid_of(running)
    wait_for(lambda: gateway.job(uuid)["status"] == "started", 90, "the job never started")
    _stop_controller(scheduler)
    try:
        capabilities = gateway.get(service="WPS", request="GetCapabilities")
        assert capabilities.status_code == 200
        during = submit(gateway, "hello", "name=outage")  # retried, then failed cleanly: never left hanging
        state = status_of(during)
        if state == "ProcessFailed":
            assert "could not be reached" in failure_text(during) or "scheduler" in failure_text(during)
        else:
            assert state == "ProcessAccepted"
        time.sleep(3)  # several monitor rounds without a scheduler
        assert gateway.job(uuid)["status"] in ("accepted", "started", "succeeded")  # never wrongly failed
    finally:
        _start_controller(scheduler)
    final = gateway.wait_final(running, timeout=120)
    assert literal_outputs(final) == {"sleep_output": "done sleeping"}, failure_text(final)
    after = submit(gateway, "hello", "name=after").get("statusLocation")
    assert literal_outputs(gateway.wait_final(after, timeout=90)) == {"output": "Hello after"}


@pytest.mark.parametrize("mode", list(MODES))
def test_joblauncher_killed_with_sigkill(fresh_gateway, mode):
    if MODES[mode]:
        require(MODES[mode])
    gateway = fresh_gateway(config_for(mode), env=env_for(mode))
    if mode == "local":
        location = submit(gateway, "sigkill", status="true").get("statusLocation")
    else:
        location = submit(gateway, "spin", status="true").get("statusLocation")
        uuid = uuid_of(location)
        wait_for(lambda: gateway.job(uuid)["status"] == "started", 90, "the job never started")
        # an array task's command names its round's manifest, which the job's folder names (batch file)
        batch = os.path.join(gateway.workdir, "spool", uuid, "batch")
        name = open(batch).read().split()[0] if os.path.exists(batch) else uuid
        pids = wait_for(lambda: subprocess.run(["pgrep", "-f", f"joblauncher.*({uuid}|{name})"],
                                               capture_output=True, text=True).stdout.split(), 30,
                        "no joblauncher process found")
        for pid in pids:
            os.kill(int(pid), signal.SIGKILL)
    final = gateway.wait_final(location, timeout=90)
    text = failure_text(final)
    assert status_of(final) == "ProcessFailed"
    assert "signal 9" in text or "killed" in text, text
