"""Start a real gateway process for tests and talk to it over loopback HTTP."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import requests
import yaml
from urllib3.util.retry import Retry
from lxml import etree

NS = {"wps": "http://www.opengis.net/wps/1.0.0", "ows": "http://www.opengis.net/ows/1.1",
      "xlink": "http://www.w3.org/1999/xlink"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client_session() -> requests.Session:
    """A requests session that behaves as HTTP clients should on a reused keep-alive connection: a
    GET, HEAD or OPTIONS whose connection the server closed just as the request went out (its idle
    timeout racing the client, RFC 9112 9.3.1) is sent once more on a new connection.  Nothing else is
    retried: no POST, no status code, no redirect."""
    session = requests.Session()
    retry = Retry(total=1, connect=1, read=1, status=0, other=0, redirect=False,
                  allowed_methods=frozenset({"GET", "HEAD", "OPTIONS"}), raise_on_status=False)
    adapter = requests.adapters.HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class GatewayProcess:
    """``wpsgate serve`` in a subprocess, with its own work folder and configuration."""

    def __init__(self, workdir: str, config: dict[str, Any] | None = None, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.env = {**os.environ, **(env or {})}
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.wps = self.base + "/wps"
        settings: dict[str, Any] = {"server": {"port": self.port, "workdir": workdir},
                                    "processing": {"parallelprocesses": 2}, "logging": {"level": "INFO"}}
        for section, values in (config or {}).items():
            if isinstance(values, dict):
                settings.setdefault(section, {}).update(values)
            else:
                settings[section] = values
        os.makedirs(workdir, exist_ok=True)
        self.config_path = os.path.join(workdir, "wpsgate.yml")
        with open(self.config_path, "w") as handle:
            yaml.safe_dump(settings, handle)
        self.log_path = os.path.join(workdir, "gateway.log")
        self.process: subprocess.Popen | None = None
        self.session = client_session()

    def start(self, timeout: float = 30) -> "GatewayProcess":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "wpsgate", "serve", "--config", self.config_path],
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}:\n{self.log(5000)}")
            try:
                if self.session.get(self.wps, params={"service": "WPS", "request": "GetCapabilities"},
                                    timeout=5).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):  # bound but still starting (slow on a busy machine)
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gateway did not answer within {timeout} s:\n{self.log(5000)}")

    def log(self, tail: int | None = None) -> str:
        """The gateway's whole log, or its last ``tail`` characters (for error messages)."""
        with open(self.log_path, "rb") as handle:
            text = handle.read().decode(errors="replace")
        return text[-tail:] if tail else text

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def kill(self) -> None:
        """SIGKILL the gateway and its workers, as a crash would."""
        self.stop(signal.SIGKILL)

    # --- requests ---
    def get(self, **params: Any) -> requests.Response:
        return self.session.get(self.wps, params=params, timeout=60)

    def kvp(self, query: str) -> requests.Response:
        """GET with ``query`` sent exactly as given (requests would re-quote a broken escape)."""
        prepared = requests.Request("GET", self.wps).prepare()
        prepared.url = self.wps + "?" + query
        return self.session.send(prepared, timeout=60)

    def post(self, body: bytes | str, **kwargs: Any) -> requests.Response:
        data = body.encode() if isinstance(body, str) else body
        return self.session.post(self.wps, data=data, headers={"Content-Type": "text/xml"}, timeout=60, **kwargs)

    def execute(self, identifier: str, inputs: str = "", **params: Any) -> requests.Response:
        query = {"service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": identifier}
        if inputs:
            query["DataInputs"] = inputs
        query.update(params)
        return self.get(**query)

    def job(self, uuid: str) -> dict[str, Any]:
        """The job's record from the JSON status API."""
        return self.session.get(f"{self.base}/status/{uuid}", timeout=10).json()

    def wait_final(self, status_location: str, timeout: float = 60) -> etree._Element:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            document = etree.fromstring(self.session.get(status_location, timeout=10).content)
            if document.find("wps:Status/wps:ProcessSucceeded", NS) is not None or \
                    document.find("wps:Status/wps:ProcessFailed", NS) is not None:
                return document
            time.sleep(0.1)
        raise AssertionError(f"job at {status_location} did not finish within {timeout} s")


def wait_for(predicate: Any, timeout: float, message: str) -> Any:
    """Poll ``predicate`` until it returns something true (returned), or fail with ``message``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(message)


def status_of(document: etree._Element) -> str:
    """ProcessAccepted, ProcessStarted, ProcessSucceeded or ProcessFailed."""
    return etree.QName(document.find("wps:Status", NS)[0]).localname


def failure_text(document: etree._Element) -> str:
    return document.findtext("wps:Status/wps:ProcessFailed/ows:ExceptionReport/ows:Exception/ows:ExceptionText",
                             namespaces=NS) or ""


def uuid_of(status_location: str) -> str:
    return status_location.rsplit("/", 1)[1][:-4]


def exception_of(response: requests.Response) -> tuple[str, str | None, str]:
    """(exceptionCode, locator, text) of an ExceptionReport answer."""
    root = etree.fromstring(response.content)
    assert root.tag == "{http://www.opengis.net/ows/1.1}ExceptionReport", response.text[:500]
    item = root.find("ows:Exception", NS)
    return item.get("exceptionCode"), item.get("locator"), "".join(item.itertext()).strip()


def literal_outputs(document: etree._Element) -> dict[str, str]:
    return {o.findtext("ows:Identifier", namespaces=NS): o.findtext("wps:Data/wps:LiteralData", namespaces=NS)
            for o in document.iterfind("wps:ProcessOutputs/wps:Output", NS)}
