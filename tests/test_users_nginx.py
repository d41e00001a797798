"""The shipped nginx site in front of a header-mode gateway: the identity header reaching the gateway is
always nginx's (from the auth_request service, or none), never the one a client sent.

A test-local nginx (every path in a temporary folder, loopback ports, no daemon) runs the shipped site
and auth_request snippet, with a loopback stand-in for the authentication service that names "alice"."""
from __future__ import annotations

import http.server
import subprocess
import time

import pytest
import requests

from .gateway import GatewayProcess, free_port
from .loopback import loopback_server
from .test_deployment_assets import certificate, read, tool, write_nginx_conf  # noqa: F401 - certificate is a fixture

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # a throw-away cert
ROOT = {"X-Remote-User": "root"}


class NamesAlice(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("X-Auth-Request-User", "alice")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    process = GatewayProcess(str(tmp_path_factory.mktemp("users-nginx")), {"auth": {
        "mode": "header", "trusted_proxies": ["127.0.0.1/32"], "admins": ["root"]}}).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def auth_service():
    with loopback_server(NamesAlice) as server:
        yield server.url + "/oauth2/auth"


def nginx_in_front(folder, certificate, gateway: GatewayProcess, auth_url: str | None):
    """Start nginx with the shipped site (and the auth snippet when ``auth_url``); returns (process, https base)."""
    port = free_port()
    site = read("etc", "nginx", "wpsgate.conf")
    site = site.replace("server 127.0.0.1:5000;", f"server 127.0.0.1:{gateway.port};")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{free_port()};").replace("listen [::]:80;", "")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl;").replace(
        "listen [::]:443 ssl http2;", "")
    site = site.replace("/etc/letsencrypt/live/wps.example.org/fullchain.pem", str(certificate / "cert.pem"))
    site = site.replace("/etc/letsencrypt/live/wps.example.org/privkey.pem", str(certificate / "key.pem"))
    site = site.replace("/var/log/nginx/", f"{folder}/")
    if auth_url:
        snippet = read("etc", "nginx", "wpsgate-auth.conf").replace("http://127.0.0.1:4180/oauth2/auth", auth_url)
        (folder / "auth.conf").write_text(snippet)
        site = site.replace("# include /etc/nginx/snippets/wpsgate-auth.conf;", f"include {folder}/auth.conf;")
    write_nginx_conf(folder, site, main="daemon off;\nmaster_process off;\n")
    process = subprocess.Popen([tool("nginx"), "-p", str(folder), "-c", str(folder / "nginx.conf"),
                                "-e", str(folder / "error.log")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            requests.get(base + "/health/live", verify=False, timeout=5)
            return process, base
        except requests.ConnectionError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"nginx did not start: {(folder / 'error.log').read_text()[-2000:]}")


def test_a_client_cannot_pass_its_own_identity_header_through_nginx(tmp_path, certificate, gateway):
    nginx, base = nginx_in_front(tmp_path, certificate, gateway, None)
    try:
        response = requests.get(base + "/status/", headers=ROOT, verify=False, timeout=30)
        assert response.status_code == 401, response.text[:300]  # the gateway heard no identity
    finally:
        nginx.terminate()
        nginx.wait(10)


def test_with_auth_request_the_user_is_whom_the_service_names(tmp_path, certificate, gateway, auth_service):
    nginx, base = nginx_in_front(tmp_path, certificate, gateway, auth_service)
    try:
        accepted = requests.get(base + "/wps", headers=ROOT, verify=False, timeout=30, params={
            "service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": "hello",
            "DataInputs": "name=x", "storeExecuteResponse": "true"})
        assert accepted.status_code == 200, accepted.text[:300]
        listed = requests.get(f"{gateway.base}/status/", headers=ROOT, timeout=30).json()["jobs"]
        assert [job["owner"] for job in listed] == ["alice"]  # not root, whom the client named
    finally:
        nginx.terminate()
        nginx.wait(10)
