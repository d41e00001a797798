"""Clients against `wpsgate serve`: OWSLib's owslib.ogcapi.processes, and the job dashboard in headless Chromium.

One gateway for the module.  The Chromium test needs Debian's ``chromium`` (skipped with a message
where it is missing).
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import time

import pytest
import requests
from tornado.websocket import websocket_connect

from .gateway import GatewayProcess, wait_for
from .ogcapi_helpers import wait_status
from .ogcapi_schemas import assert_valid


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    gateway = GatewayProcess(str(tmp_path_factory.mktemp("ogcapi-clients")),
                             {"processing": {"parallelprocesses": 2}}).start()
    yield gateway
    gateway.stop()


def test_owslib_lists_describes_and_executes(api):
    from owslib.ogcapi.processes import Processes
    client = Processes(api.base)
    assert "hello" in [p["id"] for p in client.processes()]
    description = client.process("hello")
    assert description["inputs"]["name"]["schema"] == {"type": "string"}
    results = client.execute("hello", inputs={"name": "OWSLib"}, response="document")
    assert assert_valid(results, "results") == {"output": "Hello OWSLib"}
    accepted = client.execute("hello", inputs={"name": "later"}, async_=True)
    assert assert_valid(accepted, "statusInfo")["status"] == "accepted"
    location = client.response_headers["Location"]
    assert wait_status(requests.Session(), location, ("successful",))["jobID"] == accepted["jobID"]
    assert requests.get(location + "/results", timeout=10).json() == {"output": "Hello later"}


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """Headless Chromium driven over the DevTools protocol (Tornado's websocket client): load, evaluate, screenshot."""

    def __init__(self, executable: str, profile: str) -> None:
        self.process = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--disable-background-networking", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.socket = None
        self.loop: asyncio.AbstractEventLoop | None = None
        try:
            self._connect(profile)
        except BaseException:  # never leave a browser running behind a failed start
            self.close()
            raise
        self.next_id = 0

    def _connect(self, profile: str) -> None:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + 60
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(open(port_file).read().split()[0])
        pages = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        self.target = next(p["webSocketDebuggerUrl"] for p in pages if p.get("type") == "page")
        self.loop = asyncio.new_event_loop()

        async def connect():
            return await websocket_connect(self.target, max_message_size=64 << 20)
        self.socket = self.loop.run_until_complete(connect())

    def call(self, method: str, **params) -> dict:
        async def exchange() -> dict:
            self.next_id += 1
            await self.socket.write_message(json.dumps({"id": self.next_id, "method": method, "params": params}))
            while True:
                message = await asyncio.wait_for(self.socket.read_message(), 30)
                if message is None:
                    raise RuntimeError("chromium closed the DevTools connection")
                data = json.loads(message)
                if data.get("id") == self.next_id:
                    return data.get("result", {})
        return self.loop.run_until_complete(exchange())

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        finally:
            if self.socket is not None and self.loop is not None:
                socket, self.socket = self.socket, None

                async def shut() -> None:  # Tornado's websocket closes on its own loop
                    socket.close()
                try:
                    self.loop.run_until_complete(shut())
                except Exception:
                    pass  # the browser is gone already
            if self.loop is not None:
                self.loop.close()
                self.loop = None


ROW_STATUS = 'var r = document.querySelector(\'tr[data-job="%s"] td.status\'); r ? r.textContent : null'


def test_job_dashboard_shows_live_status_in_headless_chromium(api, tmp_path):
    """The page is loaded while a job runs; the job is dismissed; the page, not reloaded, shows it dismissed."""
    executable = chromium()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium) for the dashboard test")
    accepted = requests.post(f"{api.base}/processes/sleep/execution", json={"inputs": {"delay": 20}},
                             headers={"Prefer": "respond-async"}, timeout=30)
    job_id = accepted.json()["jobID"]
    wait_status(requests.Session(), accepted.headers["Location"], ("running",))
    browser = Browser(executable, str(tmp_path / "profile"))
    try:
        browser.call("Page.enable")
        browser.call("Page.navigate", url=f"{api.base}/jobs?f=html&processID=sleep")
        wait_for(lambda: browser.evaluate(ROW_STATUS % job_id) == "running", 30, "the page never showed the job running")
        assert requests.delete(accepted.headers["Location"], timeout=30).json()["status"] == "dismissed"
        wait_for(lambda: browser.evaluate(ROW_STATUS % job_id) == "dismissed", 30,
                 "the page did not show the job dismissed")  # the live status: no reload happened
        assert browser.evaluate("document.getElementById('updated').textContent") != "at load"
        assert browser.evaluate("document.querySelectorAll('script').length") == 1
        shot = browser.call("Page.captureScreenshot", format="png")["data"]
        (tmp_path / "dashboard.png").write_bytes(base64.b64decode(shot))
        if os.environ.get("WPSGATE_KEEP_SCREENSHOT"):
            shutil.copy(tmp_path / "dashboard.png", os.environ["WPSGATE_KEEP_SCREENSHOT"])
    finally:
        browser.close()
