"""Find the real schedulers that slurm-demo/start-all.sh starts; fail in CI when one is missing."""
from __future__ import annotations

import os

import pytest

from .demo_schedulers import REPO, gridengine_env, scheduler_problem

__all__ = ["REPO", "gridengine_env", "require"]


def require(name: str) -> None:
    """Skip outside CI, fail in CI, when the scheduler ``name`` (slurm or gridengine) is not running."""
    problem = scheduler_problem(name)
    if problem is None:
        return
    message = f"{name} is not running ({problem}); start it with: bash slurm-demo/start-all.sh"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
