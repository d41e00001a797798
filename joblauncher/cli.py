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
    parser.add_argument("command_or_folder", metavar="[run|inspect] JOB_FOLDER", nargs="+")
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    words = list(args.command_or_folder)
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
