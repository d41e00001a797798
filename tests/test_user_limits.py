"""Per-user limits (wpsgate.jobs.user_limits), the lifecycle's per-user counts and the engine's checks.

The unit tests use plain sections and a fake clock; the engine tests drive a real WPSService and
JobManager on the local runner with ``spec.owner`` set (the seam that does not need the HTTP
identity): A at its limit is refused with ServerBusy naming it, before any reference is
downloaded, while B is accepted.  tests/test_user_limits_gateway.py proves the same on a real
gateway in header mode.
"""
from __future__ import annotations

import asyncio
import logging
import types

import pytest

from wpsgate.auth.caller import Caller

from wpsgate.config import ConfigError, config_from_mapping
from wpsgate.jobs.user_limits import (LimitPolicy, RateBuckets, UserJobCounts, UserLimitReached, UserLimits,
                                      group_lookup)

from .test_staging_admission import _Counting, origin, reset  # noqa: F401 - the counting origin fixture


def section(**values):
    return types.SimpleNamespace(**{name: values.get(name) for name in ("queued", "running", "walltime", "rate",
                                                                         "burst")})


def test_user_override_then_most_generous_group_then_default():
    policy = LimitPolicy(section(queued=2, running=1, walltime=600, rate=10),
                         users={"alice": section(queued=7)},
                         groups={"climate": section(queued=4, running=3), "big": section(running=0, walltime=3600),
                                 "small": section(running=2, walltime=60)},
                         groups_of=group_lookup({"climate": ["alice", "bob"], "big": ["bob"], "small": ["bob", "carol"]}))
    alice, bob, carol, dave = (policy.limits_for(u) for u in ("alice", "bob", "carol", "dave"))
    assert (alice.queued, alice.running, alice.walltime, alice.rate) == (7, 3, 600, 10)  # own, group, default
    assert (bob.queued, bob.running, bob.walltime) == (4, None, 3600)  # 0 in a group: no limit, the most generous
    assert (carol.running, carol.walltime) == (2, 60)  # a group may be stricter than the default
    assert (dave.queued, dave.running, dave.walltime, dave.rate) == (2, 1, 600, 10)
    assert not LimitPolicy(section()).configured and policy.configured


def test_counts_follow_the_transitions():
    counts = UserJobCounts()
    counts.add("j1", "alice")
    counts.add("j2", "alice")
    counts.add("j1", "alice")  # counted once
    counts.add("j3", None)  # no owner: not counted
    assert (counts.queued["alice"], counts.running["alice"]) == (2, 0)
    counts.started("j1")
    counts.started("j1")
    assert (counts.queued["alice"], counts.running["alice"]) == (1, 1)
    counts.ended("j1")
    counts.ended("j2")
    counts.ended("j2")
    counts.ended("j3")
    assert not counts.queued and not counts.running and not counts.owner_of


def test_check_names_the_limit_and_spares_other_users():
    counts = UserJobCounts()
    limits = UserLimits(LimitPolicy(section(queued=2, running=1)), counts)
    for uuid in ("a1", "a2"):
        counts.add(uuid, "alice")
    with pytest.raises(UserLimitReached, match="user alice has 2 queued jobs, the most allowed") as refused:
        limits.check("alice")
    assert refused.value.code == "ServerBusy" and refused.value.limit == "queued"
    limits.check("bob")
    limits.check(None)  # identity off: only the global limits apply
    counts.started("a1")
    counts.started("a2")
    with pytest.raises(UserLimitReached, match="user alice has 2 running jobs, the most allowed"):
        limits.check("alice")


def test_rate_is_a_token_bucket_per_user():
    clock = [0.0]
    counts = UserJobCounts()
    limits = UserLimits(LimitPolicy(section(rate=6, burst=2)), counts, RateBuckets(lambda: clock[0]))
    limits.check("alice")
    limits.check("alice")
    with pytest.raises(UserLimitReached, match=r"more than 6 Execute requests a minute.*try again in 10 s"):
        limits.check("alice")
    limits.check("bob")
    limits.check("alice", take_rate=False)  # the hand-over check of a request that already paid
    clock[0] = 10.0  # 6 a minute: one token every 10 s
    limits.check("alice")
    with pytest.raises(UserLimitReached):
        limits.check("alice")


def test_walltime_ceiling_caps_the_timeout():
    limits = UserLimits(LimitPolicy(section(walltime=600), users={"vip": section(walltime=0)}), UserJobCounts())
    assert limits.walltime("alice", 3600) == 600
    assert limits.walltime("alice", 30) == 30
    assert limits.walltime("vip", 3600) == 3600
    assert limits.walltime(None, 3600) == 3600


@pytest.mark.parametrize("bad", [{"default": {"queued": -1}}, {"users": {"a": {"rate": ".inf"}}},
                                 {"groups": {"g": {"walltime": "long"}}}, {"users": {"a": {"typo": 1}}}])
def test_bad_limits_stop_the_start(bad):
    with pytest.raises(ConfigError, match="limits"):
        config_from_mapping({"limits": bad}, environ={})


# --- the engine, with spec.owner set (no HTTP identity needed) ----------------------------------------------------


class BusyPool:
    """A worker pool whose one worker never becomes free: the local runner's jobs stay queued."""

    size = 1

    async def acquire(self, timeout=None):
        await asyncio.sleep(timeout if timeout is not None else 3600)
        raise asyncio.TimeoutError

    async def close(self):
        pass


class Site:
    """A real WPSService over a real JobManager on the local runner, its one worker busy (jobs stay queued),
    whose Execute requests come from ``user`` (the caller the front door identified)."""

    def __init__(self, tmp_path, limits):
        self.config = config_from_mapping({"server": {"workdir": str(tmp_path)}, "limits": limits}, environ={})
        self.user = None

    async def __aenter__(self):
        from wpsgate.backends.local_runner import LocalRunner
        from wpsgate.jobs.manager import JobManager
        from wpsgate.jobs.serial import SerialExecutor
        from wpsgate.jobs.staging import Stager
        from wpsgate.jobs.store import JobStore
        from wpsgate.registry import load_processes
        from wpsgate.service import Urls, WPSService

        config = self.config
        self.pool = BusyPool()
        self.store = JobStore(config.database_url)
        key = b"k" * 32
        local = LocalRunner(self.pool, config.spool, key, maxqueue=10, sync_wait=0.2)
        self.engine = JobManager(store=self.store, spool=config.spool, key=key, io=SerialExecutor(), local=local,
                                 limits=LimitPolicy.from_config(config.limits))
        await self.engine.start()
        self.stager = Stager(spool=config.spool, own_base_url="http://127.0.0.1:9", allowed_paths=(),
                             allowed_networks=["127.0.0.0/8"], max_bytes=1024, timeout=10)
        self.service = WPSService(config, load_processes(()), self.engine, Urls("http://127.0.0.1:9"), self.stager)
        return self

    async def __aexit__(self, *exc):
        self.stager.close()
        await self.engine.close()
        await self.pool.close()
        self.store.close()

    async def execute(self, user, request):
        return await self.service.start(request, Caller(user, address="192.0.2.7") if user else None)


def words(origin, i):
    from wpsgate.protocol.requests import ExecuteRequest, InputReference, RawInput

    return ExecuteRequest(identifier="wordcounter", store_execute_response=True,
                          inputs=(RawInput("text", reference=InputReference(href=f"{origin}/w{i}.txt")),))


def test_engine_refuses_a_user_at_the_limit_before_staging_and_accepts_another(tmp_path, origin, caplog):
    """WPSService and JobManager with ``spec.owner`` set: alice, at her queued limit, is refused with
    ServerBusy naming it before her reference is fetched (the origin counts nothing) and the refusal is
    audit-logged; bob's request is accepted and fetched; anonymous requests are not limited per user; once
    alice's job is gone she is accepted again."""
    reset()

    async def scenario():
        async with Site(tmp_path, {"default": {"queued": 1}}) as site:
            first = await site.execute("alice", words(origin, 1))
            assert _Counting.requests == 1
            with pytest.raises(UserLimitReached, match="user alice has 1 queued jobs, the most allowed"):
                await site.execute("alice", words(origin, 2))
            assert _Counting.requests == 1  # refused before staging
            await site.execute("bob", words(origin, 3))
            assert _Counting.requests == 2
            for i in (4, 5):
                await site.execute(None, words(origin, i))
            assert site.engine.lifecycle.user_jobs.queued == {"alice": 1, "bob": 1}
            await site.engine.dismiss(first.spec.uuid)
            await site.execute("alice", words(origin, 6))
            assert site.engine.lifecycle.user_jobs.queued == {"alice": 1, "bob": 1}

    with caplog.at_level(logging.INFO, logger="wpsgate.audit"):
        asyncio.run(scenario())
    refusals = [r.getMessage() for r in caplog.records if r.name == "wpsgate.audit"]
    limit_lines = [line for line in refusals if line.startswith("limit refused")]
    assert len(limit_lines) == 1, refusals  # one line per refusal, from the front door that knows the client
    assert 'user="alice" client="192.0.2.7" process="wordcounter"' in limit_lines[0]
    assert "1 queued jobs" in limit_lines[0]


def test_hand_over_checks_again_and_caps_the_walltime(tmp_path, origin):
    """Without references there is no admission step: the check at hand-over refuses (the rate counts once
    per Execute either way), and an accepted job's timeout is capped at the user's walltime ceiling."""
    from wpsgate.protocol.requests import ExecuteRequest, RawInput

    def sleep(timeout):
        return ExecuteRequest(identifier="sleep", store_execute_response=True, timeout=timeout,
                              inputs=(RawInput("delay", text="0.1"),))

    async def scenario():
        async with Site(tmp_path, {"default": {"queued": 2, "walltime": 60, "rate": 1, "burst": 3}}) as site:
            started = await site.execute("alice", sleep(3600))
            record = await site.engine.io_call(site.store.get, started.spec.uuid)
            assert (record.owner, record.timeout) == ("alice", 60)
            await site.execute("alice", words(origin, 1))  # admitted (a rate token), then handed over (no token)
            with pytest.raises(UserLimitReached, match="2 queued jobs"):
                await site.execute("alice", sleep(10))
            await site.engine.dismiss(started.spec.uuid)
            third = await site.execute("alice", sleep(10))  # the third token (a refused request takes none)
            await site.engine.dismiss(third.spec.uuid)
            with pytest.raises(UserLimitReached, match="more than 1 Execute requests a minute"):
                await site.execute("alice", sleep(10))
            await site.execute("bob", sleep(10))

    reset()
    asyncio.run(scenario())


def test_restart_rebuilds_the_counts_from_the_owner_column(tmp_path, origin):
    """Jobs queued before a restart count for their owner again: recovery reads the owner column once."""
    from wpsgate.protocol.requests import ExecuteRequest, RawInput

    request = ExecuteRequest(identifier="sleep", store_execute_response=True, inputs=(RawInput("delay", text="1"),))

    async def before():
        async with Site(tmp_path, {"default": {"queued": 2}}) as site:
            await site.execute("alice", request)
            await site.execute("alice", request)
            await site.execute(None, request)

    async def after():
        async with Site(tmp_path, {"default": {"queued": 2}}) as site:
            assert site.engine.lifecycle.user_jobs.queued == {"alice": 2}
            with pytest.raises(UserLimitReached, match="user alice has 2 queued jobs"):
                await site.execute("alice", request)
            await site.execute("bob", request)

    asyncio.run(before())
    asyncio.run(after())
