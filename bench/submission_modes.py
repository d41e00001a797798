"""How fast can N jobs be handed to each scheduler?  The figures behind the submitter's choice.

``python -m bench.submission_modes [--count N]`` submits N tiny held jobs (they never run: the
shared demo schedulers stay free for others) in each way a gateway could, then cancels them:

- Slurm: one ``sbatch`` after another; 4 and 8 ``sbatch`` in flight at once; one ``sbatch --array``
  over a manifest (one command for N jobs, each task reading its folder from line
  ``$SLURM_ARRAY_TASK_ID`` of the manifest).
- Grid Engine through DRMAA: ``runJob`` one after another in one session; ``runBulkJobs`` (one call for N
  tasks, each reading its folder from ``$SGE_TASK_ID``).

Prints jobs per second and scheduler calls per job for each, as JSON lines.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests.demo_schedulers import gridengine_env, scheduler_problem  # noqa: E402


def _sbatch(args: list[str]) -> str:
    out = subprocess.run(["sbatch", "--parsable", "--hold", "--export=NONE", "-o", "/dev/null", *args],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip().split(";")[0]


def slurm(count: int, folder: str) -> list[dict]:
    figures = []
    wrap = ["--wrap", "true"]

    def timed(name: str, work, calls: int) -> None:
        started = time.monotonic()
        ids = work()
        elapsed = time.monotonic() - started
        subprocess.run(["scancel", *ids], capture_output=True, timeout=120)
        figures.append({"scheduler": "slurm", "mode": name, "jobs": count, "seconds": round(elapsed, 3),
                        "jobs_per_s": round(count / elapsed, 1), "commands": calls})

    timed("sbatch one after another", lambda: [_sbatch([f"--job-name=b-{i}", *wrap]) for i in range(count)], count)
    for in_flight in (4, 8):
        with ThreadPoolExecutor(in_flight) as pool:
            timed(f"sbatch, {in_flight} in flight",
                  lambda: list(pool.map(lambda i: _sbatch([f"--job-name=b-{i}", *wrap]), range(count))), count)
    manifest = os.path.join(folder, "manifest")
    with open(manifest, "w") as handle:
        handle.writelines(f"{folder}/job-{i}\n" for i in range(count))
    script = f'folder=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {manifest}); echo "$folder"'
    timed("sbatch --array over a manifest",
          lambda: [_sbatch([f"--array=0-{count - 1}", "--job-name=b-array", "--wrap", script])], 1)
    return figures


def drmaa(count: int, folder: str) -> list[dict]:
    os.environ.update(gridengine_env())
    import drmaa as _drmaa

    figures = []
    with _drmaa.Session() as session:
        template = session.createJobTemplate()
        template.remoteCommand = "/bin/true"
        template.nativeSpecification = "-h"
        template.outputPath = ":/dev/null"
        template.joinFiles = True

        def timed(name: str, work, calls: int) -> None:
            started = time.monotonic()
            ids = work()
            elapsed = time.monotonic() - started
            for job_id in ids:
                try:
                    session.control(job_id, _drmaa.JobControlAction.TERMINATE)
                except _drmaa.errors.DrmaaException:
                    pass
            figures.append({"scheduler": "gridengine", "mode": name, "jobs": count, "seconds": round(elapsed, 3),
                            "jobs_per_s": round(count / elapsed, 1), "calls": calls})

        timed("DRMAA runJob one after another", lambda: [session.runJob(template) for _ in range(count)], count)
        timed("DRMAA runBulkJobs", lambda: list(session.runBulkJobs(template, 1, count, 1)), 1)
        session.deleteJobTemplate(template)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name, measure in (("slurm", slurm), ("gridengine", drmaa)):
            problem = scheduler_problem(name)
            if problem:
                print(json.dumps({"scheduler": name, "skipped": problem}))
                continue
            for figure in measure(args.count, folder):
                print(json.dumps(figure), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
