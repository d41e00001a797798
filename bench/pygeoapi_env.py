"""pygeoapi's own virtualenv: created on first use from bench/pygeoapi-requirements.txt, reused after."""
from __future__ import annotations

import os
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
REQUIREMENTS = os.path.join(BENCH, "pygeoapi-requirements.txt")
DEFAULT_VENV = os.path.join(BENCH, ".venv-pygeoapi")


def _installed_versions(venv: str) -> dict[str, str] | None:
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python) or not os.path.exists(os.path.join(venv, "bin", "gunicorn")):
        return None
    code = "import importlib.metadata as m; print(m.version('pygeoapi'), m.version('gunicorn'))"
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return None
    pygeoapi, gunicorn = result.stdout.split()
    return {"pygeoapi": pygeoapi, "gunicorn": gunicorn}


def _wanted() -> dict[str, str]:
    wanted = {}
    with open(REQUIREMENTS) as handle:
        for line in handle:
            line = line.split("#")[0].strip()
            if "==" in line:
                name, version = line.split("==")
                wanted[name.strip().lower()] = version.strip()
    return wanted


def ensure(venv: str | None = None, log=print) -> tuple[str, dict[str, str]]:
    """The virtualenv's path and the versions in it, installing pygeoapi when missing or of another version."""
    venv = venv or os.environ.get("BENCH_PYGEOAPI_VENV") or DEFAULT_VENV
    versions = _installed_versions(venv)
    if versions and all(versions.get(name) == version for name, version in _wanted().items()):
        return venv, versions
    log(f"installing pygeoapi into {venv} (pip, from {os.path.relpath(REQUIREMENTS)}) ...")
    if not os.path.exists(os.path.join(venv, "bin", "python")):
        python3 = getattr(sys, "_base_executable", None) or sys.executable
        subprocess.run([python3, "-m", "venv", venv], check=True, timeout=300)
    subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
                    "-r", REQUIREMENTS], check=True, timeout=900)
    versions = _installed_versions(venv)
    if not versions:
        raise RuntimeError(f"pygeoapi could not be installed into {venv}")
    return venv, versions
