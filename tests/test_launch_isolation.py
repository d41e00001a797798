"""The launcher command as the backends submit it: nothing planted on its path is imported, the job gets
only the allow-listed environment, and staged inputs changed after signing are refused.

Job folders, job files and the ClusterJob are made by the real lifecycle and scheduler runner (``persist_now`` and
``cluster_job``), then run the way each scheduler runs them: Slurm's ``--wrap`` script under
``/bin/sh`` in the ``--chdir`` folder with ``--export=NONE`` (only Slurm's own variables), and
DRMAA's remote command, arguments, working directory and job environment.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import sysconfig

import pytest
from lxml import etree

from wpsgate.backends.slurm import SlurmBackend
from wpsgate.config import ConfigError, config_from_mapping
from wpsgate.jobs.cluster import SchedulerRunner, settings_from_config
from wpsgate.jobs.lifecycle import Job, Lifecycle
from wpsgate.jobs.folder import JobFolder
from wpsgate.jobs.jobfile import load_or_create_key
from wpsgate.jobs.serial import SerialExecutor
from wpsgate.jobs.store import JobStore
from wpsgate.protocol.kvp import parse_kvp
from wpsgate.registry import load_processes
from wpsgate.server.app import prepare_folders
from wpsgate.service import Urls, WPSService

from .schedulers import REPO

NS = {"wps": "http://www.opengis.net/wps/1.0.0", "ows": "http://www.opengis.net/ows/1.1"}
SECRETS = {"SECRET_TOKEN": "s3cr3t", "WPSGATE_DATABASE__URL": "postgresql://gw:password@db/wps"}
PLANTED = ("joblauncher/__init__.py", "joblauncher/__main__.py", "wpsgate/__init__.py", "dill.py", "hmac.py")


class Site:
    """A gateway's spool, key, job table and cluster engine, without a running gateway."""

    def __init__(self, root: str, environment: list[str]) -> None:
        self.config = config_from_mapping({"server": {"workdir": os.path.join(root, "gw")},
                                           "scheduler": {"environment": environment, "pythonpath": [REPO]}},
                                          environ={})
        prepare_folders(self.config)
        key_path = os.path.join(self.config.workdir, "job.key")
        self.store = JobStore("sqlite:///" + os.path.join(self.config.workdir, "jobs.sqlite"))
        key = load_or_create_key(key_path)
        self.runner = SchedulerRunner(backend_factory=lambda: None, spool=self.config.spool, key=key,
                                      settings=settings_from_config(self.config.scheduler, key_path), name="slurm")
        self.lifecycle = Lifecycle(store=self.store, spool=self.config.spool, key=key, io=SerialExecutor())
        processes = load_processes(["wpsgate.demo.wordcounter:WordCounter", "tests.processes:environ",
                                    "tests.launcher_processes:where"])
        self.service = WPSService(self.config, processes, engine=None, urls=Urls("http://127.0.0.1:9"))

    def job(self, identifier: str, datainputs: str = "", stage=None):
        """Persist a job as the engine does for a scheduler; ``stage(spec, folder)`` stages inputs first."""
        query = f"service=WPS&request=Execute&version=1.0.0&identifier={identifier}&storeExecuteResponse=true"
        if datainputs:
            query += "&DataInputs=" + datainputs
        process, spec, timeout, expire = self.service.prepare(parse_kvp(query))
        spec.store = True
        folder = JobFolder(spec.spool, spec.uuid).create()
        if stage is not None:
            stage(spec, folder)
        job = Job(spec, timeout, expire, process)
        self.lifecycle.persist_now(job, self.runner.name, self.runner.persist)
        return folder, self.runner.cluster_job(job)

    def close(self) -> None:
        self.runner.thread.shutdown()
        self.runner.disk.shutdown()
        self.lifecycle.io.shutdown()
        self.store.close()


@pytest.fixture
def site(tmp_path, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ALLOWED_VAR", "passed on")
    site = Site(str(tmp_path), ["PATH", "LANG", "ALLOWED_VAR", "FIXED=a,b c", "HOME"])
    yield site
    site.close()


def run_like_slurm(job, extra_env=None, cwd=None):
    """sbatch's batch script, in its --chdir folder, with only Slurm's variables (--export=NONE)."""
    args = SlurmBackend().sbatch_arguments(job)
    assert "--export=NONE" in args and not any(a.startswith("--export=ALL") for a in args)
    chdir = next(a for a in args if a.startswith("--chdir="))[len("--chdir="):]
    script = args[args.index("--wrap") + 1]
    env = {"SLURM_JOB_ID": "1", "SLURM_EXPORT_ENV": "NONE", **(extra_env or {})}
    return subprocess.run(["/bin/sh", "-c", script], cwd=cwd or chdir, env=env, capture_output=True, text=True,
                          timeout=120)


def run_like_drmaa(job, extra_env=None, cwd=None, command=None):
    """DRMAA's remoteCommand + args in workingDirectory with jobEnvironment (no -V)."""
    return subprocess.run(list(command or job.command), cwd=cwd or job.workdir,
                          env={**job.environment, **(extra_env or {})}, capture_output=True, text=True, timeout=120)


RUNNERS = {"slurm": run_like_slurm, "drmaa": run_like_drmaa}


def status(folder):
    root = etree.parse(folder.status).getroot()
    state = etree.QName(root.find("wps:Status", NS)[0]).localname
    text = root.findtext("wps:Status/wps:ProcessFailed//ows:ExceptionText", namespaces=NS) or ""
    values = {o.findtext("ows:Identifier", namespaces=NS): o.findtext("wps:Data/wps:LiteralData", namespaces=NS)
              for o in root.iterfind("wps:ProcessOutputs/wps:Output", NS)}
    return state, text, values


def plant(folder: str, markers: str, label: str) -> None:
    """Modules that, if imported, leave a marker file named after where they were planted."""
    for name in PLANTED:
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(f"open({os.path.join(markers, label + '-' + name.replace('/', '.'))!r}, 'w').close()\n")


def user_site(home: str) -> str:
    """The user site-packages folder Python would use with HOME=home."""
    return sysconfig.get_path("purelib", f"{os.name}_user", vars={"userbase": os.path.join(home, ".local")})


def test_the_command_is_isolated_and_starts_outside_the_job_folder(site):
    folder, job = site.job("where")
    assert job.command[:4] == (site.runner.settings.python, "-I", "-m", "joblauncher")
    assert job.workdir == "/"
    assert not job.workdir.startswith(os.path.dirname(folder.path))
    result = run_like_drmaa(job)
    assert result.returncode == 0, result.stderr
    state, _, values = status(folder)
    assert state == "ProcessSucceeded"
    assert values["output"] == folder.work  # the handler itself still runs in its work/ folder


def base_python() -> str:
    """The interpreter the virtualenv was made from: a virtualenv has no user site, a plain install has."""
    return getattr(sys, "_base_executable", sys.executable)


def planted_job(site, tmp_path, location, markers):
    """A fresh job, a plant at ``location``, and the start the attacker hopes for: the launcher started in
    the planted folder, or a PYTHONPATH or HOME naming it (as the old --chdir=work/, --export=ALL and
    PYTHONPATH=<gateway cwd> gave).  Returns (folder, job, cwd, extra environment)."""
    folder, job = site.job("environ")
    home = str(tmp_path / "home")
    place = {"work folder": folder.work, "job folder": folder.path, "spool": site.config.spool,
             "PYTHONPATH": str(tmp_path / "pythonpath"), "user site": user_site(home)}[location]
    os.makedirs(place, exist_ok=True)
    plant(place, str(markers), location)
    cwd = place if location in ("work folder", "job folder", "spool") else None
    extra = {"PYTHONPATH": place} if location == "PYTHONPATH" else {}
    if location == "user site":
        job = dataclasses.replace(job, command=(base_python(), *job.command[1:]),
                                  environment={**job.environment, "HOME": home})
    return folder, job, cwd, extra


@pytest.mark.parametrize("location", ["work folder", "job folder", "spool", "PYTHONPATH", "user site"])
@pytest.mark.parametrize("backend", list(RUNNERS))
def test_a_package_planted_on_the_launchers_path_is_not_imported(site, tmp_path, location, backend):
    markers = tmp_path / "markers"
    markers.mkdir()
    _folder, job, cwd, extra = planted_job(site, tmp_path, location, markers)
    control = run_like_drmaa(job, extra, cwd, command=[a for a in job.command if a != "-I"])
    assert os.listdir(markers), f"control: the plant in the {location} is imported without -I ({control.stderr})"
    for name in os.listdir(markers):
        os.unlink(markers / name)

    folder, job, cwd, extra = planted_job(site, tmp_path, location, markers)
    result = RUNNERS[backend](job, extra, cwd)
    assert os.listdir(markers) == [], result.stderr
    if location == "user site":  # the plain interpreter has no wpsgate: the real joblauncher is not found either
        assert "No module named joblauncher" in result.stderr, result.stderr
        return
    assert result.returncode == 0, result.stderr
    assert status(folder)[0] == "ProcessSucceeded"


@pytest.mark.parametrize("backend", list(RUNNERS))
def test_the_job_sees_only_the_allow_listed_environment(site, backend):
    folder, job = site.job("environ")
    assert not set(SECRETS) & set(job.environment)
    result = RUNNERS[backend](job)
    assert result.returncode == 0, result.stderr
    state, _, values = status(folder)
    assert state == "ProcessSucceeded"
    seen = json.loads(values["output"])
    assert not set(SECRETS) & set(seen), seen
    assert not any(name.startswith("PYTHON") for name in seen), seen
    assert seen["ALLOWED_VAR"] == "passed on"
    assert seen["FIXED"] == "a,b c"


def _stage_text(spec, folder):
    """Stage the ``text`` input as a file in the job folder, as the gateway stages references."""
    os.makedirs(os.path.join(folder.path, "inputs"), exist_ok=True)
    path = os.path.join(folder.path, "inputs", "text_0.txt")
    with open(path, "w") as handle:
        handle.write("staged words staged")
    item = spec.inputs["text"][0]
    item._path, item._payload = path, None


@pytest.mark.parametrize("change", ["modified", "replaced", "removed"])
def test_a_staged_input_changed_after_signing_is_refused(site, change):
    folder, job = site.job("wordcounter", "text=ignored", stage=_stage_text)
    path = os.path.join(folder.path, "inputs", "text_0.txt")
    if change == "modified":
        with open(path, "a") as handle:
            handle.write(" injected")
    elif change == "replaced":
        os.unlink(path)
        os.symlink("/etc/hostname", path)
    else:
        os.unlink(path)
    result = run_like_drmaa(job)
    assert result.returncode == 3, result.stderr
    state, text, _ = status(folder)
    assert state == "ProcessFailed"
    assert "inputs/text_0.txt" in text and "refused" in text, text
    assert folder.read_final().state == "refused"
    assert os.listdir(folder.outputs) == []


def test_an_unchanged_staged_input_runs(site):
    folder, job = site.job("wordcounter", "text=ignored", stage=_stage_text)
    result = run_like_slurm(job)
    assert result.returncode == 0, result.stderr
    assert status(folder)[0] == "ProcessSucceeded"
    with open(os.path.join(folder.outputs, "output.json")) as handle:
        assert json.load(handle) == [[2, "staged"], [1, "words"]]


@pytest.mark.parametrize("scheduler, message", [
    ({"environment": ["PATH", "NOT-A-NAME"]}, "scheduler.environment"),
    ({"environment": ["=value"]}, "scheduler.environment"),
    ({"pythonpath": ["relative/folder"]}, "scheduler.pythonpath"),
])
def test_bad_environment_and_pythonpath_entries_stop_the_start(scheduler, message):
    with pytest.raises(ConfigError, match=message):
        config_from_mapping({"scheduler": scheduler}, environ={})


def test_the_allow_list_from_an_environment_variable():
    config = config_from_mapping({}, environ={"WPSGATE_SCHEDULER__ENVIRONMENT": "PATH,OMP_NUM_THREADS=4"})
    assert config.scheduler.environment == ("PATH", "OMP_NUM_THREADS=4")
    assert config_from_mapping({}, environ={}).scheduler.pythonpath == ()
