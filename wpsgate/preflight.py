"""What a configured mode needs before the gateway can take a job, each missing piece with its fix.

``wpsgate serve`` runs ``start_problems`` before it listens and stops with the first
problem's message, instead of starting and answering every Execute with a 500;
``wpsgate doctor`` runs the same checks and more (see wpsgate.doctor).  Every check
returns a ``Finding``: what was checked, whether it holds, what was found and what to do.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass

from .config import Config

SLURM_COMMANDS = ("sbatch", "squeue", "sacct", "scancel", "sinfo")
VENV_INSTALL = f"{sys.executable} -m pip install"


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def message(self) -> str:
        return f"{self.name}: {self.detail}" + (f"\n  fix: {self.fix}" if self.fix and not self.ok else "")


def module_finding(module: str, why: str, fix: str) -> Finding:
    """``module`` imports in this interpreter."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return Finding(f"python module {module}", False, f"{why}, and it cannot be imported ({exc})", fix)
    return Finding(f"python module {module}", True, "imports")


def dill_finding() -> Finding:
    return module_finding("dill", "scheduler modes write job files with dill",
                          f"install the processing extra into the gateway's virtualenv: "
                          f"{VENV_INSTALL} 'wpsgate[processing]' (from a clone: pip install -e '.[processing]')")


def slurm_commands_finding() -> Finding:
    missing = [command for command in SLURM_COMMANDS if shutil.which(command) is None]
    if missing:
        return Finding("slurm commands", False, f"{', '.join(missing)} not found on PATH "
                       f"({os.environ.get('PATH', '')})",
                       "install Slurm's client commands and the cluster's slurm.conf on the gateway host "
                       "(Debian: apt-get install slurm-client), or start the gateway with them on its PATH; "
                       "or use processing.mode drmaa")
    return Finding("slurm commands", True, ", ".join(shutil.which(c) or c for c in SLURM_COMMANDS[:2]) + ", ...")


def drmaa_library_path(config: Config) -> str:
    """The library the drmaa package will load: scheduler.drmaa_library, $DRMAA_LIBRARY_PATH, or a system one."""
    return (config.scheduler.drmaa_library or os.environ.get("DRMAA_LIBRARY_PATH", "")
            or ctypes.util.find_library("drmaa") or "")


def drmaa_findings(config: Config) -> list[Finding]:
    """The drmaa package and its C library (loaded here, as the gateway will load it)."""
    found = [module_finding_spec("drmaa", "drmaa mode talks to the scheduler through the drmaa package",
                                 f"{VENV_INSTALL} 'wpsgate[processing]' (or: {VENV_INSTALL} drmaa)")]
    library = drmaa_library_path(config)
    fix = ("set scheduler.drmaa_library (or DRMAA_LIBRARY_PATH) to the scheduler's libdrmaa.so, e.g. "
           "/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0 (Debian: apt-get install gridengine-drmaa1.0) "
           "or Slurm's slurm-drmaa libdrmaa.so")
    if not library:
        found.append(Finding("drmaa library", False, "no DRMAA library is configured or installed", fix))
        return found
    if not os.path.isfile(library):
        found.append(Finding("drmaa library", False, f"{library} does not exist", fix))
        return found
    try:
        ctypes.CDLL(library)
    except OSError as exc:
        tls = "static TLS" in str(exc)
        found.append(Finding("drmaa library", False, f"{library} cannot be loaded: {exc}",
                             "set GLIBC_TUNABLES=glibc.rtld.optional_static_tls=4096 in the gateway's environment "
                             "(Grid Engine's libdrmaa needs libjemalloc, which needs more static TLS)" if tls else
                             f"install the libraries {library} needs (ldd {library}) or point "
                             "scheduler.drmaa_library at a working libdrmaa.so"))
        return found
    found.append(Finding("drmaa library", True, f"{library} loads"))
    return found


def module_finding_spec(module: str, why: str, fix: str) -> Finding:
    """``module`` is installed (not imported: drmaa loads its C library on import)."""
    if importlib.util.find_spec(module) is None:
        return Finding(f"python module {module}", False, f"{why}, and it is not installed", fix)
    return Finding(f"python module {module}", True, "installed")


def folder_finding(name: str, path: str, create: bool) -> Finding:
    """``path`` is (or, with ``create``, can be made) a folder this account can write."""
    try:
        if create:
            os.makedirs(path, mode=0o700, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".writable-", dir=path)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        what = "cannot be created or written" if create else "cannot be written"
        return Finding(name, False, f"{path} {what}: {exc.strerror or exc}",
                       f"give the service account a folder it owns, e.g. install -d -m 700 -o <account> {path}, "
                       "or choose another with server.workdir / processing.spool")
    return Finding(name, True, f"{path} is writable")


def start_problems(config: Config) -> list[Finding]:
    """The checks ``wpsgate serve`` runs before listening; the failed ones (empty: it can start)."""
    findings = [folder_finding("work folder", config.workdir, create=True),
                folder_finding("spool", config.spool, create=True)]
    mode = config.processing.mode
    if mode in ("slurm", "drmaa"):
        findings.append(dill_finding())
    if mode == "slurm":
        findings.append(slurm_commands_finding())
    if mode == "drmaa":
        findings.extend(drmaa_findings(config))
    return [finding for finding in findings if not finding.ok]


class StartError(Exception):
    """The configured mode cannot work here; the message says what is missing and how to fix it."""


def check_start(config: Config) -> None:
    """Raise StartError naming every missing piece, each with its fix."""
    problems = start_problems(config)
    if problems:
        lines = [f"cannot start in {config.processing.mode} mode:"] + [f"- {p.message()}" for p in problems]
        raise StartError("\n".join(lines))
