"""What the run ran on: date, kernel, CPU, memory, Python versions, load, and the other users of the CPU."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _memory_gib() -> float:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2 ** 20
    except OSError:
        pass
    return float("nan")


def _debian() -> str:
    try:
        with open("/etc/os-release") as handle:
            for line in handle:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "?"


def loadavg() -> tuple[float, float, float]:
    with open("/proc/loadavg") as handle:
        one, five, fifteen = handle.read().split()[:3]
    return float(one), float(five), float(fifteen)


def busy_cores() -> float:
    """Cores busy over the last half second, by anyone (0..nproc)."""
    import time

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
        return sum(fields[:8]), fields[3] + fields[4]

    total1, idle1 = sample()
    time.sleep(0.5)
    total2, idle2 = sample()
    cores = os.cpu_count() or 1
    return cores * (1 - (idle2 - idle1) / max(1, total2 - total1))


def speed(folder: str) -> str:
    """How fast this machine is right now, in three plain probes that no wpsgate code takes part in.

    The absolute-time targets depend on the machine: these figures let two runs on different days
    (or a run and the machine's usual self) be compared before their wpsgate figures are."""
    import time

    def per_call(function, count: int) -> float:
        started = time.perf_counter()
        for index in range(count):
            function(index)
        return (time.perf_counter() - started) / count

    def python_loop(_index: int) -> None:
        total = 0
        for value in range(1_000_000):
            total += value

    def directory(index: int) -> None:
        path = os.path.join(folder, f"probe-{index}")
        os.mkdir(path)
        os.rmdir(path)

    def replace(index: int) -> None:
        path = os.path.join(folder, f"probe-{index}.tmp")
        with open(path, "wb") as handle:
            handle.write(b"x" * 3000)
        os.replace(path, os.path.join(folder, "probe"))

    loop = min(per_call(python_loop, 3) for _ in range(3))
    mkdir = min(per_call(directory, 200) for _ in range(3))
    write = min(per_call(replace, 200) for _ in range(3))
    os.unlink(os.path.join(folder, "probe"))
    return (f"1 M Python additions {loop * 1000:.0f} ms; mkdir + rmdir {mkdir * 1e6:.0f} µs; a 3 kB file written "
            f"and renamed {write * 1e6:.0f} µs (best of three, in the work folder)")


def _version(name: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def foreign_pytest() -> int:
    """How many pytest processes (someone else's test suite) are running now."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                words = handle.read().split(b"\0")
        except OSError:
            continue
        if any(w.endswith(b"pytest") or w == b"pytest" for w in words[:4]):
            count += 1
    return count


def describe(python: str, pywps_versions: dict[str, str]) -> dict[str, str]:
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "wpsgate", "joblauncher"], capture_output=True,
                           text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "uname": subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip(),
        "os": _debian(),
        "cpu": f"{_cpu_model()}, {os.cpu_count()} cores",
        "memory": f"{_memory_gib():.0f} GiB",
        "python_wpsgate": platform.python_version() + f" ({python})",
        "python_pywps": pywps_versions.get("python", "?"),
        "pywps": pywps_versions.get("pywps", "?"),
        "gunicorn": pywps_versions.get("gunicorn", "?"),
        "wpsgate_libraries": ", ".join(f"{name} {_version(name)}" for name in ("tornado", "lxml", "SQLAlchemy", "dill")),
        "commit": (git.stdout.strip() or "?") + (" with uncommitted changes in wpsgate/ or joblauncher/"
                                                  if dirty.stdout.strip() else ""),
    }
