"""PyWPS's own virtualenv: created on first use from bench/pywps-requirements.txt, reused after."""
from __future__ import annotations

import os
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
REQUIREMENTS = os.path.join(BENCH, "pywps-requirements.txt")
DEFAULT_VENV = os.path.join(BENCH, ".venv-pywps")


def _installed_versions(venv: str) -> dict[str, str] | None:
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python) or not os.path.exists(os.path.join(venv, "bin", "gunicorn")):
        return None
    code = ("import importlib.metadata as m, sys; "
            "print(m.version('pywps'), m.version('gunicorn'), sys.version.split()[0])")
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return None
    pywps, gunicorn, python_version = result.stdout.split()
    return {"pywps": pywps, "gunicorn": gunicorn, "python": python_version}


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
    """The virtualenv's path and the versions in it, installing PyWPS when missing or of another version."""
    venv = venv or os.environ.get("BENCH_PYWPS_VENV") or DEFAULT_VENV
    versions = _installed_versions(venv)
    wanted = _wanted()
    if versions and all(versions.get(name) == version for name, version in wanted.items()):
        return venv, versions
    log(f"installing PyWPS into {venv} (pip, from {os.path.relpath(REQUIREMENTS)}) ...")
    if not os.path.exists(os.path.join(venv, "bin", "python")):
        python3 = getattr(sys, "_base_executable", None) or sys.executable  # the interpreter wpsgate runs on
        subprocess.run([python3, "-m", "venv", venv], check=True, timeout=300)
    subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
                    "-r", REQUIREMENTS], check=True, timeout=600)
    versions = _installed_versions(venv)
    if not versions:
        raise RuntimeError(f"PyWPS could not be installed into {venv}")
    return venv, versions
