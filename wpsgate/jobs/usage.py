"""What one job cost: CPU seconds and peak memory, measured where its handler runs.

``UsageMeter`` is started and read by ``runner.run_job``, the code every backend runs (a local
worker, the joblauncher on a compute node), so the final record (``result.json``) and the job
row carry the same figures whatever ran the job.

A local worker runs many jobs one after the other, so the figures are differences: CPU time
(user + system) of the process and of the child processes it waited for, from
``resource.getrusage``.  Peak memory: the process's high-water mark (VmHWM) is reset when the job
starts (``/proc/self/clear_refs``, Linux), so it is the job's own; where that cannot be done, the
process's lifetime peak (``ru_maxrss``) is used.  A child's peak counts when it is larger than
any child's before the job (getrusage keeps only the largest).
"""
from __future__ import annotations

import resource
from dataclasses import dataclass


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets the peak resident set size to the current one
        return True
    except OSError:
        return False


def _peak_kb() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class UsageMeter:
    own: resource.struct_rusage
    children: resource.struct_rusage
    peak_reset: bool

    @classmethod
    def start(cls) -> "UsageMeter":
        return cls(resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN),
                   _reset_peak())

    def read(self) -> tuple[float, float]:
        """(CPU seconds, peak memory in MB) of the job since ``start``."""
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = max(0.0, _cpu(own) - _cpu(self.own)) + max(0.0, _cpu(children) - _cpu(self.children))
        peak = (_peak_kb() if self.peak_reset else None) or own.ru_maxrss
        if children.ru_maxrss > self.children.ru_maxrss:
            peak = max(peak, children.ru_maxrss)
        return round(cpu, 3), round(peak / 1024.0, 1)
