"""``wpsgate config from-pywps``: a PyWPS deployment's pywps.cfg becomes a wpsgate configuration that starts,
and every key without an equivalent is named."""
from __future__ import annotations

import subprocess
import sys

from wpsgate.config import load_config
from wpsgate.pywps_config import convert

PYWPS_CFG = """
[server]
url = http://wps.example.org:5000/wps
outputurl = http://wps.example.org:5000/outputs/
outputpath = /var/lib/pywps/outputs
workdir = /var/lib/pywps/work
maxsingleinputsize = 200mb
maxrequestsize = 10mb
allowedinputpaths = /data:/scratch
language = en-US,fr-CA
parallelprocesses = 4
maxprocesses = 50

[processing]
mode = scheduler
drmaa_native_specification = --partition=short

[logging]
level = info
database = postgresql://pywps@db/pywps
format = %(message)s

[metadata:main]
identification_title = Example WPS
identification_keywords = WPS, climate
"""


def test_the_keys_pywps_deployments_use_are_mapped():
    config, notes = convert(PYWPS_CFG)
    assert config["server"] == {"url": "http://wps.example.org:5000", "workdir": "/var/lib/pywps/work",
                                "maxsingleinputsize": "200mb", "maxrequestsize": "10mb",
                                "allowedinputpaths": ["/data", "/scratch"]}
    assert config["metadata"] == {"languages": ["en-US", "fr-CA"], "title": "Example WPS",
                                  "keywords": ["WPS", "climate"]}
    assert config["processing"] == {"parallelprocesses": 4, "maxqueue": 50, "mode": "drmaa"}
    assert config["scheduler"] == {"native": "--partition=short"}
    assert config["database"] == {"url": "postgresql://pywps@db/pywps"}
    assert config["logging"] == {"level": "INFO"}
    said = "\n".join(notes)
    for key in ("outputurl", "outputpath", "format", "mode = scheduler"):
        assert key in said
    loaded = load_config(None, overrides=config)
    assert loaded.server.maxsingleinputsize == 200 * 1024 * 1024 and loaded.metadata.languages == ("en-US", "fr-CA")


def test_the_command_writes_yaml_that_starts_and_refuses_a_bad_value(tmp_path):
    source = tmp_path / "pywps.cfg"
    source.write_text(PYWPS_CFG)
    target = tmp_path / "wpsgate.yml"
    done = subprocess.run([sys.executable, "-m", "wpsgate", "config", "from-pywps", str(source), "-o", str(target)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "outputurl" in done.stderr
    assert load_config(str(target)).processing.mode == "drmaa"
    source.write_text("[server]\nmaxsingleinputsize = lots\nunknownkey = 1\n")
    done = subprocess.run([sys.executable, "-m", "wpsgate", "config", "from-pywps", str(source)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "maxsingleinputsize" in done.stderr
