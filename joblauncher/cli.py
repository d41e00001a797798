"""``joblauncher JOB_FOLDER`` runs a job; ``joblauncher inspect JOB_FOLDER`` shows one."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Sequence

from wpsgate.protocol.documents import STATUS_TAGS
from wpsgate.protocol.status import read_document_state

from .launch import EXIT_REFUSED, EXIT_UNLOADABLE, EXIT_USAGE, job_folder, load_job, load_record, read_key, run_folder

DEFAULT_KEY_ENV = "WPSGATE_JOB_KEY"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="joblauncher",
        description="Run a wpsgate job from its folder on the shared spool (what the scheduler calls), "
                    "or inspect one.",
        epilog="Exit codes: 0 succeeded, 1 process failed, 2 usage, 3 job file refused, 4 job not loadable, "
               "128+N stopped by signal N. The signing key is --key, else $WPSGATE_JOB_KEY, else job.key "
               "beside the spool folder.")
    parser.add_argument("--key", metavar="FILE", help="the gateway's signing key file")
    parser.add_argument("--batch", metavar="MANIFEST",
                        help="run the job of this array task: line $SLURM_ARRAY_TASK_ID (from 0), or "
                             "$SGE_TASK_ID (from 1), of the manifest names it")
    parser.add_argument("command_or_folder", metavar="[run|inspect] JOB_FOLDER", nargs="*")
    return parser


def _default_key(folder: str) -> str:
    spool = os.path.dirname(os.path.realpath(folder))
    return os.environ.get(DEFAULT_KEY_ENV) or os.path.join(os.path.dirname(spool), "job.key")


def inspect(folder_path: str, key_path: str) -> int:
    """Print the job's process, inputs, outputs and state as JSON (loads the job, never runs it)."""
    folder = job_folder(folder_path)
    record = load_record(folder, read_key(key_path))
    try:
        job = load_job(folder, record)
    except Exception as exc:  # e.g. a module missing here: say so, as the run would
        print(f"joblauncher: the job could not be loaded: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNLOADABLE
    spec = job.spec
    document = read_document_state(folder.status)
    status = STATUS_TAGS[document.state] if document is not None else "missing"
    result = folder.read_final()
    print(json.dumps({
        "uuid": folder.uuid,
        "process": spec.process_identifier,
        "process_class": f"{type(job.process).__module__}.{type(job.process).__qualname__}" if job.process else None,
        "inputs": {name: [repr(v.data) if v.kind != "complex" else (v.url or f"{len(v.raw_bytes())} bytes")
                          for v in values] for name, values in spec.inputs.items()},
        "outputs": [{"identifier": c.identifier, "as_reference": c.as_reference,
                     "mime_type": c.format.mime_type if c.format else None} for c in spec.outputs],
        "timeout": job.timeout,
        "status_document": status,
        "final_record": dataclasses.asdict(result) if result is not None else None,
    }, indent=2, default=str))
    return 0


def array_task_index(environ: dict[str, str] | None = None) -> int:
    """This array task's index from 0, from Slurm's or Grid Engine's variable; ValueError without one."""
    environ = os.environ if environ is None else environ
    slurm, grid_engine = environ.get("SLURM_ARRAY_TASK_ID", ""), environ.get("SGE_TASK_ID", "")
    if slurm.isdigit():
        return int(slurm)
    if grid_engine.isdigit() and int(grid_engine) >= 1:
        return int(grid_engine) - 1
    raise ValueError("neither SLURM_ARRAY_TASK_ID nor SGE_TASK_ID names this array task")


def batch_folder(manifest: str) -> str:
    """The job folder of this array task: the manifest lives in <spool>/batches/, the job in <spool>/<uuid>."""
    from wpsgate.jobs.folder import read_manifest_line

    real = os.path.realpath(manifest)
    return os.path.join(os.path.dirname(os.path.dirname(real)), read_manifest_line(real, array_task_index()))


def _output_to(path: str) -> None:
    """Send this process's stdout and stderr to the job's own log (the array's log is shared)."""
    sys.stdout.flush()
    sys.stderr.flush()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.batch:
        if args.command_or_folder:
            print("joblauncher: --batch takes no JOB_FOLDER", file=sys.stderr)
            return EXIT_USAGE
        try:
            folder = batch_folder(args.batch)
        except (OSError, ValueError) as exc:
            print(f"joblauncher: job refused: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        from wpsgate.jobs.folder import JobFolder

        if os.path.isdir(folder):
            _output_to(JobFolder(os.path.dirname(folder), os.path.basename(folder)).log)
        return run_folder(folder, args.key or _default_key(folder))
    words = list(args.command_or_folder)
    if not words:
        print("joblauncher: give exactly one JOB_FOLDER", file=sys.stderr)
        return EXIT_USAGE
    command = "run"
    if words[0] in ("run", "inspect"):
        command = words.pop(0)
    if len(words) != 1:
        print("joblauncher: give exactly one JOB_FOLDER", file=sys.stderr)
        return EXIT_USAGE
    folder = words[0]
    key = args.key or _default_key(folder)
    if command == "inspect":
        from wpsgate.jobs.jobfile import JobFileError
        try:
            return inspect(folder, key)
        except JobFileError as exc:
            print(f"joblauncher: job refused: {exc}", file=sys.stderr)
            return EXIT_REFUSED
    return run_folder(folder, key)
