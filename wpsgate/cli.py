"""The ``wpsgate`` command: ``wpsgate serve`` starts the gateway."""
from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import signal
import sys
from typing import TYPE_CHECKING, Any, Sequence

from . import __version__
from .backends.base import SubmitError
from .config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from .server.connections import ConnectionLimits

# Every route refuses a body it does not take, and POST /wps bounds its own, before reading it
# (wpsgate.server.errors); a lower Tornado limit would only append a bare 400 to those answers.
TORNADO_BODY_LIMIT = 1 << 62


class ListenError(Exception):
    """The gateway cannot listen where it is told to (the message names the address and port)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wpsgate", description="OGC WPS 1.0.0 gateway for HPC centres.")
    parser.add_argument("--version", action="version", version=f"wpsgate {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="start the gateway (the demo processes when none are configured)")
    serve.add_argument("--config", "-c", metavar="FILE", help="YAML configuration file (see etc/wpsgate.yml)")
    serve.add_argument("--bind", metavar="ADDRESS", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", "-p", type=int, help="port to listen on (default 5000)")
    serve.add_argument("--mode", choices=("local", "drmaa", "slurm"), help="where jobs run (default local)")
    serve.add_argument("--workdir", metavar="DIR", help="folder for the job store, spool and signing key")
    serve.add_argument("--debug", action="store_true", help="log debug messages")
    doctor = commands.add_parser("doctor", help="check a configuration end to end, with a probe job on the "
                                                "scheduler; exit status 1 when anything fails")
    doctor.add_argument("--config", "-c", metavar="FILE", help="YAML configuration file (see etc/wpsgate.yml)")
    doctor.add_argument("--mode", choices=("local", "drmaa", "slurm"), help="where jobs run (default local)")
    doctor.add_argument("--workdir", metavar="DIR", help="folder for the job store, spool and signing key")
    doctor.add_argument("--no-probe", action="store_true", help="skip the probe job")
    doctor.add_argument("--timeout", type=float, default=180.0, metavar="SECONDS",
                        help="how long the probe job may take, queueing included (default 180)")
    usage = commands.add_parser("usage", help="per user: jobs by outcome, wall and CPU seconds, peak memory")
    usage.add_argument("--config", "-c", metavar="FILE", help="YAML configuration file (see etc/wpsgate.yml)")
    usage.add_argument("--workdir", metavar="DIR", help="folder for the job store, spool and signing key")
    usage.add_argument("--since", metavar="DATE", help="only jobs created since DATE (2026-01-31 or "
                                                       "2026-01-31T12:00:00Z; UTC when no zone)")
    usage.add_argument("--user", metavar="USER", help="only the jobs of USER")
    usage.add_argument("--json", action="store_true", help="print JSON instead of a table")
    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", metavar="TOOL")
    from_pywps = config_commands.add_parser("from-pywps", help="write the wpsgate YAML equivalent of a pywps.cfg "
                                                              "and say what has no equivalent")
    from_pywps.add_argument("pywps_cfg", metavar="PYWPS_CFG")
    from_pywps.add_argument("--output", "-o", metavar="FILE", help="write the YAML here (default: stdout)")
    from .auth.token_cli import add_parser as add_token_parser

    add_token_parser(commands)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    server: dict[str, Any] = {}
    if getattr(args, "bind", None) is not None:
        server["bind"] = args.bind
    if getattr(args, "port", None) is not None:
        server["port"] = args.port
    if args.workdir is not None:
        server["workdir"] = args.workdir
    if getattr(args, "debug", False):
        server["debug"] = True
    overrides: dict[str, Any] = {"server": server} if server else {}
    if args.mode:
        overrides["processing"] = {"mode": args.mode}
    if getattr(args, "debug", False):
        overrides["logging"] = {"level": "DEBUG"}
    return overrides


def configure_logging(config: Config) -> None:
    from .monitoring.json_log import make_formatter
    from .server.log_limits import RepeatLimiter

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if config.logging.file:
        # reopened when logrotate moves it away (etc/logrotate/wpsgate), so no line is lost or copied
        handlers.append(logging.handlers.WatchedFileHandler(config.logging.file))
    limiter = RepeatLimiter()  # one for all handlers: a flood is counted once, whichever way it goes out
    formatter = make_formatter(config.logging.format)
    for handler in handlers:
        handler.addFilter(limiter)
        handler.setFormatter(formatter)
    logging.basicConfig(level=config.logging.level.upper(), handlers=handlers)
    if config.logging.level.upper() != "DEBUG":
        logging.getLogger("tornado.access").setLevel(logging.WARNING)


def listen(config: Config) -> list:
    """Bind the listening sockets before anything else starts, naming the address and port if that fails."""
    return _bind(config.server.bind, config.server.port, "--port (or server.port)", "--bind")


def listen_metrics(config: Config) -> list:
    """The sockets of the separate metrics listener (metrics.port), or none."""
    if not config.metrics.enabled or not config.metrics.port:
        return []
    return _bind(config.metrics.bind, config.metrics.port, "metrics.port", "metrics.bind")


def _bind(address: str, port: int, port_option: str, bind_option: str) -> list:
    from tornado.netutil import bind_sockets

    from .server.connections import AcceptGuard

    try:
        sockets = bind_sockets(port, address=address)
    except OSError as exc:
        raise ListenError(f"cannot listen on {address} port {port}: "
                          f"{exc.strerror or exc}; is another server using it? Choose another port with "
                          f"{port_option}, or another address with {bind_option}") from None
    return [AcceptGuard(sock) for sock in sockets]


def connection_limits(config: Config) -> "ConnectionLimits":
    from .server.connections import ConnectionLimits, default_max_connections, raise_open_files_limit

    open_files = raise_open_files_limit()
    return ConnectionLimits(max_connections=config.server.max_connections or default_max_connections(open_files),
                            max_header_size=config.server.max_header_size,
                            header_timeout=config.server.header_timeout, body_timeout=config.server.body_timeout,
                            max_body_size=TORNADO_BODY_LIMIT)


async def serve(config: Config) -> None:
    """Run the gateway until SIGINT or SIGTERM."""
    from .server.answer_cache import CachedAnswerDelegate
    from .server.app import build_gateway, make_monitoring_app
    from .server.connections import GatewayHTTPServer
    from .server.cors import CorsPolicy

    limits = connection_limits(config)
    sockets = listen(config)
    try:
        sockets += (metrics_sockets := listen_metrics(config))
        gateway = await build_gateway(config)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    # No xheaders: its check costs a getaddrinfo per request; the public URLs come from server.url, and
    # X-Forwarded-For is read (for the audit log) only from auth.trusted_proxies (wpsgate.auth.networks).
    observe = gateway.metrics.observe_http if gateway.metrics is not None else None
    gate = gateway.access.memory_gate() if gateway.access is not None else None
    server = GatewayHTTPServer(CachedAnswerDelegate(gateway.app, gateway.answers, gateway.documents,
                                                    cors=CorsPolicy(config.server.cors_origins), observe=observe,
                                                    gate=gate),
                               limits=limits)
    server.add_sockets([sock for sock in sockets if sock not in metrics_sockets])
    servers = [server]
    if metrics_sockets:
        servers.append(GatewayHTTPServer(make_monitoring_app(config, gateway), limits=limits))
        servers[-1].add_sockets(metrics_sockets)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log = logging.getLogger("wpsgate")
    log.info("wpsgate %s serving %d processes at %s/wps (mode %s, %d workers, spool %s, at most %d connections)",
             __version__, len(gateway.service.processes), config.server.base_url, config.processing.mode,
             gateway.pool.size, config.spool, limits.max_connections)
    if metrics_sockets:
        log.info("metrics and health at http://%s:%d/metrics", config.metrics.bind, config.metrics.port)
    await stop.wait()
    log.info("stopping")
    for each in servers:
        each.stop()
    await gateway.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from .doctor import run_doctor

        return run_doctor(args.config, _overrides(args), probe=not args.no_probe, timeout=args.timeout)
    if args.command == "usage":
        from .usage_report import run as usage_report

        overrides = {"server": {"workdir": args.workdir}} if args.workdir else {}
        return usage_report(args.config, overrides, args.since, args.user, args.json, sys.stdout)
    if args.command == "config" and getattr(args, "config_command", None) == "from-pywps":
        from .pywps_config import run as from_pywps

        return from_pywps(args.pywps_cfg, args.output)
    if args.command == "token":
        from .auth.token_cli import run as run_token

        try:
            return run_token(args, _overrides(args))
        except ConfigError as exc:
            print(f"wpsgate: configuration error: {exc}", file=sys.stderr)
            return 2
    if args.command != "serve":
        parser.print_help()
        return 2
    from .preflight import StartError, check_start

    try:
        config = load_config(args.config, overrides=_overrides(args))
        configure_logging(config)
        check_start(config)  # a mode that cannot work stops here, with the fix, before the heavy imports
        asyncio.run(serve(config))
    except ConfigError as exc:
        print(f"wpsgate: configuration error: {exc}", file=sys.stderr)
        return 2
    except (ListenError, StartError) as exc:
        print(f"wpsgate: {exc}", file=sys.stderr)
        return 1
    except (OSError, SubmitError) as exc:
        print(f"wpsgate: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
