"""Find the real schedulers that slurm-demo/start-all.sh starts; fail in CI when one is missing."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gridengine_env() -> dict[str, str]:
    """The environment in slurm-demo/gridengine.env (its export lines)."""
    env = {}
    with open(os.path.join(REPO, "slurm-demo", "gridengine.env")) as handle:
        for line in handle:
            line = line.strip()
            if line.startswith("export ") and "=" in line:
                name, _, value = line[len("export "):].partition("=")
                env[name] = value.strip("'\"")
    return env


def _check(name: str) -> str | None:
    """None when the scheduler answers, else why not."""
    if name == "slurm":
        if not shutil.which("sinfo"):
            return "sinfo is not installed"
        result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
        if result.returncode != 0 or not any(s.startswith(("idle", "mix", "alloc")) for s in result.stdout.split()):
            return f"sinfo says {result.stdout.strip() or result.stderr.strip()}"
        return None
    env = {**os.environ, **gridengine_env()}
    if not shutil.which("qstat"):
        return "qstat is not installed"
    if not os.path.exists(env["DRMAA_LIBRARY_PATH"]):
        return f"no DRMAA library at {env['DRMAA_LIBRARY_PATH']}"
    result = subprocess.run(["qstat", "-f"], capture_output=True, text=True, timeout=20, env=env)
    if result.returncode != 0 or "all.q@" not in result.stdout:
        return f"qstat -f says {result.stdout.strip() or result.stderr.strip()}"
    if any(line.split()[-1] in ("u", "au", "E", "d") for line in result.stdout.splitlines()
           if line.startswith("all.q@") and len(line.split()) > 5):
        return "the execution host is not available (queue state u/E/d)"
    return None


def require(name: str) -> None:
    """Skip outside CI, fail in CI, when the scheduler ``name`` (slurm or gridengine) is not running."""
    problem = _check(name)
    if problem is None:
        return
    message = f"{name} is not running ({problem}); start it with: bash slurm-demo/start-all.sh"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
