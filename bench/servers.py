"""Start and stop the two servers under test, each with its own temporary work folder.

* wpsgate: ``wpsgate serve --config FILE`` from the repository's virtualenv, with the
  demo processes, ``processing.parallelprocesses`` workers and the given mode
  (local, slurm or drmaa).
* PyWPS 4.8.1: gunicorn with the same number of sync workers serving
  ``bench/pywps_app`` (the same demo processes written for PyWPS), from its own
  virtualenv.
"""
from __future__ import annotations

import os
import re
import sys
import time
from typing import Any

import yaml

from . import httpclient
from .procs import Managed, free_port, rss_mb, tree_cpu_seconds, tree_rss_mb

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
STATUS_LOCATION = re.compile(rb'statusLocation="([^"]+)"')


class Server:
    name = "server"
    managed: Managed | None = None

    def __init__(self, workdir: str, workers: int) -> None:
        self.workdir = workdir
        self.workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.wps = self.base + "/wps"
        os.makedirs(workdir, exist_ok=True)

    # URLs of the requests both servers answer
    def url(self, query: str) -> str:
        return f"{self.wps}?{query}"

    @property
    def capabilities(self) -> str:
        return self.url("service=WPS&request=GetCapabilities")

    @property
    def describe_all(self) -> str:
        return self.url("service=WPS&request=DescribeProcess&version=1.0.0&identifier=ALL")

    def execute(self, identifier: str, inputs: str = "", store: bool = False, status: bool = False) -> str:
        query = f"service=WPS&request=Execute&version=1.0.0&identifier={identifier}"
        if inputs:
            query += "&DataInputs=" + inputs
        if store:
            query += "&storeExecuteResponse=true"
        if status:
            query += "&status=true"
        return self.url(query)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            assert self.managed is not None
            if not self.managed.alive():
                raise RuntimeError(f"{self.name} exited at start:\n{self.managed.log_tail()}")
            try:
                answer = httpclient.get(self.capabilities, timeout=5)
                if answer.status == 200 and b"Capabilities" in answer.body:
                    return
                last = f"HTTP {answer.status}"
            except (OSError, httpclient.HTTPError) as exc:
                last = str(exc)
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer GetCapabilities within {timeout:.0f} s ({last}):\n"
                           f"{self.managed.log_tail() if self.managed else ''}")

    def stop(self) -> None:
        if self.managed is not None:
            self.managed.stop()
            self.managed = None

    @property
    def pid(self) -> int:
        assert self.managed is not None
        return self.managed.pid

    def rss(self) -> dict[str, float]:
        """RSS in MiB of the main process and of the whole process tree (workers included)."""
        return {"main": rss_mb(self.pid), "total": tree_rss_mb(self.pid)}

    def cpu(self) -> float:
        """CPU seconds used so far by the server and its workers (all threads)."""
        return tree_cpu_seconds(self.pid)

    @staticmethod
    def status_location(body: bytes) -> str | None:
        match = STATUS_LOCATION.search(body)
        return match.group(1).decode().replace("&amp;", "&") if match else None


class WpsgateServer(Server):
    name = "wpsgate"

    def __init__(self, workdir: str, workers: int = 2, mode: str = "local", python: str | None = None,
                 extra: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> None:
        super().__init__(workdir, workers)
        self.mode = mode
        self.python = python or sys.executable
        self.env = {**os.environ, **(env or {})}
        settings: dict[str, Any] = {
            "server": {"port": self.port, "bind": "127.0.0.1", "workdir": os.path.join(workdir, "work")},
            "processing": {"mode": mode, "parallelprocesses": workers, "maxqueue": 2000},
            "logging": {"level": "WARNING"},
        }
        for section, values in (extra or {}).items():
            settings.setdefault(section, {}).update(values)
        self.settings = settings
        self.config_path = os.path.join(workdir, "wpsgate.yml")
        with open(self.config_path, "w") as handle:
            yaml.safe_dump(settings, handle)

    @property
    def database(self) -> str:
        return os.path.join(self.workdir, "work", "jobs.sqlite")

    def start(self, timeout: float = 60) -> "WpsgateServer":
        self.managed = Managed(f"wpsgate-{self.mode}", [self.python, "-m", "wpsgate", "serve", "--config",
                                                         self.config_path],
                               cwd=REPO, env=self.env, log_path=os.path.join(self.workdir, "gateway.log"))
        self._wait_ready(timeout)
        return self

    def status_list(self, query: str = "") -> str:
        return f"{self.base}/status/" + (f"?{query}" if query else "")


PYWPS_CONFIG = """\
[metadata:main]
identification_title = PyWPS benchmark twin of the wpsgate demo

[server]
url = {base}/wps
outputurl = {base}/outputs
outputpath = {workdir}/outputs
workdir = {workdir}/work
temp_path = {workdir}/tmp
maxsingleinputsize = 3mb
maxrequestsize = 3mb
# the number of jobs running at once (PyWPS 4.8 reads it from [server]); more async jobs wait in its
# database queue, up to maxprocesses (as large as wpsgate's maxqueue here)
parallelprocesses = {workers}
maxprocesses = 2000
cleantempdir = true

[processing]
mode = default
parallelprocesses = {workers}

[logging]
level = WARNING
file = {workdir}/pywps.log
database = sqlite:///{workdir}/pywps-log.sqlite
"""


class PywpsServer(Server):
    name = "PyWPS"

    def __init__(self, workdir: str, venv: str, workers: int = 2) -> None:
        super().__init__(workdir, workers)
        self.venv = venv
        for sub in ("outputs", "work", "tmp"):
            os.makedirs(os.path.join(workdir, sub), exist_ok=True)
        self.config_path = os.path.join(workdir, "pywps.cfg")
        with open(self.config_path, "w") as handle:
            handle.write(PYWPS_CONFIG.format(base=self.base, workdir=workdir, workers=workers))

    def start(self, timeout: float = 60) -> "PywpsServer":
        env = {**os.environ, "BENCH_PYWPS_CFG": self.config_path}
        env.pop("PYTHONPATH", None)
        argv = [os.path.join(self.venv, "bin", "gunicorn"), "--workers", str(self.workers),
                "--bind", f"127.0.0.1:{self.port}", "--pythonpath", BENCH,
                "--log-level", "warning", "--timeout", "120", "pywps_app.wsgi:application"]
        self.managed = Managed("pywps", argv, cwd=self.workdir, env=env,
                               log_path=os.path.join(self.workdir, "gunicorn.log"))
        self._wait_ready(timeout)
        return self
