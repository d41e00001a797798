"""The deployment assets in etc/ are valid for the tools that read them, and agree with the gateway's defaults.

nginx -t runs on the shipped site (with and without the auth_request example) through a test-local nginx.conf,
with a throw-away self-signed certificate and every path in a temporary folder: nothing in /etc is read or
changed and no daemon starts.  The systemd unit is verified and its exposure rated by systemd-analyze, the
logrotate file parsed by logrotate in debug mode (which rotates nothing).
"""
import os
import re
import shutil
import subprocess

import pytest
import yaml

from wpsgate.config import ServerConfig, _size

from .schedulers import REPO

ETC = os.path.join(REPO, "etc")


def tool(name):
    path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.path.exists(p)), None)
    if path is None:
        message = f"{name} is not installed (Debian package: {'systemd' if name.startswith('systemd') else name})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def read(*parts):
    with open(os.path.join(REPO, *parts), encoding="utf-8") as handle:
        return handle.read()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run([tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=wps.example.org", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    return folder


def nginx_test(tmp_path, certificate, with_auth):
    site = read("etc", "nginx", "wpsgate.conf")
    site = site.replace("/etc/letsencrypt/live/wps.example.org/fullchain.pem", str(certificate / "cert.pem"))
    site = site.replace("/etc/letsencrypt/live/wps.example.org/privkey.pem", str(certificate / "key.pem"))
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    if with_auth:
        line = "# include /etc/nginx/snippets/wpsgate-auth.conf;"
        assert line in site
        site = site.replace(line, f"include {os.path.join(ETC, 'nginx', 'wpsgate-auth.conf')};")
    write_nginx_conf(tmp_path, site)
    return subprocess.run([tool("nginx"), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                           "-e", str(tmp_path / "error.log")], capture_output=True, text=True, timeout=60)


def write_nginx_conf(folder, site: str, main: str = "") -> None:
    """``site`` as site.conf and an nginx.conf that includes it, every path (pid, logs, temp files) in
    ``folder``, so that nginx runs as a test's own process; ``main``: more main-context directives."""
    (folder / "site.conf").write_text(site)
    temp = "\n".join(f"    {kind}_temp_path {folder}/{kind};" for kind in ("proxy", "fastcgi", "uwsgi", "scgi"))
    (folder / "nginx.conf").write_text(
        f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n{main}events {{}}\nhttp {{\n"
        f"    access_log {folder}/access.log;\n    client_body_temp_path {folder}/body;\n{temp}\n"
        f"    include {folder}/site.conf;\n}}\n")


@pytest.mark.parametrize("with_auth", [False, True], ids=["site", "site+auth_request"])
def test_nginx_accepts_the_site(tmp_path, certificate, with_auth):
    result = nginx_test(tmp_path, certificate, with_auth)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_test_fails_for_a_broken_site(tmp_path, certificate):
    """The check above can fail: the same harness refuses a site whose certificate is missing."""
    os.rename(certificate / "key.pem", certificate / "key.moved")
    try:
        result = nginx_test(tmp_path, certificate, False)
    finally:
        os.rename(certificate / "key.moved", certificate / "key.pem")
    assert result.returncode != 0 and "key.pem" in result.stderr


def test_site_body_limit_is_maxrequestsize():
    site = read("etc", "nginx", "wpsgate.conf")
    limit = re.search(r"^\s*client_max_body_size\s+(\S+);", site, re.MULTILINE).group(1)
    documented = yaml.safe_load(read("etc", "wpsgate.yml"))["server"]["maxrequestsize"]
    assert _size(limit, "nginx") == _size(documented, "yml") == ServerConfig().maxrequestsize


def test_site_streams_outputs_and_forwards_the_client():
    site = read("etc", "nginx", "wpsgate.conf")
    outputs = re.search(r"location /outputs/ \{(.*?)\}", site, re.DOTALL).group(1)
    assert "proxy_buffering off;" in outputs
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
        assert f"proxy_set_header {header} " in site
    metrics = re.search(r"location = /metrics \{(.*?)\}", site, re.DOTALL).group(1)
    assert "deny all;" in metrics


def test_systemd_unit_verifies_and_is_hardened(tmp_path):
    analyze = tool("systemd-analyze")
    unit = read("etc", "systemd", "wpsgate.service")
    # the unit names the virtualenv of docs/deployment.md; verify against one that exists here
    unit = unit.replace("/shared/wpsgate/venv/bin/wpsgate", shutil.which("wpsgate") or
                        os.path.join(os.path.dirname(os.sys.executable), "wpsgate"))
    path = tmp_path / "wpsgate.service"
    path.write_text(unit)
    verify = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
    security = subprocess.run([analyze, "security", "--offline=true", str(path)], capture_output=True, text=True,
                              timeout=60)
    level = float(re.search(r"Overall exposure level for wpsgate.service: ([0-9.]+)", security.stdout).group(1))
    assert level <= 2.0, security.stdout[-3000:]  # systemd rates 0 (best) .. 10; an unhardened service is 9.6


def test_logrotate_reads_the_file(tmp_path):
    logrotate = tool("logrotate")
    logs = tmp_path / "log"
    logs.mkdir()
    (logs / "wpsgate.log").write_text("a line\n")
    config = read("etc", "logrotate", "wpsgate").replace("/var/log/wpsgate/", f"{logs}/")
    config = config.replace("create 0640 wps wps", "create 0640 root root")
    (tmp_path / "wpsgate").write_text(config)
    result = subprocess.run([logrotate, "--debug", "--state", str(tmp_path / "state"), str(tmp_path / "wpsgate")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower(), result.stderr
    assert f"considering log {logs}/wpsgate.log" in result.stderr


def test_readme_test_command_is_what_ci_runs():
    readme = read("README.md")
    block = re.search(r"Run the test suite.*?```sh\n(.*?)```", readme, re.DOTALL).group(1).strip()
    pytest_command = re.search(r"\.venv/bin/python -m pytest [^\n&]*", block).group(0).strip()
    assert "-rs" in pytest_command  # skip reasons shown
    ci = read(".ci", "run")
    assert pytest_command in ci.splitlines(), "the README's test command and .ci/run differ"


def test_readme_xml_example_names_a_file_that_exists_and_an_xml_type():
    readme = read("README.md")
    command = next(line for line in readme.splitlines() if "--data-binary @" in line or " -d @" in line)
    assert "-H 'Content-Type: text/xml'" in command
    path = re.search(r"@(\S+)", command).group(1)
    assert os.path.isfile(os.path.join(REPO, path)), path


def test_documented_configuration_is_the_default():
    """etc/wpsgate.yml shows every key with its default value (logging.format and metrics included)."""
    from wpsgate.config import Config, load_config

    assert load_config(os.path.join(ETC, "wpsgate.yml"), environ={}) == Config()


@pytest.mark.parametrize("settings, key", [
    ({"logging": {"format": "xml"}}, "logging.format"),
    ({"metrics": {"port": 70000}}, "metrics.port"),
    ({"metrics": {"port": 5000, "bind": "127.0.0.1"}}, "metrics.port"),  # the main listener's own address
    ({"metrics": {"enabled": "yes"}}, "metrics.enabled"),
])
def test_bad_monitoring_keys_are_named(settings, key):
    from wpsgate.config import ConfigError, config_from_mapping

    with pytest.raises(ConfigError) as caught:
        config_from_mapping(settings, environ={})
    assert str(caught.value).startswith(key)
