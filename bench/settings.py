"""How much each measurement does: the full run (make bench) and the quick one (--quick)."""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Settings:
    rounds: int = 3               # A B A B ...: rounds per figure, each server once per round
    seconds: float = 5.0          # one throughput measurement (wrk -d)
    connections: int = 32
    workers: int = 2              # wpsgate parallelprocesses = gunicorn workers = PyWPS parallelprocesses
    sync_count: int = 300         # sync Execute hello requests per round (at most sync_seconds)
    sync_seconds: float = 6.0
    accept_count: int = 150       # async Execute submissions per round (at most accept_seconds)
    accept_seconds: float = 8.0
    e2e_count: int = 8            # ultimate_question jobs per round and server, local backend
    sched_count: int = 6          # jobs per round on a scheduler (each: one bare, one through wpsgate)
    sched_rounds: int = 3
    burst_count: int = 1000       # async submissions in one burst
    burst_concurrency: int = 8
    burst_rounds: int = 2
    status_jobs: int = 100_000    # jobs in the store for the /status/ page and the memory figure
    status_count: int = 200       # /status/ requests per round
    launcher_runs: int = 10       # joblauncher runs (and bare interpreter starts) for the overhead breakdown
    budget_seconds: float = 20 * 60  # phases that would start after this are skipped, and say so
    quick: bool = False


FULL = Settings()
QUICK = replace(FULL, rounds=2, seconds=2.0, sync_count=100, sync_seconds=3.0, accept_count=50,
                accept_seconds=4.0, e2e_count=4, sched_count=3, sched_rounds=2, burst_count=1000,
                burst_rounds=1, status_count=60, launcher_runs=5, budget_seconds=6 * 60, quick=True)
