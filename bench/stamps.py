"""The start stamps the schedulers' test jobs write: one float, the time the job's first command ran."""
from __future__ import annotations

import time


def wait_for_stamp(path: str, timeout: float = 120) -> float:
    """The time written to ``path`` once the job has started; RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as handle:
                text = handle.read().strip()
            if text:
                return float(text)
        except (OSError, ValueError):  # not there yet, or caught while being written
            pass
        time.sleep(0.005)
    raise RuntimeError(f"the scheduler's test job did not start within {timeout:.0f} s")
