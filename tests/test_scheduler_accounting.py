"""Scheduler jobs carry their user: on the real Slurm and Grid Engine of slurm-demo/start-all.sh.

Jobs of two users accepted together go to separate arrays, each array's name ends with its user,
the Slurm comment names the user and the array, and the account comes from ``accounting`` (a
template or a map).  What the schedulers themselves record is read back with their own commands:
``squeue`` (name, comment, account) and ``sacct -c`` (name, account: the demo Slurm has no
slurmdbd, only the job completion log, which keeps no comment), ``qstat -xml`` is not needed on
Grid Engine because ``qacct -j`` keeps name and account of ended jobs.  A user name that tries to
add options is made harmless.  The jobs are started as named users through the gateway's real
assembly (tests/owner_jobs.py); the same through HTTP needs the identity layer.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from wpsgate.backends.drmaa_backend import DrmaaBackend
from wpsgate.backends.slurm import SlurmBackend
from wpsgate.jobs.accounting import AccountMap, job_comment, scheduler_user
from wpsgate.jobs.cluster import job_name
from wpsgate.jobs.folder import is_batch_name
from wpsgate.jobs.scheduling import ClusterJob

from .schedulers import REPO, gridengine_env, require

BACKENDS = {"slurm": "slurm", "drmaa": "gridengine"}
HOSTILE = "mallory -A root --wrap=evil;rm -rf /"


def test_user_names_cannot_add_options():
    token = scheduler_user(HOSTILE)
    assert token == "mallory_-A_root_--wrap_evil_rm_-rf__"[:32]
    assert " " not in token and not token.startswith("-") and scheduler_user("--x") == "x"
    assert scheduler_user(None) == "" and job_name("u", None) == "wps-u"
    accounts = AccountMap("proj-{user}", {"bob": "climate"})
    assert accounts.account_for("bob") == "climate"
    assert accounts.account_for(HOSTILE) == "proj-" + token
    assert AccountMap().account_for("alice") == ""
    job = ClusterJob(uuid="u", name=job_name("u", HOSTILE), command=("python",), folder="/f", workdir="/", log="/l",
                     user=token, account=accounts.account_for(HOSTILE), comment=job_comment(token, "job=u"))
    args = SlurmBackend().sbatch_arguments(job)
    options = args[:args.index("--wrap")]
    assert [a for a in options if a.startswith("-A") or a == "--wrap=evil"] == []
    assert f"--account=proj-{token}" in options and f"--comment=wpsgate:user={token}:job=u" in options
    assert all(" " not in option for option in options)
    ge = DrmaaBackend.__new__(DrmaaBackend)
    ge.native, ge.queue, ge.is_grid_engine = "", "", True
    native = ge.native_specification(job).split()
    assert native.count("-A") == 1 and native[native.index("-A") + 1] == f"proj-{token}"
    assert [part for part in native if part.startswith("-")] == ["-A"]
    assert is_batch_name(f"wps-batch-{'a' * 32}-{token}") and not is_batch_name(f"wps-batch-{'a' * 32}-a.b")


def run_as_users(mode: str, workdir: str, jobs: list[dict], accounting: dict) -> list[dict]:
    config = {"server": {"workdir": workdir}, "processing": {"mode": mode, "parallelprocesses": 1},
              "scheduler": {"poll_interval": 0.5, "nfs_grace": 2.0, "pythonpath": [REPO], "submit_window": 1.0},
              "accounting": accounting, "logging": {"level": "WARNING"}}
    env = {**os.environ, **(gridengine_env() if mode == "drmaa" else {})}
    result = subprocess.run([sys.executable, "-m", "tests.owner_jobs", json.dumps({"config": config, "jobs": jobs})],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def scheduler_view(mode: str, scheduler_id: str) -> dict[str, str]:
    """Name, account and (Slurm) comment of a job, as the scheduler's own commands show them."""
    if mode == "slurm":
        listed = subprocess.run(["squeue", "-h", "-t", "all", "-j", scheduler_id, "-o", "%j|%a|%k"],
                                capture_output=True, text=True, timeout=20).stdout.strip()
        name, account, comment = (listed.split("|") + ["", "", ""])[:3]
        raw = subprocess.run(["squeue", "-h", "-t", "all", "-j", scheduler_id, "-o", "%A"], capture_output=True,
                             text=True, timeout=20).stdout.strip()
        accounted = subprocess.run(["sacct", "-c", "-n", "-P", "-X", "-o", "JobID,JobName,Account", "-j", raw],
                                   capture_output=True, text=True, timeout=20).stdout.strip()
        return {"name": name, "account": account, "comment": comment, "accounting": accounted}
    array, _, task = scheduler_id.partition(".")
    env = {**os.environ, **gridengine_env()}
    text = ""
    for _ in range(10):  # accounting is flushed about every second
        result = subprocess.run(["qacct", "-j", array, "-t", task], capture_output=True, text=True, timeout=20,
                                env=env)
        text = result.stdout
        if result.returncode == 0:
            break
        subprocess.run(["sleep", "1"])
    fields = dict((line.split(None, 1) + [""])[:2] for line in text.splitlines() if line.strip())
    return {"name": fields.get("jobname", "").strip(), "account": fields.get("account", "").strip(),
            "comment": "", "accounting": text}


@pytest.mark.parametrize("mode", list(BACKENDS))
def test_jobs_of_two_users_go_to_separate_arrays_carrying_user_and_account(mode, tmp_path):
    require(BACKENDS[mode])
    jobs = [{"user": "alice", "identifier": "hello", "inputs": "name=a1"},
            {"user": "bob", "identifier": "hello", "inputs": "name=b1"},
            {"user": "alice", "identifier": "hello", "inputs": "name=a2"},
            {"user": HOSTILE, "identifier": "hello", "inputs": "name=m"}]
    records = run_as_users(mode, str(tmp_path), jobs, {"account": "proj-{user}", "accounts": {"bob": "climate"}})
    assert [r["owner"] for r in records] == [j["user"] for j in jobs]
    assert all(r["status"] == "succeeded" for r in records), records
    separator = "_" if mode == "slurm" else "."
    arrays = [r["backend_id"].rpartition(separator)[0] for r in records]
    assert arrays[0] == arrays[2]  # alice's two jobs: one array
    assert len({arrays[0], arrays[1], arrays[3]}) == 3  # bob and mallory: one each
    token = scheduler_user(HOSTILE)
    for record, user, account in zip(records, ["alice", "bob", "alice", token],
                                     ["proj-alice", "climate", "proj-alice", "proj-" + token]):
        view = scheduler_view(mode, record["backend_id"])
        assert view["name"].startswith("wps-batch-") and view["name"].endswith("-" + user), view
        if mode == "slurm":  # Slurm keeps account names in lower case
            account = account.lower()
        assert view["account"] == account, view
        assert view["name"] in view["accounting"] and account in view["accounting"], view
        if mode == "slurm":
            assert view["comment"] == f"wpsgate:user={user}:batch={view['name']}", view


@pytest.mark.parametrize("mode", list(BACKENDS))
def test_without_accounting_no_account_option_and_anonymous_jobs_unchanged(mode, tmp_path):
    """No ``accounting`` configured: no account option (the demo Slurm has no such accounts), the user still
    in the name; a job without an owner keeps its old name and no comment."""
    require(BACKENDS[mode])
    records = run_as_users(mode, str(tmp_path), [{"user": "alice", "identifier": "hello", "inputs": "name=a"},
                                                 {"user": None, "identifier": "hello", "inputs": "name=x"}], {})
    assert all(r["status"] == "succeeded" for r in records), records
    alice, anonymous = (scheduler_view(mode, r["backend_id"]) for r in records)
    assert alice["name"].endswith("-alice") and is_batch_name(alice["name"])
    assert is_batch_name(anonymous["name"]) and len(anonymous["name"]) == len("wps-batch-") + 32
    if mode == "slurm":
        assert alice["account"] in ("", "(null)") and anonymous["comment"] in ("", "(null)")
        assert alice["comment"].startswith("wpsgate:user=alice:")
    else:
        assert alice["account"] == anonymous["account"] == "sge"  # Grid Engine's default account


# --- the submitter and the reconciliation, on the fake schedulers of test_reconciliation ----------------------------

from .test_reconciliation import Bench, FakeArrays  # noqa: E402


async def accept_as(bench, user, name="x"):
    from wpsgate.jobs.lifecycle import Job
    from wpsgate.protocol.kvp import parse_kvp

    process, spec, timeout, expire = bench.service.prepare(parse_kvp(
        "service=WPS&request=Execute&version=1.0.0&identifier=hello&storeExecuteResponse=true"
        f"&DataInputs=name={name}"))
    spec.store, spec.owner = True, user
    job = Job(spec, timeout, expire, process)
    await bench.lifecycle.accept(job, bench.runner.name, bench.runner.persist)
    bench.runner.submit(job)
    return job


def test_a_round_is_split_by_user_and_the_arrays_are_found_by_name_after_a_restart(tmp_path):
    """One round with jobs of alice, bob and nobody: three arrays named after their user (none for nobody);
    the gateway dies before the ids are recorded; after the restart each job gets its task id back by its
    array's name and nothing is submitted again."""
    from wpsgate.jobs.folder import JobFolder

    bench = Bench(str(tmp_path))
    try:
        bench.fake = FakeArrays()
        bench.runner = bench.new_runner()

        async def before():
            jobs = [await accept_as(bench, user, str(i)) for i, user in enumerate(["alice", "bob", None, "alice"])]
            await bench.runner._submit_batch()
            await bench.settle()
            return jobs

        jobs = asyncio.run(before())
        names = sorted(array.name.partition("-batch-")[2][33:] for array in bench.fake.arrays)
        assert names == ["", "alice", "bob"]
        by_user = {array.template.user: array for array in bench.fake.arrays}
        assert by_user["alice"].size == 2 and by_user["alice"].template.comment.startswith("wpsgate:user=alice:batch=")
        assert by_user[""].template.comment == ""
        recorded = [bench.row(job).backend_id for job in jobs]
        for job in jobs:
            bench.store.update(job.uuid, backend_id=None)
            os.unlink(JobFolder(bench.config.spool, job.uuid).scheduler_id)
        bench.stop_runner()
        asyncio.run(bench.restarted())
        assert bench.lifecycle.user_jobs.queued == {"alice": 2, "bob": 1}  # rebuilt from the owner column
        assert len(bench.fake.arrays) == 3
        assert [bench.row(job).backend_id for job in jobs] == recorded
    finally:
        bench.close()


def test_a_single_job_is_found_by_its_name_with_its_user_after_a_restart(tmp_path):
    """Without arrays (slurm-drmaa), a job submitted before the gateway died unrecorded is found by its own
    name, which carries its owner (read back from its signed job file)."""
    bench = Bench(str(tmp_path))
    try:
        async def before():
            return await accept_as(bench, "alice")

        job = asyncio.run(before())
        bench.fake.known[job_name(job.uuid, "alice")] = "77"
        bench.stop_runner()
        asyncio.run(bench.restarted())
        assert bench.fake.submitted == [] and bench.row(job).backend_id == "77"
    finally:
        bench.close()
