"""The single-node Slurm and Grid Engine that slurm-demo/start-all.sh starts: are they taking jobs?

Free of pytest, so that the benchmark harness (bench/) asks the same questions as the test suite.
"""
from __future__ import annotations

import os
import shutil
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gridengine_env() -> dict[str, str]:
    """The environment in slurm-demo/gridengine.env (its export lines); empty when the file is missing."""
    env: dict[str, str] = {}
    path = os.path.join(REPO, "slurm-demo", "gridengine.env")
    if not os.path.exists(path):
        return env
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if line.startswith("export ") and "=" in line:
                name, _, value = line[len("export "):].partition("=")
                env[name] = value.strip("'\"")
    return env


def scheduler_problem(name: str) -> str | None:
    """None when the scheduler ``name`` (slurm or gridengine) takes jobs, else why not.

    A scheduler command that cannot be run or hangs raises OSError or TimeoutExpired.
    """
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
    library = env.get("DRMAA_LIBRARY_PATH", "")
    if not os.path.exists(library):
        return f"no DRMAA library at {library!r}"
    result = subprocess.run(["qstat", "-f"], capture_output=True, text=True, timeout=20, env=env)
    if result.returncode != 0 or "all.q@" not in result.stdout:
        return f"qstat -f says {result.stdout.strip() or result.stderr.strip()}"
    if any(line.split()[-1] in ("u", "au", "E", "d") for line in result.stdout.splitlines()
           if line.startswith("all.q@") and len(line.split()) > 5):
        return "the execution host is not available (queue state u/E/d)"
    return None
