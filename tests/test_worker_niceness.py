"""The local pool's workers run at a lower CPU priority than the gateway (processing.worker_niceness)."""
from __future__ import annotations

import os

import pytest

from wpsgate.config import ConfigError, load_config


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _nice(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[16])


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read().replace(b"\0", b" ").decode()


@pytest.mark.parametrize("niceness", [0, 7])
def test_workers_run_with_the_configured_niceness(fresh_gateway, niceness):
    gateway = fresh_gateway({"processing": {"parallelprocesses": 2, "worker_niceness": niceness}})
    workers = [pid for pid in _children(gateway.process.pid) if "spawn_main" in _cmdline(pid)]
    assert len(workers) == 2
    base = _nice(gateway.process.pid)
    assert [_nice(pid) - base for pid in workers] == [niceness, niceness]
    response = gateway.execute("hello", "name=nice")  # and they still run jobs
    assert b"Hello nice" in response.content


def test_niceness_out_of_range_is_refused():
    with pytest.raises(ConfigError, match="worker_niceness"):
        load_config(None, overrides={"processing": {"worker_niceness": 25}})
