"""``wpsgate doctor``: check a configuration end to end, each check with ok or FAIL and the fix.

The checks run in the order a new installation fails them: the configuration, the
processes, the work folder and spool (writable, closed to other users), the signing key
(present, 0600), the database, the scheduler's tools (commands or DRMAA library) and
whether its controller answers.  Then, in a scheduler mode, a probe job goes the way every
job goes (a signed job file in a job folder on the spool, ``python -I -m joblauncher`` with
the configured interpreter, submitted by the gateway's own backend) and reports from the
node: that it read the gateway's token from the spool and wrote one back (the same
filesystem), that the configured processes import there, and, by running at all, that
the key verified; its status document coming back ends the round trip, which is timed.

Exit status 0 when everything holds, 1 when anything failed.  The doctor creates nothing
but the probe's job folder (removed after a successful probe, kept for inspection
otherwise).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import time
from typing import Any, Callable, Iterable, TextIO

from . import __version__
from .config import Config, ConfigError, load_config
from .preflight import Finding, dill_finding, drmaa_findings, slurm_commands_finding
from .process import FORMATS, ComplexOutput, Process

PROBE_ID = "wpsgate_doctor_probe"
TOKEN_FILE = "doctor.token"  # written by the gateway into the probe's job folder, read on the node
NODE_FILE = "doctor.node"  # written by the node, read by the gateway


# --- the probe job: what runs on the node ---------------------------------------------------------------------

class ProbeProcess(Process):
    """The probe job's process: reports from the node what the doctor cannot see from the gateway."""

    def __init__(self, token: str = "", paths: Iterable[str] = ()) -> None:
        self.token = token
        self.paths = tuple(paths)
        super().__init__(self._handler, identifier=PROBE_ID, title="wpsgate doctor probe", version=__version__,
                         outputs=[ComplexOutput("report", "What the node found", supported_formats=[FORMATS.JSON])],
                         store_supported=True, status_supported=True)

    def _handler(self, request: Any, response: Any) -> Any:
        folder = os.path.dirname(self.workdir)  # the job folder (the handler runs in its work/)
        response.outputs["report"].data = json.dumps(node_report(folder, self.token, self.paths))
        return response


def node_report(folder: str, token: str, paths: Iterable[str]) -> dict[str, Any]:
    """What the probe finds on the node: who and where it is, the spool token, the processes' imports."""
    from .registry import load_processes

    report: dict[str, Any] = {"host": socket.gethostname(), "python": sys.executable,
                              "python_version": sys.version.split()[0], "wpsgate": __version__}
    try:
        with open(os.path.join(folder, TOKEN_FILE), encoding="ascii") as handle:
            report["token"] = "same" if handle.read().strip() == token else "different"
    except OSError as exc:
        report["token"] = f"unreadable: {exc.strerror}"
    try:
        with open(os.path.join(folder, NODE_FILE), "w", encoding="ascii") as handle:
            handle.write(token[::-1])
    except OSError as exc:
        report["wrote"] = f"failed: {exc.strerror}"
    imports: dict[str, str] = {}
    for path in tuple(paths) or (None,):
        try:
            load_processes([path] if path else None)
            imports[path or "demo processes"] = "ok"
        except Exception as exc:  # each failure reported, none stops the probe
            imports[path or "demo processes"] = f"{type(exc).__name__}: {exc}"
    report["imports"] = imports
    return report


# --- the report -----------------------------------------------------------------------------------------------

class Report:
    """Prints each finding as it comes; remembers whether any failed."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failed = 0

    def add(self, finding: Finding) -> bool:
        self.failed += not finding.ok
        self.out.write(f"{'ok  ' if finding.ok else 'FAIL'}  {finding.name}: {finding.detail}\n")
        if not finding.ok and finding.fix:
            self.out.write(f"      fix: {finding.fix}\n")
        self.out.flush()
        return finding.ok

    def skip(self, name: str, why: str) -> None:
        self.out.write(f"skip  {name}: {why}\n")


def run_doctor(config_path: str | None, overrides: dict[str, Any] | None = None, probe: bool = True,
               timeout: float = 180.0, out: TextIO | None = None) -> int:
    """Run every check; 0 when all hold, 1 otherwise."""
    report = Report(out or sys.stdout)
    try:
        config = load_config(config_path, overrides=overrides)
    except ConfigError as exc:
        report.add(Finding("configuration", False, str(exc), "correct the key named (etc/wpsgate.yml documents "
                                                             "every key and its default)"))
        return 1
    report.add(Finding("configuration", True, f"{config_path or 'defaults'} is valid (mode "
                                              f"{config.processing.mode}, work folder {config.workdir}, "
                                              f"spool {config.spool})"))
    report.add(processes_finding(config))
    folders_ok = all([report.add(private_folder_finding("work folder", config.workdir)),
                      report.add(private_folder_finding("spool", config.spool))])
    key_path = os.path.join(config.workdir, "job.key")
    key_ok = report.add(key_finding(key_path))
    report.add(database_finding(config))
    scheduler_ok = scheduler_findings(config, report)
    if config.processing.mode == "local":
        report.skip("probe job", "local mode: jobs run in the gateway's own worker processes")
    elif not probe:
        report.skip("probe job", "--no-probe")
    elif not (folders_ok and key_ok and scheduler_ok):
        report.skip("probe job", "fix the failures above first")
    else:
        for finding in probe_job(config, key_path, timeout):
            report.add(finding)
    report.out.write("all checks passed\n" if not report.failed else f"{report.failed} check(s) failed\n")
    return 1 if report.failed else 0


# --- the checks -----------------------------------------------------------------------------------------------

PYTHONPATH_FIX = ("install the module into the gateway's virtualenv (pip install -e <your package>), or put its "
                  "folder on the gateway's PYTHONPATH and in scheduler.pythonpath (for the nodes)")


def processes_finding(config: Config) -> Finding:
    from .registry import load_processes

    try:
        processes = load_processes(config.processes)
    except ConfigError as exc:
        return Finding("processes", False, str(exc), PYTHONPATH_FIX)
    return Finding("processes", True, f"{len(processes)} import on the gateway ({', '.join(list(processes)[:5])}"
                                      f"{', ...' if len(processes) > 5 else ''})")


def private_folder_finding(name: str, path: str) -> Finding:
    """``path`` is a folder this account can write and other accounts cannot read."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return Finding(name, False, f"{path} does not exist",
                       f"start the gateway once (it creates it), or: install -d -m 700 {path}")
    except OSError as exc:
        return Finding(name, False, f"{path} cannot be examined: {exc.strerror}", "check the path's parents")
    if not stat.S_ISDIR(info.st_mode):
        return Finding(name, False, f"{path} is not a folder", "remove it or configure another path")
    try:
        probe = os.path.join(path, f".doctor-{secrets.token_hex(4)}")
        with open(probe, "wb") as handle:
            handle.write(b"ok")
        os.unlink(probe)
    except OSError as exc:
        return Finding(name, False, f"{path} is not writable: {exc.strerror}",
                       f"chown <service account> {path} && chmod 700 {path}")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o007:
        return Finding(name, False, f"{path} is open to other users (mode {mode:04o}): they could read job "
                                    "files, inputs and outputs", f"chmod 700 {path}")
    return Finding(name, True, f"{path} is writable and closed to other users (mode {mode:04o})")


def key_finding(path: str) -> Finding:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return Finding("signing key", False, f"{path} does not exist",
                       "start the gateway once (it creates the key), or: (umask 077; python3 -c "
                       f"'import secrets; print(secrets.token_hex(32))' > {path})")
    except OSError as exc:
        return Finding("signing key", False, f"{path} cannot be examined: {exc.strerror}", "check the path")
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISREG(info.st_mode):
        return Finding("signing key", False, f"{path} is not a regular file", "remove it; the gateway makes a new one")
    if mode != 0o600 and mode != 0o400:
        return Finding("signing key", False, f"{path} has mode {mode:04o}: others could sign job files",
                       f"chmod 600 {path}")
    if info.st_uid != os.getuid():
        return Finding("signing key", False, f"{path} belongs to uid {info.st_uid}, not to this account "
                                             f"({os.getuid()})", f"chown <service account> {path}")
    try:
        with open(path, "rb") as handle:
            length = len(handle.read().strip())
    except OSError as exc:
        return Finding("signing key", False, f"{path} cannot be read: {exc.strerror}", f"chmod 600 {path}")
    if length < 32:
        return Finding("signing key", False, f"{path} is too short ({length} bytes)",
                       f"remove {path}; the gateway makes a new one at its next start (queued jobs then fail)")
    return Finding("signing key", True, f"{path} (mode {mode:04o})")


def database_finding(config: Config) -> Finding:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(config.database_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database and not os.path.exists(url.database):
        folder = os.path.dirname(url.database) or "."
        if os.access(folder, os.W_OK):
            return Finding("database", True, f"{shown} will be created at the first start")
        return Finding("database", False, f"{shown} does not exist and {folder} is not writable",
                       f"install -d -m 700 {folder}, or set database.url")
    connect_args = {"connect_timeout": 10} if url.get_backend_name() == "postgresql" else {}
    try:
        engine = create_engine(url, connect_args=connect_args)
    except Exception as exc:  # a driver that is not installed, a URL SQLAlchemy does not know
        return Finding("database", False, f"{shown}: {exc}",
                       f"{sys.executable} -m pip install 'wpsgate[postgresql]' for PostgreSQL (psycopg2), or "
                       "correct database.url")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        orig = getattr(exc, "orig", exc)
        first = (str(orig).strip().splitlines() or [type(exc).__name__])[0]
        return Finding("database", False, f"{shown} cannot be reached: {first}",
                       "check that the database server runs, accepts connections from this host and that "
                       "database.url's user, password and database are right")
    finally:
        engine.dispose()
    return Finding("database", True, f"{shown} answers")


def scheduler_findings(config: Config, report: Report) -> bool:
    """The mode's tools, the controller, the nodes' interpreter; whether all hold."""
    mode = config.processing.mode
    if mode == "local":
        return True
    findings = [dill_finding()]
    if mode == "slurm":
        findings.append(slurm_commands_finding())
        if findings[-1].ok:
            findings.append(slurm_answers())
    else:
        findings.extend(drmaa_findings(config))
        if all(f.ok for f in findings):
            findings.append(drmaa_session_answers(config))
    findings.append(python_finding(config))
    return all([report.add(finding) for finding in findings])


def slurm_answers() -> Finding:
    from .monitoring.scheduler_probes import SLURM_QUESTION

    try:
        result = subprocess.run(SLURM_QUESTION, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Finding("slurm controller", False, f"sinfo: {exc}", "check that slurmctld runs and answers")
    if result.returncode != 0:
        return Finding("slurm controller", False, f"does not answer: {(result.stderr or result.stdout).strip()}",
                       "start slurmctld (and munged), or check SlurmctldHost in slurm.conf and the network to it")
    return Finding("slurm controller", True, f"answers (partitions: {' '.join(result.stdout.split()) or 'none'})")


def drmaa_session_answers(config: Config) -> Finding:
    from .backends.base import SubmitError
    from .monitoring.readiness import ProbeFailed
    from .monitoring.scheduler_probes import drmaa_answers
    from .server.app import make_backend_factory

    try:
        backend = make_backend_factory(config)()
    except SubmitError as exc:
        return Finding("drmaa session", False, str(exc), "check the DRMAA library and the scheduler's settings "
                                                         "(Grid Engine: SGE_ROOT, SGE_CELL)")
    except Exception as exc:  # DRMAA's own exceptions: no session
        return Finding("drmaa session", False, f"cannot open a session: {str(exc).strip()}",
                       "start the scheduler's master (Grid Engine: sge_qmaster) and check SGE_ROOT/SGE_CELL")
    try:
        drmaa_answers(backend)
    except ProbeFailed as exc:
        return Finding("drmaa session", False, f"the scheduler does not answer: {exc}",
                       "start the scheduler's master (Grid Engine: sge_qmaster)")
    finally:
        backend.close()
    return Finding("drmaa session", True, f"answers ({backend.contact or 'default contact'})")


def python_finding(config: Config) -> Finding:
    python = config.scheduler.python or sys.executable
    if not os.path.isabs(python):
        return Finding("nodes' python", False, f"scheduler.python {python!r} is not an absolute path",
                       "name the interpreter of the virtualenv on the shared filesystem, e.g. "
                       "/shared/wpsgate/venv/bin/python")
    if not os.access(python, os.X_OK):  # it has to exist on the nodes, not here: the probe job tells
        return Finding("nodes' python", True, f"{python} is not on this host; the probe job checks it on a node")
    return Finding("nodes' python", True, f"{python}")


# --- the probe job: the gateway's side ------------------------------------------------------------------------

def probe_job(config: Config, key_path: str, timeout: float,
              sleep: Callable[[float], None] = time.sleep) -> list[Finding]:
    """Submit the probe job as the gateway submits jobs and wait for its status document."""
    from .backends.base import ClusterJob, SubmitError
    from .jobs.cluster import LAUNCH_DIRECTORY, launch_command
    from .jobs.environment import job_environment
    from .jobs.folder import JobFolder, atomic_write
    from .jobs.jobfile import write_job_file
    from .protocol.status import read_document_state
    from .protocol.kvp import parse_kvp
    from .server.app import make_backend_factory
    from .service import Urls, WPSService

    with open(key_path, "rb") as handle:
        key = handle.read().strip()
    token = secrets.token_hex(16)
    process = ProbeProcess(token, config.processes)
    service = WPSService(config, {PROBE_ID: process}, None, Urls(config.server.base_url))
    _, spec, _, _ = service.prepare(parse_kvp(f"service=WPS&request=Execute&version=1.0.0&identifier={PROBE_ID}"
                                              "&storeExecuteResponse=true"))
    folder = JobFolder(config.spool, spec.uuid).create()
    atomic_write(os.path.join(folder.path, TOKEN_FILE), token.encode(), durable=True)
    write_job_file(folder, key, spec, timeout, process=process, pythonpath=config.scheduler.pythonpath,
                   durable=True)
    python = config.scheduler.python or sys.executable
    job = ClusterJob(uuid=spec.uuid, name="wpsgate-doctor", command=launch_command(python, key_path, folder.path),
                     folder=folder.path, workdir=LAUNCH_DIRECTORY, log=folder.log, walltime=max(60.0, timeout),
                     queue=config.scheduler.queue or None, environment=job_environment(config.scheduler.environment))
    findings: list[Finding] = []
    try:
        backend = make_backend_factory(config)()
    except Exception as exc:
        return [Finding("probe job", False, f"the scheduler backend cannot be opened: {exc}", "see above")]
    keep = True
    try:
        started = time.monotonic()
        try:
            backend_id = backend.submit(job)
        except SubmitError as exc:
            return [Finding("probe job", False, f"the scheduler refused it: {exc}",
                            "check scheduler.queue and scheduler.native (they are passed to every job)")]
        findings.append(Finding("probe job", True, f"submitted as {backend.name} job {backend_id} "
                                                   f"(folder {folder.path})"))
        ended = _wait(backend, backend_id, folder.status, started + timeout, config.scheduler.nfs_grace,
                      read_document_state, sleep)
        seconds = time.monotonic() - started
        if ended == "timeout":
            backend.cancel(backend_id)
            findings.append(Finding("probe round trip", False, f"no final status document within {timeout:g} s "
                                                               f"(cancelled; job folder kept: {folder.path})",
                                    "are nodes free (sinfo / qstat -f)? Raise --timeout if the queue is long"))
            return findings
        findings.extend(_judge(folder, token, seconds, python))
        keep = not all(f.ok for f in findings)
        return findings
    finally:
        backend.close()
        if keep:
            findings.append(Finding("probe job folder", True, f"kept for inspection: {folder.path}"))
        else:
            shutil.rmtree(folder.path, ignore_errors=True)


def _wait(backend: Any, backend_id: str, status_path: str, deadline: float, grace: float,
          read_state: Callable[[str], Any], sleep: Callable[[float], None]) -> str:
    """'document' once the final status document is there, 'ended' when the scheduler says the job is over
    without one (after ``grace``), 'timeout'."""
    over_since = None
    next_poll = 0.0
    while time.monotonic() < deadline:
        state = read_state(status_path)
        if state is not None and state.final:
            return "document"
        now = time.monotonic()
        if now >= next_poll:
            next_poll = now + 2.0
            try:
                scheduler = backend.poll([backend_id]).get(backend_id)
            except Exception:  # noqa: BLE001 - a query that fails is asked again
                scheduler = None
            if scheduler is not None and scheduler.finished:
                over_since = over_since or now
        if over_since is not None and now - over_since >= grace:
            state = read_state(status_path)
            return "document" if state is not None and state.final else "ended"
        sleep(0.25)
    return "timeout"


def _judge(folder: Any, token: str, seconds: float, python: str) -> list[Finding]:
    from lxml import etree

    from .protocol.status import read_document_state
    from .protocol.namespaces import WPS

    state = read_document_state(folder.status)
    record = folder.read_final()
    if record is not None and record.state == "refused":
        return [Finding("key on the node", False, f"the node refused the job file: {record.message}",
                        "the nodes must read the same key file as the gateway (the work folder on the shared "
                        "filesystem, same path) and the job folder unchanged")]
    if state is None or not state.final:
        tail = _tail(folder.log)
        return [Finding("probe round trip", False, "the job ended without a status document; its log says: "
                                                   + (tail or "(nothing)"),
                        f"check that {python} exists on the nodes with wpsgate installed (scheduler.python), "
                        "and that the spool is mounted at the same path there")]
    if state.state == "failed":
        fix = (f"install wpsgate (with the processing extra) into the virtualenv of {python} on the nodes"
               if "could not be loaded" in state.message else "see the job log in the kept job folder")
        return [Finding("key on the node", True, "the job file verified"),
                Finding("probe job ran", False, state.message, fix)]
    root = etree.parse(folder.status).getroot()
    text = root.findtext(f".//{{{WPS}}}ComplexData") or "{}"
    report = json.loads(text)
    findings = [Finding("key on the node", True, "the job file verified with the gateway's key")]
    try:
        with open(os.path.join(folder.path, NODE_FILE), encoding="ascii") as handle:
            wrote_back = handle.read().strip() == token[::-1]
    except OSError:
        wrote_back = False
    same = report.get("token") == "same" and wrote_back
    findings.append(Finding("same spool on the node", same,
                            f"{report.get('host')} read the gateway's token and wrote one back" if same else
                            f"{report.get('host')}: token {report.get('token')}, written back: {wrote_back}",
                            "mount the spool at the same path on the gateway and on every node"))
    broken = {path: error for path, error in report.get("imports", {}).items() if error != "ok"}
    findings.append(Finding("processes on the node", not broken,
                            f"import with {report.get('python')} (Python {report.get('python_version')}, wpsgate "
                            f"{report.get('wpsgate')})" if not broken else
                            "; ".join(f"{path}: {error}" for path, error in broken.items()),
                            "install the process package into the nodes' virtualenv (scheduler.python), or list "
                            "its folder (on the shared filesystem) in scheduler.pythonpath"))
    findings.append(Finding("probe round trip", True, f"status document back in {seconds:.1f} s"))
    return findings


def _tail(path: str, size: int = 600) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return " | ".join(handle.read().decode(errors="replace").strip().splitlines())
    except OSError:
        return ""
