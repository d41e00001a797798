"""Per-user limits: how many jobs one user may have queued and running, the longest walltime, and
how fast one user may send Execute requests.

One user must not be able to fill the gateway's queue (``processing.maxqueue``,
``scheduler.maxjobs``) so that everyone else gets ServerBusy.  The checks are in-memory
arithmetic on the accept path: the counts of each user's unfinished jobs are kept by the job
lifecycle as its jobs move (``UserJobCounts``), rebuilt at restart from the job rows' owner
column, never counted in the database per request.

Identity off (``spec.owner`` None): the per-user limits do not apply, only the global ones do;
anonymous clients are one population that the global queue bounds already.

What applies to a user (``LimitPolicy.limits_for``): the user's own override where it sets a
value, else the most generous value among the user's groups' overrides (``auth.groups``), else
the default; unset everywhere, or 0, means no limit.
"""
from __future__ import annotations

import collections
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from ..exceptions import ServerBusy


_FIELDS = ("queued", "running", "walltime", "rate", "burst")


@dataclass(frozen=True)
class Limits:
    """The limits of one user; None: no limit."""

    queued: int | None = None
    running: int | None = None
    walltime: float | None = None  # seconds
    rate: float | None = None  # Execute requests per minute
    burst: int | None = None  # requests allowed at once before the rate applies

    @property
    def bucket_size(self) -> float:
        return float(self.burst) if self.burst else max(1.0, self.rate or 1.0)


def _generous(values: Iterable[float | int]) -> float | int | None:
    """The most generous of several settings: 0 (no limit) beats any number, else the largest."""
    values = list(values)
    if not values:
        return None
    return 0 if 0 in values else max(values)


class LimitPolicy:
    """Which limits apply to whom: a default, overrides per user and per group.

    ``sections`` are objects with the attributes queued, running, walltime, rate and burst (the
    ``limits`` configuration's); ``groups_of(user)`` names the user's groups.  Resolved once per
    user and remembered (the configuration does not change while the gateway runs).
    """

    def __init__(self, default: object = None, users: Mapping[str, object] | None = None,
                 groups: Mapping[str, object] | None = None,
                 groups_of: Callable[[str], Iterable[str]] = lambda user: ()) -> None:
        self.default = default
        self.users = dict(users or {})
        self.groups = dict(groups or {})
        self.groups_of = groups_of
        self._resolved: dict[str, Limits] = {}

    @classmethod
    def from_config(cls, limits: object, groups: Mapping[str, Iterable[str]] | None = None) -> "LimitPolicy":
        """From the ``limits`` section and the ``auth.groups`` mapping (group -> user names)."""
        return cls(limits.default, limits.users, limits.groups, group_lookup(groups or {}))

    @property
    def configured(self) -> bool:
        """Whether any limit is set at all (otherwise the checks are skipped entirely)."""
        sections = [self.default, *self.users.values(), *self.groups.values()]
        return any(getattr(s, name, None) for s in sections if s is not None for name in _FIELDS)

    def limits_for(self, user: str) -> Limits:
        limits = self._resolved.get(user)
        if limits is None:
            limits = self._resolved[user] = self._resolve(user)
        return limits

    def _resolve(self, user: str) -> Limits:
        own = self.users.get(user)
        groups = [self.groups[g] for g in self.groups_of(user) if g in self.groups]
        values = {}
        for name in _FIELDS:
            value = getattr(own, name, None) if own is not None else None
            if value is None:
                value = _generous([v for v in (getattr(g, name, None) for g in groups) if v is not None])
            if value is None:
                value = getattr(self.default, name, None)
            values[name] = value or None  # 0: no limit
        return Limits(**values)


def group_lookup(groups: Mapping[str, Iterable[str]]) -> Callable[[str], tuple[str, ...]]:
    """``groups_of(user)`` from a mapping group -> user names (``auth.groups``)."""
    by_user: dict[str, list[str]] = collections.defaultdict(list)
    for group, members in groups.items():
        for member in members or ():
            by_user[str(member)].append(str(group))
    frozen = {user: tuple(names) for user, names in by_user.items()}
    return lambda user: frozen.get(user, ())


class UserJobCounts:
    """Each user's unfinished jobs, queued or running, kept by the lifecycle as jobs move.

    Jobs without an owner are not counted.  Every method is called on the event loop.
    """

    def __init__(self) -> None:
        self.owner_of: dict[str, str] = {}
        self.running_jobs: set[str] = set()
        self.queued: collections.Counter = collections.Counter()
        self.running: collections.Counter = collections.Counter()

    def add(self, uuid: str, owner: str | None, running: bool = False) -> None:
        if owner is None or uuid in self.owner_of:
            return
        self.owner_of[uuid] = owner
        if running:
            self.running_jobs.add(uuid)
            self.running[owner] += 1
        else:
            self.queued[owner] += 1

    def started(self, uuid: str) -> None:
        owner = self.owner_of.get(uuid)
        if owner is None or uuid in self.running_jobs:
            return
        self.running_jobs.add(uuid)
        _decrement(self.queued, owner)
        self.running[owner] += 1

    def ended(self, uuid: str) -> None:
        owner = self.owner_of.pop(uuid, None)
        if owner is None:
            return
        if uuid in self.running_jobs:
            self.running_jobs.discard(uuid)
            _decrement(self.running, owner)
        else:
            _decrement(self.queued, owner)


def _decrement(counter: collections.Counter, key: str) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


class RateBuckets:
    """A token bucket per user: ``size`` requests at once, refilled at ``rate`` per minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # user -> (tokens, when)

    def take(self, user: str, rate: float, size: float) -> float:
        """Take one token; returns 0 when taken, else the seconds until one is available."""
        now = self.clock()
        tokens, when = self.buckets.get(user, (size, now))
        tokens = min(size, tokens + (now - when) * rate / 60.0)
        if tokens >= 1.0:
            self.buckets[user] = (tokens - 1.0, now)
            return 0.0
        self.buckets[user] = (tokens, now)
        return (1.0 - tokens) * 60.0 / rate


class UserLimitReached(ServerBusy):
    """A user is at one of their limits; the message names it (other users are still accepted)."""

    def __init__(self, message: str, user: str, limit: str) -> None:
        super().__init__(message)
        self.user = user
        self.limit = limit


class UserLimits:
    """The checks made for a job before it is staged and again when it is handed over."""

    def __init__(self, policy: LimitPolicy, counts: UserJobCounts,
                 rates: RateBuckets | None = None) -> None:
        self.policy = policy
        self.counts = counts
        self.rates = rates or RateBuckets()
        self.enabled = policy.configured

    def check(self, user: str | None, take_rate: bool = True) -> None:
        """Raise UserLimitReached when ``user`` may not start another job now; with ``take_rate`` this
        request also counts against the user's request rate."""
        if user is None or not self.enabled:
            return
        limits = self.policy.limits_for(user)
        queued = self.counts.queued.get(user, 0)
        if limits.queued is not None and queued >= limits.queued:
            raise UserLimitReached(f"user {user} has {queued} queued jobs, the most allowed; try again when one "
                                   "has started", user, "queued")
        running = self.counts.running.get(user, 0)
        if limits.running is not None and running >= limits.running:
            raise UserLimitReached(f"user {user} has {running} running jobs, the most allowed; try again when one "
                                   "has ended", user, "running")
        if take_rate and limits.rate is not None:
            wait = self.rates.take(user, limits.rate, limits.bucket_size)
            if wait:
                raise UserLimitReached(f"user {user} sent more than {limits.rate:g} Execute requests a minute, the "
                                       f"most allowed; try again in {math.ceil(wait)} s", user, "rate")

    def walltime(self, user: str | None, timeout: float) -> float:
        """The job's timeout (its walltime) within the user's ceiling: a longer one is capped, as
        ``processing.max_timeout`` caps TIMEOUT for everyone."""
        if user is None or not self.enabled:
            return timeout
        ceiling = self.policy.limits_for(user).walltime
        return min(timeout, ceiling) if ceiling else timeout
