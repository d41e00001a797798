"""File modes of what the gateway writes: the work folder, the spool, the signing key and every job folder are
the service account's alone, whatever umask the gateway was started with.

Modes are read with os.stat, so the checks hold when the tests run as root too.
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import pytest
import requests
from lxml import etree

from .gateway import NS, GatewayProcess


def mode(path: str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def run_async_jobs(gateway: GatewayProcess) -> list[str]:
    """One async hello with its output by reference and one async wordcounter; their job folders, once final."""
    folders = []
    for identifier, inputs, params in (("hello", "name=modes", {"ResponseDocument": "output@asReference=true"}),
                                       ("wordcounter", "text=a b a", {})):
        response = gateway.execute(identifier, inputs, storeExecuteResponse="true", status="true", **params)
        assert response.status_code == 200, response.text[:1000]
        location = etree.fromstring(response.content).get("statusLocation")
        final = gateway.wait_final(location, timeout=30)
        assert final.find("wps:Status/wps:ProcessSucceeded", NS) is not None, etree.tostring(final)[:1000]
        uuid = location.rsplit("/", 1)[1][:-len(".xml")]
        folders.append(os.path.join(gateway.spool, uuid))
    return folders


def violations(workdir: str, spool: str, folders: list[str]) -> list[str]:
    """Every mode that lets someone other than the service account in, as readable lines."""
    found = []

    def expect(path: str, wanted: int | None = None, no_bits: int = 0) -> None:
        actual = mode(path)
        if wanted is not None and actual != wanted:
            found.append(f"{path}: mode {actual:04o}, expected {wanted:04o}")
        elif actual & no_bits:
            found.append(f"{path}: mode {actual:04o} has bits {actual & no_bits:04o} for others")

    expect(workdir, 0o700)
    expect(spool, 0o700)
    expect(os.path.join(workdir, "job.key"), 0o600)
    for folder in folders:
        expect(folder, no_bits=0o007)
        for name in ("status.xml", "job.dill", "result.json"):
            expect(os.path.join(folder, name), no_bits=0o007)
        for root, directories, files in os.walk(folder):
            for name in directories:
                expect(os.path.join(root, name), no_bits=0o007)
            for name in files:
                expect(os.path.join(root, name), no_bits=0o007)
    return found


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """A gateway whose work folder it creates itself (the config and log live beside it), after two async jobs."""
    base = tmp_path_factory.mktemp("modes")
    workdir = str(base / "work")
    gateway = GatewayProcess(str(base / "gateway"), {"server": {"workdir": workdir}}).start()
    gateway.spool = os.path.join(workdir, "spool")
    folders = run_async_jobs(gateway)
    yield gateway, workdir, folders
    gateway.stop()


def test_work_folder_and_spool_are_0700(started):
    gateway, workdir, _ = started
    assert mode(workdir) == 0o700, oct(mode(workdir))
    assert mode(gateway.spool) == 0o700, oct(mode(gateway.spool))


def test_job_key_is_0600(started):
    _, workdir, _ = started
    assert mode(os.path.join(workdir, "job.key")) == 0o600


def test_job_folders_are_closed_to_other_users(started):
    _, _, folders = started
    for folder in folders:
        assert mode(folder) & 0o007 == 0, f"{folder}: {mode(folder):04o}"
        assert mode(os.path.join(folder, "outputs")) & 0o007 == 0


def test_job_files_are_not_world_readable(started):
    _, _, folders = started
    for folder in folders:
        for name in ("status.xml", "job.dill", "result.json"):
            path = os.path.join(folder, name)
            assert os.path.exists(path), f"{path} missing: {os.listdir(folder)}"
            assert mode(path) & 0o007 == 0, f"{path}: {mode(path):04o}"
    outputs = os.path.join(folders[0], "outputs", "output.txt")
    assert mode(outputs) & 0o007 == 0, f"{outputs}: {mode(outputs):04o}"


def test_existing_work_folder_is_tightened_to_0700(fresh_gateway, tmp_path):
    """A work folder that exists before the first start (the harness creates it for the config file, an
    operator or a package may too) with a umask-022 mode must still end up 0700."""
    workdir = tmp_path / "existing"
    workdir.mkdir(mode=0o755)
    os.chmod(workdir, 0o755)
    gateway = fresh_gateway(workdir=str(workdir))
    assert gateway.process.poll() is None
    assert mode(str(workdir)) == 0o700, oct(mode(str(workdir)))
    assert mode(str(workdir / "spool")) == 0o700


def test_modes_hold_under_umask_0(tmp_path):
    """Started from a shell with umask 000: no folder or file of the gateway's may become open to others."""
    workdir = str(tmp_path / "work")
    gateway = GatewayProcess(str(tmp_path / "gateway"), {"server": {"workdir": workdir}})
    gateway.spool = os.path.join(workdir, "spool")
    log = open(gateway.log_path, "ab")
    gateway.process = subprocess.Popen(
        ["sh", "-c", 'umask 000; exec "$0" -m wpsgate serve --config "$1"', sys.executable, gateway.config_path],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=gateway.env)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert gateway.process.poll() is None, f"gateway exited:\n{gateway.log()}"
            assert time.monotonic() < deadline, f"gateway did not answer:\n{gateway.log()}"
            try:
                if gateway.get(service="WPS", request="GetCapabilities").status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        with open(f"/proc/{gateway.process.pid}/status") as handle:
            assert "Umask:\t0000" in handle.read()  # the gateway really runs with umask 0
        folders = run_async_jobs(gateway)
        problems = violations(workdir, gateway.spool, folders)
        problems += [f"{path}: world-writable" for path in
                     (os.path.join(workdir, name) for name in os.listdir(workdir)) if mode(path) & 0o002]
        assert problems == [], "\n".join(problems)
    finally:
        gateway.stop(signal.SIGTERM)
        log.close()
