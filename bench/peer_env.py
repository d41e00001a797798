"""A peer's own virtualenv (PyWPS, pygeoapi): created on first use from its pinned requirements, reused after.

Each peer runs in a virtualenv of its own so that its dependencies never meet wpsgate's; the
pins in ``bench/<peer>-requirements.txt`` make two runs of the benchmark compare the same thing.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

BENCH = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class PeerEnv:
    """Where a peer's virtualenv lives and what must be in it."""

    package: str  # the distribution whose version is reported, e.g. "pywps"
    label: str  # how the log names it, e.g. "PyWPS"
    requirements: str  # the pinned requirements file
    default_venv: str
    venv_variable: str  # the environment variable that may name another virtualenv

    def _installed_versions(self, venv: str) -> dict[str, str] | None:
        python = os.path.join(venv, "bin", "python")
        if not os.path.exists(python) or not os.path.exists(os.path.join(venv, "bin", "gunicorn")):
            return None
        code = ("import importlib.metadata as m, sys; "
                f"print(m.version({self.package!r}), m.version('gunicorn'), sys.version.split()[0])")
        result = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            return None
        peer, gunicorn, python_version = result.stdout.split()
        return {self.package: peer, "gunicorn": gunicorn, "python": python_version}

    def _wanted(self) -> dict[str, str]:
        wanted = {}
        with open(self.requirements) as handle:
            for line in handle:
                line = line.split("#")[0].strip()
                if "==" in line:
                    name, version = line.split("==")
                    wanted[name.strip().lower()] = version.strip()
        return wanted

    def ensure(self, venv: str | None = None, log=print) -> tuple[str, dict[str, str]]:
        """The virtualenv's path and the versions in it, installing the peer when missing or of another version."""
        venv = venv or os.environ.get(self.venv_variable) or self.default_venv
        versions = self._installed_versions(venv)
        if versions and all(versions.get(name) == version for name, version in self._wanted().items()):
            return venv, versions
        log(f"installing {self.label} into {venv} (pip, from {os.path.relpath(self.requirements)}) ...")
        if not os.path.exists(os.path.join(venv, "bin", "python")):
            python3 = getattr(sys, "_base_executable", None) or sys.executable  # the interpreter wpsgate runs on
            subprocess.run([python3, "-m", "venv", venv], check=True, timeout=300)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
                        "-r", self.requirements], check=True, timeout=900)
        versions = self._installed_versions(venv)
        if not versions:
            raise RuntimeError(f"{self.label} could not be installed into {venv}")
        return venv, versions


PYWPS = PeerEnv("pywps", "PyWPS", os.path.join(BENCH, "pywps-requirements.txt"),
                os.path.join(BENCH, ".venv-pywps"), "BENCH_PYWPS_VENV")
PYGEOAPI = PeerEnv("pygeoapi", "pygeoapi", os.path.join(BENCH, "pygeoapi-requirements.txt"),
                   os.path.join(BENCH, ".venv-pygeoapi"), "BENCH_PYGEOAPI_VENV")
