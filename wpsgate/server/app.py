"""Build the gateway: configuration in, a running Tornado application out."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable

import tornado.web

from .. import __version__
from ..backends.base import ClusterBackend
from ..backends.drmaa_backend import DrmaaBackend
from ..backends.local import WorkerPool
from ..backends.local_runner import LocalRunner
from ..backends.slurm import SlurmBackend
from .. import ogcapi
from ..auth.access import Access
from ..auth.setup import make_access
from ..config import Config
from ..jobs.accounting import AccountMap
from ..jobs.cluster import SchedulerRunner, settings_from_config
from ..jobs.environment import job_environment
from ..jobs.jobfile import load_or_create_key
from ..jobs.manager import JobManager
from ..jobs.serial import SerialExecutor
from ..jobs.staging import Stager
from ..jobs.store import JobStore
from ..jobs.user_limits import LimitPolicy
from ..monitoring.http_metrics import GatewayMetrics
from ..monitoring.job_events import forward_to
from ..monitoring.job_metrics import JobMetrics
from ..monitoring.lifecycle_log import LifecycleLog
from ..monitoring.readiness import NamedProbe, ReadinessCheck, folder_probe, store_probe
from ..monitoring.scheduler_probes import drmaa_probe, slurm_probe
from ..registry import load_processes
from ..service import Urls, WPSService
from .answer_cache import AnswerCache
from .cors import CorsPolicy
from .errors import OWSHandler, not_found
from .measured import MeasuredApplication, MeasuredService, MeasuredStager
from .monitoring import monitoring_routes
from .jobs import (STATUS_DOCUMENTS_IN_MEMORY, JobHandler, JobListHandler, OutputHandler, StatusDocumentHandler,
                   status_document_keeper)
from .wps import WPSHandler

log = logging.getLogger("wpsgate")
UUID = r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"


class NotFoundHandler(OWSHandler):
    route = "not_found"

    def prepare(self) -> None:
        raise not_found(f"nothing is served at {self.request.path}")


@dataclass
class Gateway:
    """The running parts, so that they can be stopped in order."""

    config: Config
    app: tornado.web.Application
    engine: JobManager
    pool: WorkerPool
    store: JobStore
    stager: Stager
    service: WPSService
    answers: AnswerCache  # GetCapabilities and DescribeProcess answers by URL
    documents: AnswerCache  # the latest status documents of local jobs
    metrics: GatewayMetrics | None = None
    readiness: ReadinessCheck | None = None
    access: Access | None = None  # identity, job owners and the audit log

    async def close(self) -> None:
        callbacks = self.app.settings.get("ogcapi_callbacks")
        if callbacks is not None:
            callbacks.close()
        await self.engine.close()
        await self.pool.close()
        self.stager.close()
        self.store.close()


def prepare_folders(config: Config) -> None:
    """Create the work folder and spool, readable only by the service account."""
    for folder in (config.workdir, config.spool):
        os.makedirs(folder, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)


async def build_gateway(config: Config) -> Gateway:
    """Load processes, open the job store, start the workers and recover jobs; returns the parts."""
    prepare_folders(config)
    processes = load_processes(config.processes)
    key = load_or_create_key(os.path.join(config.workdir, "job.key"))
    store = JobStore(config.database_url, write_retry=config.database.retry)
    pool = WorkerPool(config.processing.workers, config.processes, niceness=config.processing.worker_niceness,
                      environment=job_environment(config.scheduler.environment))
    await pool.start()
    io = SerialExecutor()
    scheduler = make_scheduler_runner(config, key) if config.processing.mode != "local" else None
    local = LocalRunner(pool, config.spool, key, config.processing.maxqueue, config.processing.sync_wait)
    documents = AnswerCache(STATUS_DOCUMENTS_IN_MEMORY)
    engine = JobManager(store=store, spool=config.spool, key=key, io=io, local=local, scheduler=scheduler,
                        sync_wait=config.processing.sync_wait,
                        cleanup_interval=config.processing.cleanup_interval,
                        sync_on_scheduler=lambda identifier: sync_mode(config, identifier) == "scheduler",
                        on_document=status_document_keeper(documents),
                        limits=LimitPolicy.from_config(config.limits, auth_groups(config)))
    metrics = GatewayMetrics(__version__) if config.metrics.enabled else None
    # one INFO line per job event, and the job metrics: observers of every lifecycle transition
    watchers = [LifecycleLog().observe] + ([JobMetrics(metrics.registry).observe] if metrics else [])
    engine.observers.add(forward_to(watchers))
    access = make_access(config.auth, store, engine)
    engine.observers.add(access.audit.observe)  # the audit line of each job's end
    await engine.start()
    urls = Urls(config.server.base_url)
    stager = Stager(spool=config.spool, own_base_url=urls.base, allowed_paths=config.server.allowedinputpaths,
                    allowed_networks=config.server.allowednetworks, max_bytes=config.server.maxsingleinputsize,
                    timeout=config.server.reference_timeout, max_file_bytes=config.server.maxfileinputsize,
                    max_downloads=config.server.max_downloads,
                    allow_hardlinks=config.server.allow_hardlinked_inputs)
    service = WPSService(config, processes, engine, urls, MeasuredStager(stager, metrics) if metrics else stager,
                         audit_log=access.audit)
    readiness = readiness_check(config, store, scheduler)
    answers = AnswerCache()
    app = make_app(config, MeasuredService(service, metrics) if metrics else service, engine, urls, answers,
                   metrics=metrics, readiness=readiness, access=access)
    return Gateway(config, app, engine, pool, store, stager, service, answers, documents, metrics, readiness,
                   access)


def readiness_check(config: Config, store: JobStore, scheduler: SchedulerRunner | None) -> ReadinessCheck:
    """/health/ready's probes: the job store and the spool take writes, the scheduler answers."""
    probes = [NamedProbe("store", store_probe(store.engine), "the job store cannot be written"),
              NamedProbe("spool", folder_probe(config.spool), "the spool cannot be written")]
    if config.processing.mode == "slurm":
        probes.append(slurm_probe())
    elif config.processing.mode == "drmaa" and scheduler is not None:
        probes.append(drmaa_probe(scheduler.call, lambda: scheduler.backend))
    return ReadinessCheck(probes)


def auth_groups(config: Config) -> dict:
    """``auth.groups`` (group -> user names), for the per-user limits' group overrides; empty without it."""
    return dict(getattr(getattr(config, "auth", None), "groups", None) or {})


def sync_mode(config: Config, identifier: str) -> str:
    """Where a synchronous Execute of ``identifier`` runs in a scheduler mode: local or scheduler."""
    resources = config.scheduler.processes.get(identifier)
    return (resources.sync if resources and resources.sync else config.scheduler.sync)


def make_backend_factory(config: Config) -> Callable[[], ClusterBackend]:
    """A factory run on the backend's own thread (DRMAA sessions belong to the thread that opened them)."""
    scheduler = config.scheduler
    if config.processing.mode == "slurm":
        return lambda: SlurmBackend(partition=scheduler.queue, native=scheduler.native,
                                    in_flight=scheduler.submit_concurrency)
    return lambda: DrmaaBackend(library=scheduler.drmaa_library, native=scheduler.native, queue=scheduler.queue)


def make_scheduler_runner(config: Config, key: bytes) -> SchedulerRunner:
    key_path = os.path.join(config.workdir, "job.key")
    return SchedulerRunner(backend_factory=make_backend_factory(config), spool=config.spool, key=key,
                           settings=settings_from_config(config.scheduler, key_path,
                                                         AccountMap.from_config(config.accounting)),
                           name=config.processing.mode)


def make_app(config: Config, service: WPSService, engine: Any, urls: Urls,
             answers: AnswerCache | None = None, metrics: GatewayMetrics | None = None,
             readiness: ReadinessCheck | None = None, access: Access | None = None) -> tornado.web.Application:
    spool = config.spool
    # /metrics is here unless it has a listener of its own (metrics.port); health is always here too
    here = metrics if not config.metrics.port else None
    ogcapi_rules, callbacks = ogcapi.make_routes(config, service, engine, urls.base, answers)  # "/": its landing page
    return MeasuredApplication([
        *monitoring_routes(here, readiness),
        *ogcapi_rules,
        (r"/wps/?", WPSHandler, {"service": service, "max_request_size": config.server.maxrequestsize,
                                 "answers": answers}),
        (rf"/status/{UUID}\.xml", StatusDocumentHandler, {"spool": spool}),
        (r"/status/?", JobListHandler, {"engine": engine, "urls": urls}),
        (r"/status/([^/]+)", JobHandler, {"engine": engine, "urls": urls}),
        (r"/outputs/([^/]+)/([^/]+)", OutputHandler, {"spool": spool}),
    ], default_handler_class=NotFoundHandler, debug=False, compress_response=False,
        cors=CorsPolicy(config.server.cors_origins), active_outputs=config.server.active_outputs, metrics=metrics,
        ogcapi_callbacks=callbacks, access=access)


def make_monitoring_app(config: Config, gateway: Gateway) -> tornado.web.Application:
    """The application of the separate metrics listener (metrics.port): /metrics and /health/*."""
    return MeasuredApplication(monitoring_routes(gateway.metrics, gateway.readiness),
                               default_handler_class=NotFoundHandler, debug=False, compress_response=False,
                               metrics=gateway.metrics)
