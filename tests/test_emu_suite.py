"""birdhouse Emu 1.0.0's own test suite, run against ``wpsgate serve`` serving ``emu.processes:processes``.

Emu's tests run unchanged from its source distribution; only their PyWPS test client is pointed at the
gateway over loopback HTTP (tests/emu_gateway_plugin.py).  Left out: the tests whose inputs live on the
internet (Emu marks them ``online``; ``test_wps_pandas_as_ref`` fetches from GitHub without the mark).

The source distribution is unpacked by .ci/run into ``<venv>/src/birdhouse_emu-1.0.0`` (or name another
copy with WPSGATE_EMU_SOURCE).  Without Emu the tests are skipped with a message, except in CI, where
they fail.  Through Slurm every Execute goes to the scheduler (``scheduler.sync: scheduler``); as Emu's
processes import xarray and pandas on the node, each job takes several seconds there, so CI runs a
representative subset of Emu's tests through Slurm (all input and output kinds, RawDataOutput answers, a
reference input, MetaLink files, translations, progress, errors), a smaller one through Grid Engine, and the
whole suite on the local pool (WPSGATE_EMU_WHOLE_SUITE=1 sends the whole suite through the schedulers).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from .gateway import GatewayProcess
from .schedulers import gridengine_env, require

EMU_SOURCE = os.environ.get("WPSGATE_EMU_SOURCE") or os.path.join(sys.prefix, "src", "birdhouse_emu-1.0.0")
HERE = os.path.dirname(os.path.abspath(__file__))
ONLINE = ["tests/test_wps_pandas.py::test_wps_pandas_as_ref"]  # fetches from GitHub, not marked online
SLURM_SUBSET = ["tests/test_wps_inout.py", "tests/test_wps_wordcounter.py", "tests/test_wps_multiple_outputs.py",
                "tests/test_wps_translation.py::test_wps_translation_execute", "tests/test_wps_error.py",
                "tests/test_wps_dummy.py"]


def _emu_problem() -> str | None:
    if not os.path.isdir(os.path.join(EMU_SOURCE, "tests")):
        return f"Emu's source distribution is not at {EMU_SOURCE} (see .ci/run, or set WPSGATE_EMU_SOURCE)"
    try:
        import emu.processes  # noqa: F401
    except ImportError as exc:
        return f"birdhouse-emu is not installed ({exc}); pip install birdhouse-emu==1.0.0"
    return None


@pytest.fixture(scope="module", autouse=True)
def emu_available():
    problem = _emu_problem()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)


def emu_config(**extra) -> dict:
    return {"processes": ["emu.processes:processes"],
            "metadata": {"languages": ["en-US", "fr-CA", "de-DE"]},  # as Emu's tests/test.cfg
            "server": {"allowedinputpaths": [os.path.join(EMU_SOURCE, "tests", "testdata")]}, **extra}


def run_emu_tests(gateway: GatewayProcess, selection: list[str]) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    env.update(WPSGATE_EMU_GATEWAY=gateway.wps, PYTHONPATH=HERE)
    command = [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "--tb=short", "-p", "no:cacheprovider",
               "-p", "emu_gateway_plugin", "-m", "not online", *[f"--deselect={d}" for d in ONLINE], *selection]
    done = subprocess.run(command, cwd=EMU_SOURCE, env=env, capture_output=True, text=True, timeout=1200)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, f"Emu's tests failed against the gateway:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
    assert re.search(r"\d+ passed", summary) and not re.search(r"\d+ (failed|errors?)\b", summary), summary
    return summary


def test_emu_suite_on_the_local_pool(tmp_path):
    gateway = GatewayProcess(str(tmp_path / "gw"), emu_config()).start(timeout=120)
    try:
        summary = run_emu_tests(gateway, ["tests"])
        # everything Emu's suite runs offline passed (its metalink-download test needs a package Emu does not
        # install, its nc_to_dap test is skipped by Emu, its bbox test is an expected failure in Emu)
        assert int(re.search(r"(\d+) passed", summary).group(1)) >= 23, summary
    finally:
        gateway.stop()


SCHEDULERS = {"slurm": "slurm", "drmaa": "gridengine"}  # processing mode -> the demo scheduler it needs
GRIDENGINE_SUBSET = ["tests/test_wps_inout.py", "tests/test_wps_wordcounter.py"]  # the Slurm subset's core


@pytest.mark.parametrize("mode", list(SCHEDULERS))
def test_emu_tests_with_every_execute_on_a_scheduler(tmp_path, mode):
    """Every Execute of the selection runs on the scheduler, RawDataOutput answers included.

    WPSGATE_EMU_WHOLE_SUITE=1 runs Emu's whole suite through the scheduler (several minutes)."""
    require(SCHEDULERS[mode])
    config = emu_config(processing={"mode": mode, "parallelprocesses": 1},
                        scheduler={"sync": "scheduler", "poll_interval": 0.5, "nfs_grace": 2.0})
    env = gridengine_env() if mode == "drmaa" else {}
    gateway = GatewayProcess(str(tmp_path / "gw"), config, env=env).start(timeout=120)
    whole = os.environ.get("WPSGATE_EMU_WHOLE_SUITE") == "1"
    try:
        run_emu_tests(gateway, ["tests"] if whole else SLURM_SUBSET if mode == "slurm" else GRIDENGINE_SUBSET)
        jobs = gateway.session.get(gateway.base + "/status/", params={"limit": 100}, timeout=30).json()["jobs"]
        assert jobs and all(job["backend"] == mode for job in jobs), [(j["process"], j["backend"]) for j in jobs]
        assert {job["process"] for job in jobs} >= {"inout", "wordcounter"}
        assert any(not job["async"] for job in jobs)  # the synchronous ones (raw answers among them) too
    finally:
        gateway.stop()
