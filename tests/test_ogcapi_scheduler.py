"""OGC API jobs on a batch scheduler (Slurm, started by slurm-demo/): the same engine as WPS jobs.

A job started through the OGC API runs on Slurm; a job the scheduler cancels is reported failed
with the reason; DELETE cancels the Slurm job.  One gateway for the module.
"""
from __future__ import annotations

import subprocess

import pytest

from .gateway import GatewayProcess, wait_for
from .ogcapi_helpers import wait_status
from .ogcapi_schemas import assert_valid
from .processes import ALL
from .schedulers import REPO, require


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    require("slurm")
    gateway = GatewayProcess(str(tmp_path_factory.mktemp("ogcapi-slurm")), {
        "processing": {"mode": "slurm", "parallelprocesses": 1},
        "scheduler": {"poll_interval": 0.5, "nfs_grace": 2.0, "pythonpath": [REPO]}, "processes": ALL}).start()
    yield gateway
    gateway.stop()


def start(gateway, process: str, inputs: dict) -> str:
    answer = gateway.session.post(f"{gateway.base}/processes/{process}/execution", json={"inputs": inputs},
                                  headers={"Prefer": "respond-async"}, timeout=60)
    assert answer.status_code == 201, answer.text
    assert_valid(answer.json(), "statusInfo")
    return answer.headers["Location"]


def backend_id(gateway, href: str) -> str:
    return wait_for(lambda: gateway.job(href.rsplit("/", 1)[1]).get("backend_id"), 60, "no Slurm job id")


def squeue_state(job: str) -> str:
    return subprocess.run(["squeue", "-h", "-t", "all", "-j", job, "-o", "%T"], capture_output=True, text=True,
                          timeout=20).stdout.strip()


def test_an_ogcapi_job_runs_on_slurm_and_its_results_come_back(slurm):
    href = start(slurm, "hello", {"name": "cluster"})
    assert backend_id(slurm, href)
    final = assert_valid(wait_status(slurm.session, href, ("successful", "failed"), timeout=120), "statusInfo")
    assert final["status"] == "successful" and final["backend"] == "slurm", final
    assert assert_valid(slurm.session.get(href + "/results", timeout=10).json(), "results") == {
        "output": "Hello cluster"}


def test_a_job_cancelled_by_the_scheduler_is_failed_with_the_reason(slurm):
    href = start(slurm, "spin", {})
    job = backend_id(slurm, href)
    wait_status(slurm.session, href, ("running",), timeout=120)
    subprocess.run(["scancel", job], check=True, timeout=20)
    final = assert_valid(wait_status(slurm.session, href, ("failed", "successful"), timeout=60), "statusInfo")
    assert final["status"] == "failed"
    assert "cancel" in final["message"].lower() or "signal" in final["message"].lower(), final


def test_dismiss_cancels_the_slurm_job(slurm):
    href = start(slurm, "spin", {})
    job = backend_id(slurm, href)
    wait_status(slurm.session, href, ("running",), timeout=120)
    dismissed = slurm.session.delete(href, timeout=60)
    assert assert_valid(dismissed.json(), "statusInfo")["status"] == "dismissed"
    wait_for(lambda: squeue_state(job) in ("CANCELLED", ""), 30, "Slurm still runs the dismissed job")
