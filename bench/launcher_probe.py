"""Run one job folder with the real joblauncher code, timing each of its steps (run by bench.launcher).

``python bench/launcher_probe.py --key KEY JOB_FOLDER`` does what ``python -m
joblauncher --key KEY JOB_FOLDER`` does (it calls ``joblauncher.launch.run_folder``),
with timers wrapped around the functions it calls, and prints them as JSON.
"""
import time

T0 = time.perf_counter()

import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from collections import defaultdict  # noqa: E402

T_STDLIB = time.perf_counter()
import dill  # noqa: E402  (run_folder imports it to load the job)
import joblauncher.cli  # noqa: E402  (what python -m joblauncher imports)
from joblauncher import launch  # noqa: E402
from wpsgate.jobs.folder import JobFolder  # noqa: E402

LOADED = (dill, joblauncher.cli)

T_IMPORTS = time.perf_counter()

timers: dict = defaultdict(float)
depth = {"run_job": 0}


def timed(name, function):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        inside = name == "run_job"
        if inside:
            depth["run_job"] += 1
        try:
            return function(*args, **kwargs)
        finally:
            if inside:
                depth["run_job"] -= 1
            elapsed = time.perf_counter() - started
            timers[name] += elapsed
            if name == "result_write" and depth["run_job"]:
                timers["result_write_in_run_job"] += elapsed
    return wrapper


launch.read_key = timed("key", launch.read_key)
launch.load_record = timed("verify", launch.load_record)
launch.load_job = timed("load", launch.load_job)
launch.run_job = timed("run_job", launch.run_job)
JobFolder.write_status = timed("status_writes", JobFolder.write_status)
JobFolder.write_final = timed("result_write", JobFolder.write_final)


def main() -> int:
    key, folder = sys.argv[2], sys.argv[3]
    assert sys.argv[1] == "--key"
    started = time.perf_counter()
    code = launch.run_folder(folder, key, log=io.StringIO())
    ended = time.perf_counter()
    print(json.dumps({
        "exit": code, "stdlib_imports": T_STDLIB - T0, "imports": T_IMPORTS - T_STDLIB,
        "run_folder": ended - started, **timers, "wall_end": time.time(),
    }))
    return code


if __name__ == "__main__":
    sys.exit(main())
