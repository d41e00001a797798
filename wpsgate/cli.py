"""The ``wpsgate`` command: ``wpsgate serve`` starts the gateway."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any, Sequence

from . import __version__
from .backends.base import SubmitError
from .config import Config, ConfigError, load_config

MAX_HEADER_SIZE = 1024 ** 2  # Tornado closes the connection without an answer above this
HARD_BODY_LIMIT = 1024 ** 3  # bodies above maxrequestsize are counted and dropped, never stored


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
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    server: dict[str, Any] = {}
    if args.bind is not None:
        server["bind"] = args.bind
    if args.port is not None:
        server["port"] = args.port
    if args.workdir is not None:
        server["workdir"] = args.workdir
    if args.debug:
        server["debug"] = True
    overrides: dict[str, Any] = {"server": server} if server else {}
    if args.mode:
        overrides["processing"] = {"mode": args.mode}
    if args.debug:
        overrides["logging"] = {"level": "DEBUG"}
    return overrides


def configure_logging(config: Config) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if config.logging.file:
        handlers.append(logging.FileHandler(config.logging.file))
    logging.basicConfig(level=config.logging.level.upper(), handlers=handlers,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if config.logging.level.upper() != "DEBUG":
        logging.getLogger("tornado.access").setLevel(logging.WARNING)


async def serve(config: Config) -> None:
    """Run the gateway until SIGINT or SIGTERM."""
    from tornado.httpserver import HTTPServer

    from .server.answer_cache import CachedAnswerDelegate
    from .server.app import build_gateway

    gateway = await build_gateway(config)
    # No xheaders: nothing reads the client's address, and its check costs a getaddrinfo per request;
    # the public URLs come from server.url, not from X-Forwarded-* headers.
    server = HTTPServer(CachedAnswerDelegate(gateway.app, gateway.answers, gateway.documents),
                        max_body_size=HARD_BODY_LIMIT, max_header_size=MAX_HEADER_SIZE)
    server.listen(config.server.port, address=config.server.bind)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log = logging.getLogger("wpsgate")
    log.info("wpsgate %s serving %d processes at %s/wps (mode %s, %d workers, spool %s)", __version__,
             len(gateway.service.processes), config.server.base_url, config.processing.mode,
             gateway.pool.size, config.spool)
    await stop.wait()
    log.info("stopping")
    server.stop()
    await gateway.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        parser.print_help()
        return 2
    try:
        config = load_config(args.config, overrides=_overrides(args))
        configure_logging(config)
        asyncio.run(serve(config))
    except ConfigError as exc:
        print(f"wpsgate: configuration error: {exc}", file=sys.stderr)
        return 2
    except (OSError, SubmitError) as exc:
        print(f"wpsgate: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
