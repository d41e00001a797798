"""The parts of identity that need no gateway: user names, trusted proxies, configuration, tokens, audit lines."""
from __future__ import annotations

import asyncio
import json
import logging

import pytest
from sqlalchemy import create_engine

from wpsgate.auth import audit, tokens as tokens_module
from wpsgate.auth.caller import Caller, is_user_name
from wpsgate.auth.identity import PENDING, Identity, Unauthenticated
from wpsgate.auth.networks import TrustedProxies
from wpsgate.auth.tokens import TokenStore
from wpsgate.config import AuthConfig, ConfigError, config_from_mapping
from wpsgate.monitoring.json_log import JsonFormatter


@pytest.mark.parametrize("name, valid", [
    ("alice", True), ("alice.smith", True), ("alice@example.org", True), ("a-b_c+d", True), ("a" * 128, True),
    ("", False), ("a" * 129, False), ("-alice", False), (".alice", False), ("al ice", False), ("alice\n", False),
    ("jürgen", False), ("al/ice", False), ("alice,bob", False), ('al"ice', False), (None, False)])
def test_what_a_user_name_is(name, valid):
    assert is_user_name(name) is valid


def test_forwarded_addresses_are_believed_only_from_trusted_proxies():
    proxies = TrustedProxies(["127.0.0.1/32", "10.0.0.0/8"])
    assert proxies.client_address("192.0.2.1", "203.0.113.9") == "192.0.2.1"  # not a proxy: its own address
    assert proxies.client_address("127.0.0.1", "203.0.113.9") == "203.0.113.9"
    # the last entry that is not a proxy: entries further left are the client's own to write
    assert proxies.client_address("127.0.0.1", "198.51.100.1, 203.0.113.9, 10.1.2.3") == "203.0.113.9"
    assert proxies.client_address("127.0.0.1", "203.0.113.9, garbage") == "127.0.0.1"
    assert proxies.client_address("127.0.0.1", "1.2.3.4," * 1000) == "127.0.0.1"  # overlong: not read
    assert proxies.trusts("::ffff:127.0.0.1") and not proxies.trusts("::1") and not proxies.trusts("")
    assert not TrustedProxies([]).trusts("127.0.0.1")


@pytest.mark.parametrize("auth, key", [
    ({"mode": "ldap"}, "auth.mode"), ({"trusted_proxies": ["10.0.0.0/33"]}, "auth.trusted_proxies"),
    ({"admins": ["al ice"]}, "auth"), ({"groups": {"climate": ["bob\n"]}}, "auth"),
    ({"header": "Authorization"}, "auth.header"), ({"header": "X-User\r\nX: y"}, "auth.header"),
    ({"token_cache_seconds": -1}, "auth.token_cache_seconds"), ({"groups": ["climate"]}, "auth.groups")])
def test_bad_auth_configuration_names_the_key(auth, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_mapping({"auth": auth}, environ={})


def test_auth_configuration_and_environment():
    config = config_from_mapping({"auth": {"groups": {"climate": ["alice", "bob"]}, "admins": ["root"]}},
                                 environ={"WPSGATE_AUTH__MODE": "header",
                                          "WPSGATE_AUTH__TRUSTED_PROXIES": "[127.0.0.1/32]"})
    assert config.auth.mode == "header" and config.auth.trusted_proxies == ("127.0.0.1/32",)
    assert config.auth.groups == {"climate": ("alice", "bob")}
    assert config_from_mapping({}, environ={}).auth == AuthConfig()  # identity off by default


def test_the_header_is_believed_only_from_a_trusted_proxy():
    identity = Identity(AuthConfig(mode="header", trusted_proxies=("127.0.0.1/32",), admins=("root",),
                                   groups={"climate": ("alice",)}))
    assert identity.resolve_now({"X-Remote-User": "alice"}, "127.0.0.2", True) is None
    assert identity.resolve_now({"X-Remote-User": "alice"}, "127.0.0.1", True) == Caller("alice", False, ("climate",))
    assert identity.resolve_now({"X-Remote-User": "root"}, "127.0.0.1", True).admin
    with pytest.raises(Unauthenticated):
        identity.resolve_now({"X-Remote-User": "alice bob"}, "127.0.0.1", True)
    assert identity.resolve_now({"X-Remote-User": "alice bob"}, "127.0.0.1", False) is None


def test_tokens_are_stored_hashed_verified_and_revoked(tmp_path):
    store = TokenStore(create_engine(f"sqlite:///{tmp_path}/t.sqlite"))
    token_id, token = store.add("alice")
    other_id, other = store.add("bob")
    assert store.verify(token) == "alice" and store.verify(other) == "bob"
    # alice's id with bob's secret: no
    assert store.verify(f"wpsg_{token_id}_{other.rsplit('_', 1)[1]}") is None
    assert [info.user for info in store.list()] == ["alice", "bob"]
    assert store.revoke(token_id) and not store.revoke(token_id) and not store.revoke("nope")
    assert store.verify(token) is None and store.verify(other) == "bob"
    with pytest.raises(ValueError):
        store.add("not a name")


def test_token_hashes_are_compared_in_constant_time_for_known_and_unknown_ids(tmp_path, monkeypatch):
    store = TokenStore(create_engine(f"sqlite:///{tmp_path}/t.sqlite"))
    token_id, token = store.add("alice")
    compared = []
    real = tokens_module.hmac.compare_digest
    monkeypatch.setattr(tokens_module.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    assert store.verify(f"wpsg_{token_id}_" + "A" * 43) is None  # known id, wrong secret
    assert store.verify("wpsg_0000000000000000_" + "A" * 43) is None  # unknown id: the same comparison
    assert store.verify(token) == "alice"
    assert len(compared) == 3 and all(len(a) == len(b) == 64 for a, b in compared)


def test_verified_tokens_are_cached_only_for_token_cache_seconds(tmp_path):
    store = TokenStore(create_engine(f"sqlite:///{tmp_path}/t.sqlite"))
    token_id, token = store.add("alice")
    reads = []

    async def read(function, *args):
        reads.append(args)
        return function(*args)

    async def scenario(cache_seconds: float) -> list:
        identity = Identity(AuthConfig(mode="token", token_cache_seconds=cache_seconds), store, read)
        headers = {"Authorization": f"Bearer {token}"}
        assert (await identity.resolve(headers, "127.0.0.1", True)).user == "alice"
        return [identity.resolve_now(headers, "127.0.0.1", True) for _ in range(3)]

    assert [c.user for c in asyncio.run(scenario(60))] == ["alice"] * 3 and len(reads) == 1
    assert asyncio.run(scenario(0)) == [PENDING] * 3  # no cache: every request reads (revocation at once)


def test_audit_lines_carry_their_fields_and_cannot_be_forged(caplog):
    caplog.set_level(logging.INFO, logger=audit.LOGGER)
    audit.refused("alice", "regrid\ninjected line", "3 jobs queued, the limit is 3", job_id="j1")
    audit.executed(Caller(None, address="192.0.2.1"), "hello", "accepted", job_id="j2")
    first, second = caplog.records
    text = first.getMessage()
    assert "\n" not in text and text.startswith('limit refused: job=j1 user="alice" process="regrid\\ninjected')
    fields = json.loads(JsonFormatter().format(first))
    assert {k: fields[k] for k in ("audit", "outcome", "user", "process", "job_id", "reason")} == {
        "audit": "limit", "outcome": "refused", "user": "alice", "process": "regrid\ninjected line",
        "job_id": "j1", "reason": "3 jobs queued, the limit is 3"}
    assert json.loads(JsonFormatter().format(second))["user"] == "-"  # identity off
    assert 'client="192.0.2.1"' in second.getMessage()


def test_a_token_store_that_is_away_is_store_unavailable_not_a_crash(tmp_path):
    from wpsgate.jobs.store import StoreUnavailable

    store = TokenStore(create_engine(f"sqlite:///{tmp_path}/t.sqlite"))
    _, token = store.add("alice")

    async def broken_read(function, *args):
        raise OSError("database is away")

    identity = Identity(AuthConfig(mode="token"), store, broken_read)
    with pytest.raises(StoreUnavailable):
        asyncio.run(identity.resolve({"Authorization": f"Bearer {token}"}, "127.0.0.1", True))


def _handler_classes(base):
    for sub in base.__subclasses__():
        yield sub
        yield from _handler_classes(sub)


def test_every_route_is_closed_unless_it_says_otherwise():
    """A route added later needs a caller until it declares itself public: the open ones are exactly these."""
    import wpsgate.server.app  # noqa: F401 - imports every handler of the gateway
    from wpsgate.server.errors import EdgeHandler

    access = {cls.__name__: cls.ACCESS for cls in _handler_classes(EdgeHandler) if cls.__module__.startswith("wpsgate")}
    assert {name for name, kind in access.items() if kind != "caller"} == {
        "LiveHandler", "ReadyHandler", "MetricsHandler", "LandingHandler", "ConformanceHandler", "OpenAPIHandler",
        "ProcessListHandler", "ProcessHandler", "WPSHandler"}
    assert access["ProcessListHandler"] == access["ProcessHandler"] == "catalogue"
    assert access["WPSHandler"] == "deferred"  # GetCapabilities/DescribeProcess catalogue, Execute a caller
    for job_route in ("StatusDocumentHandler", "OutputHandler", "JobListHandler", "JobHandler", "ResultsHandler",
                      "ExecutionHandler"):
        assert access[job_route] == "caller", job_route


def test_token_mode_also_believes_a_trusted_proxy_and_a_token_before_it():
    identity = Identity(AuthConfig(mode="token", trusted_proxies=("127.0.0.1/32",)))
    assert identity.resolve_now({"X-Remote-User": "alice"}, "127.0.0.1", True).user == "alice"
    assert identity.resolve_now({"X-Remote-User": "alice"}, "192.0.2.1", True) is None
    # a token is checked when one is sent, whatever the header says
    sent = {"X-Remote-User": "alice", "Authorization": "Bearer wpsg_0123456789abcdef_" + "A" * 43}
    assert identity.resolve_now(sent, "127.0.0.1", True) is PENDING
