"""Configuration: one typed, validated, immutable object built from YAML and environment variables.

``load_config(path)`` reads the YAML file (optional), applies overrides from
``WPSGATE_<SECTION>__<KEY>`` environment variables (values in YAML syntax, so
``WPSGATE_SERVER__PORT=8080`` is an int), and checks every key and type, naming the
bad key in the error.  The object is passed explicitly; nothing reads it from a
global.
"""
from __future__ import annotations

import dataclasses
import os
import re
import types
from dataclasses import dataclass, field
from typing import Any, Mapping, Union, get_args, get_origin, get_type_hints

import yaml

ENV_PREFIX = "WPSGATE_"


class EnvText(str):
    """A value from the environment: the text as typed, and what YAML makes of it."""

    def __new__(cls, raw: str, parsed: Any) -> "EnvText":
        text = super().__new__(cls, raw)
        text.parsed = parsed
        return text


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key."""


def _size(value: Any, key: str) -> int:
    """Bytes from an int or a string like ``3mb``, ``512K``, ``1.5 GiB``."""
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a size, got {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([kmgt]?)(i?b)?\s*", str(value), re.IGNORECASE)
    if not match:
        raise ConfigError(f"{key}: {value!r} is not a size (e.g. 3mb, 512kb, 1gb)")
    factor = 1024 ** " kmgt".index(match.group(2).lower() or " ")
    return int(float(match.group(1)) * factor)


Size = int  # a size in bytes; the loader accepts "3mb"-style strings for fields marked size=True


def _size_field(default: int) -> Any:
    return field(default=default, metadata={"size": True})


@dataclass(frozen=True)
class MetadataConfig:
    """What GetCapabilities says about the service and its provider."""

    title: str = "wpsgate"
    abstract: str = "OGC Web Processing Service gateway running processes on a local pool or an HPC scheduler."
    keywords: tuple[str, ...] = ("WPS", "processing", "HPC")
    fees: str = "NONE"
    access_constraints: str = "NONE"
    provider_name: str = "wpsgate"
    provider_url: str = ""
    contact_name: str = ""
    contact_position: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    contact_address: str = ""
    contact_city: str = ""
    contact_country: str = ""
    contact_role: str = ""
    languages: tuple[str, ...] = ("en-US",)


@dataclass(frozen=True)
class ServerConfig:
    """The HTTP side: where the gateway listens, its public URL and request limits."""

    bind: str = "127.0.0.1"
    port: int = 5000
    url: str = ""
    workdir: str = ""
    maxrequestsize: Size = _size_field(3 * 1024 * 1024)
    maxsingleinputsize: Size = _size_field(3 * 1024 * 1024)
    allowedinputpaths: tuple[str, ...] = ()
    allowednetworks: tuple[str, ...] = ()
    reference_timeout: float = 60.0
    max_downloads: int = 16  # http(s) input downloads at once, over all requests (4 at most per request)
    maxfileinputsize: Size = _size_field(1024 * 1024 * 1024)  # largest file:// input (copied into the job)
    allow_hardlinked_inputs: bool = False  # accept file:// inputs that have more than one hard link
    debug: bool = False
    max_header_size: Size = _size_field(64 * 1024)
    header_timeout: float = 20.0
    body_timeout: float = 60.0
    max_connections: int = 0
    active_outputs: str = "attachment"
    cors_origins: tuple[str, ...] = ()

    @property
    def base_url(self) -> str:
        """The public URL prefix (no trailing slash) clients use to reach the gateway."""
        if self.url:
            return self.url.rstrip("/")
        host = self.bind if self.bind not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class ProcessingConfig:
    """How jobs run: the backend, capacity and time limits."""

    mode: str = "local"
    parallelprocesses: int = 0
    maxqueue: int = 100
    sync_wait: float = 30.0
    spool: str = ""
    default_timeout: float = 3600.0
    max_timeout: float = 86400.0
    default_expire: float = 86400.0
    max_expire: float = 30 * 86400.0
    keep_workdir: bool = False
    cleanup_interval: float = 60.0
    worker_niceness: int = 5

    @property
    def workers(self) -> int:
        return self.parallelprocesses or os.cpu_count() or 1


@dataclass(frozen=True)
class ResourcesConfig:
    """Scheduler resources for a process's jobs (overrides what the process declares)."""

    walltime: float = 0.0
    memory: int = 0
    cpus: int = 0
    queue: str = ""
    native: str = ""
    sync: str = ""


@dataclass(frozen=True)
class SchedulerConfig:
    """The batch scheduler backends (processing.mode drmaa or slurm)."""

    python: str = ""
    native: str = ""
    queue: str = ""
    drmaa_library: str = ""
    poll_interval: float = 2.0
    submit_retries: int = 3
    nfs_grace: float = 5.0
    sync: str = "local"
    maxjobs: int = 10000
    submit_batch: int = 200  # the most accepted jobs handed to the scheduler in one submission round
    submit_concurrency: int = 4  # sbatch commands in flight at once (slurm mode)
    submit_window: float = 0.0  # seconds the submitter waits after a job arrives, to gather a larger batch
    processes: dict[str, ResourcesConfig] = field(default_factory=dict)
    # The environment of every job: NAME (its value in the gateway's environment, if set) or NAME=value.
    # Nothing else of the gateway's environment (database URLs, tokens) reaches process code.
    environment: tuple[str, ...] = ("PATH", "LANG", "LC_ALL", "TZ", "HOME", "USER")
    # Folders the joblauncher adds to sys.path after verifying a job file, for process modules that are
    # not installed in the nodes' virtualenv (the launcher runs isolated: no PYTHONPATH, no current folder).
    pythonpath: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = ""
    retry: float = 30.0


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    file: str = ""
    format: str = "text"  # text, or json: one JSON object per line for log shippers


@dataclass(frozen=True)
class MetricsConfig:
    """Prometheus metrics at /metrics: on the main listener, or on a listener of their own."""

    enabled: bool = True
    bind: str = "127.0.0.1"  # used only with a port of its own
    port: int = 0  # 0: /metrics on the main port; else only on bind:port (with /health/*), for internal scraping


@dataclass(frozen=True)
class AuthConfig:
    """Who is calling (see wpsgate.auth): no identity, a trusted front end's header, or bearer tokens."""

    mode: str = "none"  # none | header | token
    header: str = "X-Remote-User"  # the header a trusted front end sets to the user's name
    trusted_proxies: tuple[str, ...] = ()  # CIDRs whose header and X-Forwarded-For are believed
    admins: tuple[str, ...] = ()  # user names with the admin role (every job, user= filters)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group name -> user names
    public_capabilities: bool = True  # GetCapabilities, DescribeProcess, /processes without identity
    token_cache_seconds: float = 30.0  # a verified token is believed this long (so revocation takes effect)


@dataclass(frozen=True)
class UserLimitsConfig:
    """Per-user limits; in ``default`` a missing value (null) means no limit, in an override it means
    "as the default" (users) or "no say" (groups); 0 means no limit anywhere."""

    queued: int | None = None  # accepted jobs not yet running
    running: int | None = None  # jobs running (local pool, synchronous jobs included, and on the scheduler)
    walltime: float | None = None  # seconds: the ceiling of a job's TIMEOUT (a longer one is capped to it)
    rate: float | None = None  # Execute requests per minute, sustained (token bucket)
    burst: int | None = None  # Execute requests at once before the rate applies (default: rate, at least 1)


@dataclass(frozen=True)
class LimitsConfig:
    """Per-user limits (they apply to identified users; with identity off only the global limits do)."""

    default: UserLimitsConfig = field(default_factory=UserLimitsConfig)
    users: dict[str, UserLimitsConfig] = field(default_factory=dict)
    groups: dict[str, UserLimitsConfig] = field(default_factory=dict)  # groups as in auth.groups


@dataclass(frozen=True)
class AccountingConfig:
    """How a scheduler job carries its user (the job name and Slurm comment always do, when there is one)."""

    account: str = ""  # a template of the scheduler account, e.g. "{user}" (Slurm --account, Grid Engine -A)
    accounts: dict[str, str] = field(default_factory=dict)  # user -> account (wins over the template)


@dataclass(frozen=True)
class Config:
    metadata: MetadataConfig = field(default_factory=MetadataConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    processing: ProcessingConfig = field(default_factory=ProcessingConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    accounting: AccountingConfig = field(default_factory=AccountingConfig)
    processes: tuple[str, ...] = ()

    @property
    def workdir(self) -> str:
        """The folder for the job store, spool and key when they are not configured one by one."""
        if self.server.workdir:
            return os.path.abspath(self.server.workdir)
        state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
        return os.path.join(state, "wpsgate")

    @property
    def spool(self) -> str:
        return os.path.abspath(self.processing.spool) if self.processing.spool else os.path.join(self.workdir, "spool")

    @property
    def database_url(self) -> str:
        return self.database.url or "sqlite:///" + os.path.join(self.workdir, "jobs.sqlite")


_MODES = ("local", "drmaa", "slurm")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LOG_FORMATS = ("text", "json")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _convert(value: Any, hint: Any, key: str, is_size: bool = False) -> Any:
    if isinstance(value, EnvText):
        value = str(value) if hint is str or (get_origin(hint) is tuple and isinstance(value.parsed, str)) \
            else value.parsed
    if is_size:
        return _size(value, key)
    origin = get_origin(hint)
    if origin in (Union, types.UnionType) and type(None) in get_args(hint):  # optional: null means "not set"
        if value is None:
            return None
        return _convert(value, next(a for a in get_args(hint) if a is not type(None)), key)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        item_hint = get_args(hint)[1]
        if not dataclasses.is_dataclass(item_hint):
            return {str(name): _convert(item, item_hint, f"{key}.{name}") for name, item in value.items()}
        return {str(name): _build(item_hint, item or {}, f"{key}.{name}.") for name, item in value.items()}
    if origin is tuple:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
        return tuple(_convert(item, get_args(hint)[0], f"{key}[{i}]") for i, item in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key}: expected text, got {type(value).__name__}")
        return "" if value is None else str(value)
    raise ConfigError(f"{key}: unsupported type")  # pragma: no cover - a programming error


def _build(cls: type, data: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'configuration'}: expected a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key (known: {', '.join(sorted(fields))})")
    values = {}
    for name, value in data.items():
        hint = hints[name]
        key = f"{prefix}{name}"
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value or {}, key + ".")
        else:
            values[name] = _convert(value, hint, key, fields[name].metadata.get("size", False))
    return cls(**values)


def _check(config: Config) -> Config:
    if config.processing.mode not in _MODES:
        raise ConfigError(f"processing.mode: {config.processing.mode!r} is not one of {', '.join(_MODES)}")
    if not 0 < config.server.port < 65536:
        raise ConfigError(f"server.port: {config.server.port} is not a TCP port")
    for key, value in (("processing.parallelprocesses", config.processing.parallelprocesses),
                       ("processing.maxqueue", config.processing.maxqueue)):
        if value < 0:
            raise ConfigError(f"{key}: must not be negative")
    for key in ("sync_wait", "default_timeout", "max_timeout", "default_expire", "max_expire", "cleanup_interval"):
        if getattr(config.processing, key) <= 0:
            raise ConfigError(f"processing.{key}: must be positive")
    for key in ("maxrequestsize", "maxsingleinputsize", "maxfileinputsize", "max_downloads", "max_header_size",
                "header_timeout", "body_timeout"):
        if getattr(config.server, key) <= 0:
            raise ConfigError(f"server.{key}: must be positive")
    _check_http_edge(config.server)
    sync_choices = ("local", "scheduler")
    if config.scheduler.sync not in sync_choices:
        raise ConfigError(f"scheduler.sync: {config.scheduler.sync!r} is not one of {', '.join(sync_choices)}")
    for name, resources in config.scheduler.processes.items():
        if resources.sync and resources.sync not in sync_choices:
            raise ConfigError(f"scheduler.processes.{name}.sync: {resources.sync!r} is not one of "
                              f"{', '.join(sync_choices)}")
    if not 0 <= config.scheduler.submit_window <= 3600:
        raise ConfigError("scheduler.submit_window: must be between 0 and 3600 seconds")
    if config.scheduler.submit_batch < 1 or config.scheduler.submit_concurrency < 1:
        raise ConfigError("scheduler.submit_batch and scheduler.submit_concurrency must be at least 1")
    if config.scheduler.poll_interval <= 0 or config.scheduler.submit_retries < 1:
        raise ConfigError("scheduler.poll_interval must be positive and scheduler.submit_retries at least 1")
    for entry in config.scheduler.environment:
        if not _ENV_NAME.fullmatch(entry.partition("=")[0]):
            raise ConfigError(f"scheduler.environment: {entry!r} is not NAME or NAME=value")
    for entry in config.scheduler.pythonpath:
        if not os.path.isabs(entry):
            raise ConfigError(f"scheduler.pythonpath: {entry!r} is not an absolute path")
    if not 0 <= config.processing.worker_niceness <= 19:
        raise ConfigError("processing.worker_niceness: must be between 0 and 19")
    if config.logging.level.upper() not in _LEVELS:
        raise ConfigError(f"logging.level: {config.logging.level!r} is not one of {', '.join(_LEVELS)}")
    if config.logging.format not in _LOG_FORMATS:
        raise ConfigError(f"logging.format: {config.logging.format!r} is not one of {', '.join(_LOG_FORMATS)}")
    if not 0 <= config.metrics.port < 65536:
        raise ConfigError(f"metrics.port: {config.metrics.port} is not a TCP port (0: the main port)")
    if config.metrics.port and config.metrics.port == config.server.port and \
            config.metrics.bind == config.server.bind:
        raise ConfigError("metrics.port: the same address and port as server.port; choose another port, or 0 "
                          "to serve /metrics on the main port")
    if not config.metadata.languages:
        raise ConfigError("metadata.languages: at least one language is needed")
    _check_auth(config.auth)
    _check_limits(config.limits)
    _check_accounting(config.accounting)
    return config


def _check_auth(auth: AuthConfig) -> None:
    """The identity mode, the header name, the proxies' CIDRs and the user and group names."""
    import ipaddress

    from .auth.caller import is_user_name

    if auth.mode not in ("none", "header", "token"):
        raise ConfigError(f"auth.mode: {auth.mode!r} is not one of none, header, token")
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", auth.header) or auth.header.lower() in ("authorization", "host",
                                                                                      "x-forwarded-for"):
        raise ConfigError(f"auth.header: {auth.header!r} is not a header name a front end can set "
                          "(letters, digits and -; not Authorization, Host or X-Forwarded-For)")
    for cidr in auth.trusted_proxies:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ConfigError(f"auth.trusted_proxies: {cidr!r} is not an address or CIDR") from None
    for name in auth.admins + tuple(user for users in auth.groups.values() for user in users):
        if not is_user_name(name):
            raise ConfigError(f"auth: {name!r} is not a valid user name (1-128 of letters, digits and ._@+-, "
                              "starting with a letter or digit)")
    for group in auth.groups:
        if not is_user_name(group):
            raise ConfigError(f"auth.groups: {group!r} is not a valid group name")
    if not 0 <= auth.token_cache_seconds <= 3600:
        raise ConfigError("auth.token_cache_seconds: must be between 0 and 3600")


def _check_limits(limits: LimitsConfig) -> None:
    sections = [("limits.default", limits.default)]
    sections += [(f"limits.users.{name}", value) for name, value in limits.users.items()]
    sections += [(f"limits.groups.{name}", value) for name, value in limits.groups.items()]
    for prefix, section in sections:
        for name in ("queued", "running", "walltime", "rate", "burst"):
            value = getattr(section, name)
            if value is not None and (value < 0 or value != value or value == float("inf")):
                raise ConfigError(f"{prefix}.{name}: must be a number of 0 or more (0: no limit), or null")


_ACCOUNT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}")


def _check_accounting(accounting: AccountingConfig) -> None:
    """Accounts reach scheduler command lines: only plain names (no spaces, no leading dash)."""
    template = accounting.account
    if template:
        try:
            example = template.format(user="user")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"accounting.account: {template!r} is not a template with {{user}} only ({exc})") \
                from None
        if not _ACCOUNT.fullmatch(example):
            raise ConfigError(f"accounting.account: {template!r} does not make an account name "
                              "(letters, digits, . _ @ -; not starting with - or .)")
    for user, account in accounting.accounts.items():
        if not _ACCOUNT.fullmatch(account):
            raise ConfigError(f"accounting.accounts.{user}: {account!r} is not an account name "
                              "(letters, digits, . _ @ -; not starting with - or .)")


_ACTIVE_OUTPUTS = ("attachment", "sandbox", "inline")


def _check_http_edge(server: ServerConfig) -> None:
    """The connection limits, the output policy and the CORS origins (scheme://host[:port], or *)."""
    if server.max_header_size < 1024:
        raise ConfigError("server.max_header_size: must be at least 1kb")
    if server.max_connections < 0:
        raise ConfigError("server.max_connections: must not be negative (0: derived from the open-files limit)")
    if server.active_outputs not in _ACTIVE_OUTPUTS:
        raise ConfigError(f"server.active_outputs: {server.active_outputs!r} is not one of "
                          f"{', '.join(_ACTIVE_OUTPUTS)}")
    for origin in server.cors_origins:
        if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
            raise ConfigError(f"server.cors_origins: {origin!r} is not an origin like https://app.example.org "
                              "(no path, no trailing slash) or *")


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX):].split("__")]
        try:
            value = EnvText(raw, yaml.safe_load(raw) if raw.strip() else "")
        except yaml.YAMLError as exc:
            raise ConfigError(f"{name}: not a YAML value: {exc}") from None
        target = overrides
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    return overrides


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def config_from_mapping(data: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None,
                        overrides: Mapping[str, Any] | None = None) -> Config:
    """Build and validate a Config: ``data`` (as read from YAML), then environment, then ``overrides``."""
    merged = _merge(dict(data or {}), _env_overrides(os.environ if environ is None else environ))
    return _check(_build(Config, _merge(merged, overrides or {}), ""))


def load_config(path: str | None = None, environ: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> Config:
    """Read ``path`` (YAML; may be None), apply environment and explicit overrides, validate."""
    data: Any = {}
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                data = yaml.safe_load(handle) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: the top level must be a mapping")
    return config_from_mapping(data, environ, overrides)
