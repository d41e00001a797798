"""``wpsgate doctor``: passes on the real Slurm and Grid Engine with a probe job, and fails, saying what to fix,
for a broken spool, a missing or open key, an unreachable database, a stopped scheduler and a DRMAA library that
does not load.  The stopped scheduler is a PATH whose Slurm commands fail as they do when slurmctld is down; the
real daemons are never stopped."""
import os
import stat
import subprocess
import sys

import pytest
import yaml

from wpsgate.config import config_from_mapping
from wpsgate.jobs.jobfile import load_or_create_key
from wpsgate.server.app import prepare_folders

from .gateway import free_port
from .schedulers import REPO, gridengine_env, require

BACKENDS = {"slurm": "slurm", "drmaa": "gridengine"}


def configure(tmp_path, settings, installed=True):
    """Write the configuration; with ``installed``, the work folder, spool and key as a first start makes them."""
    settings = {"server": {"workdir": str(tmp_path / "work")}, **settings}
    path = tmp_path / "wpsgate.yml"
    path.write_text(yaml.safe_dump(settings))
    if installed:
        config = config_from_mapping(settings, environ={})
        prepare_folders(config)
        load_or_create_key(os.path.join(config.workdir, "job.key"))
    return str(path)


def doctor(config_path, env=None, *extra):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WPSGATE_")}
    result = subprocess.run([sys.executable, "-m", "wpsgate", "doctor", "--config", config_path, *extra],
                            capture_output=True, text=True, timeout=400, cwd=REPO, env={**environ, **(env or {})})
    return result.returncode, result.stdout + result.stderr


def line(output, name):
    """The doctor's line for the check ``name`` (and its fix line, if any)."""
    lines = output.splitlines()
    for index, text in enumerate(lines):
        if text[6:].startswith(name + ":"):
            fix = lines[index + 1].strip() if index + 1 < len(lines) and lines[index + 1].startswith("      fix:") \
                else ""
            return text, fix
    raise AssertionError(f"no line for {name!r} in:\n{output}")


@pytest.mark.parametrize("mode", list(BACKENDS))
def test_doctor_passes_with_a_probe_job(tmp_path, mode):
    require(BACKENDS[mode])
    # a process module from the repository, importable on the nodes only through scheduler.pythonpath
    path = configure(tmp_path, {"processing": {"mode": mode},
                                "scheduler": {"pythonpath": [REPO], "nfs_grace": 2.0},
                                "processes": ["wpsgate.demo.hello:Hello", "tests.processes:tally"]})
    code, output = doctor(path, gridengine_env() if mode == "drmaa" else {}, "--timeout", "300")
    assert code == 0, output
    for name in ("configuration", "processes", "work folder", "spool", "signing key", "database",
                 "python module dill", "nodes' python", "probe job", "key on the node", "same spool on the node",
                 "processes on the node", "probe round trip"):
        assert line(output, name)[0].startswith("ok  "), (name, output)
    assert "status document back in" in line(output, "probe round trip")[0]
    assert output.rstrip().endswith("all checks passed")
    assert os.listdir(tmp_path / "work" / "spool") == []  # the probe cleaned up after itself


def test_doctor_finds_a_process_module_the_nodes_cannot_import(tmp_path):
    require("gridengine")
    extra = tmp_path / "gateway-only"
    extra.mkdir()
    (extra / "only_here.py").write_text("from wpsgate.demo.hello import Hello\n")
    path = configure(tmp_path, {"processing": {"mode": "drmaa"}, "scheduler": {"nfs_grace": 2.0},
                                "processes": ["only_here:Hello"]})
    code, output = doctor(path, {**gridengine_env(), "PYTHONPATH": str(extra)}, "--timeout", "300")
    assert code == 1, output
    assert line(output, "processes")[0].startswith("ok  ")  # on the gateway it imports
    text, fix = line(output, "processes on the node")
    assert text.startswith("FAIL") and "only_here" in text and "No module named 'only_here'" in text
    assert "scheduler.pythonpath" in fix
    kept = line(output, "probe job folder")[0]
    assert "kept for inspection" in kept


def test_world_readable_spool(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o755)
    spool.chmod(0o755)
    path = configure(tmp_path, {"processing": {"spool": str(spool)}})
    spool.chmod(0o755)  # as an operator's mkdir would leave it
    code, output = doctor(path)
    assert code == 1
    text, fix = line(output, "spool")
    assert text.startswith("FAIL") and "open to other users (mode 0755)" in text
    assert fix == f"fix: chmod 700 {spool}"
    assert output.rstrip().endswith("1 check(s) failed")


def test_spool_that_is_not_a_folder(tmp_path):
    path = configure(tmp_path, {}, installed=True)
    spool = tmp_path / "work" / "spool"
    os.rmdir(spool)
    spool.write_text("not a folder")
    code, output = doctor(path)
    assert code == 1
    assert line(output, "spool")[0].startswith("FAIL") and "is not a folder" in output


def test_missing_key(tmp_path):
    path = configure(tmp_path, {})
    key = tmp_path / "work" / "job.key"
    key.unlink()
    code, output = doctor(path)
    assert code == 1
    text, fix = line(output, "signing key")
    assert text.startswith("FAIL") and f"{key} does not exist" in text
    assert "start the gateway once" in fix and "umask 077" in fix


def test_key_readable_by_others(tmp_path):
    path = configure(tmp_path, {})
    key = tmp_path / "work" / "job.key"
    key.chmod(0o644)
    code, output = doctor(path)
    assert code == 1
    text, fix = line(output, "signing key")
    assert "mode 0644" in text and fix == f"fix: chmod 600 {key}"


def test_unreachable_database_hides_the_password(tmp_path):
    url = f"postgresql+psycopg2://wps:hunter2secret@127.0.0.1:{free_port()}/jobs"
    path = configure(tmp_path, {"database": {"url": url}})
    code, output = doctor(path)
    assert code == 1
    text, fix = line(output, "database")
    assert text.startswith("FAIL") and "cannot be reached" in text and "hunter2secret" not in output
    assert "***" in text


def test_stopped_slurm_controller(tmp_path):
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for command in ("sbatch", "squeue", "sacct", "scancel", "sinfo"):
        stub = stubs / command
        stub.write_text(f"#!/bin/sh\necho '{command}: error: Unable to contact slurm controller (connect failure)' "
                        ">&2\nexit 1\n")
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    path = configure(tmp_path, {"processing": {"mode": "slurm"}})
    code, output = doctor(path, {"PATH": f"{stubs}:/usr/bin:/bin"})
    assert code == 1
    text, fix = line(output, "slurm controller")
    assert text.startswith("FAIL") and "Unable to contact slurm controller" in text
    assert "slurmctld" in fix
    assert "skip  probe job: fix the failures above first" in output


def test_drmaa_library_that_does_not_load(tmp_path):
    library = tmp_path / "libdrmaa.so"
    library.write_bytes(b"not a shared object")
    path = configure(tmp_path, {"processing": {"mode": "drmaa"}, "scheduler": {"drmaa_library": str(library)}})
    code, output = doctor(path, {"DRMAA_LIBRARY_PATH": ""})
    assert code == 1
    text, fix = line(output, "drmaa library")
    assert text.startswith("FAIL") and "cannot be loaded" in text
    assert "skip  probe job" in output


def test_invalid_configuration(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("processing: {mode: pbs}\n")
    code, output = doctor(str(path))
    assert code == 1
    assert line(output, "configuration")[0].startswith("FAIL") and "processing.mode" in output
