"""``wpsgate serve`` stops at once, with the fix, when its mode cannot work here (instead of answering every
Execute with a 500 later): dill missing, Slurm's commands missing, a DRMAA library missing or not loadable, a
spool that cannot be written."""
import os
import subprocess
import sys

import yaml

from .gateway import free_port
from .schedulers import REPO


def serve(tmp_path, settings, env=None):
    port = free_port()
    settings = {"server": {"workdir": str(tmp_path / "work"), "port": port}, **settings}
    path = tmp_path / "wpsgate.yml"
    path.write_text(yaml.safe_dump(settings))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WPSGATE_")}
    result = subprocess.run([sys.executable, "-m", "wpsgate", "serve", "--config", str(path)], capture_output=True,
                            text=True, timeout=60, cwd=REPO, env={**environ, **(env or {})})
    return result.returncode, result.stderr


def test_missing_dill(tmp_path):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "dill.py").write_text("raise ImportError(\"No module named 'dill'\")\n")  # as if not installed
    code, stderr = serve(tmp_path, {"processing": {"mode": "slurm"}}, {"PYTHONPATH": str(hidden)})
    assert code == 1
    assert "cannot start in slurm mode" in stderr and "python module dill" in stderr
    assert "pip install" in stderr and "[processing]" in stderr


def test_missing_slurm_commands(tmp_path):
    code, stderr = serve(tmp_path, {"processing": {"mode": "slurm"}}, {"PATH": str(tmp_path / "empty")})
    assert code == 1
    assert "sbatch, squeue, sacct, scancel, sinfo not found on PATH" in stderr
    assert "apt-get install slurm-client" in stderr


def test_missing_drmaa_library(tmp_path):
    code, stderr = serve(tmp_path, {"processing": {"mode": "drmaa"},
                                    "scheduler": {"drmaa_library": str(tmp_path / "nowhere" / "libdrmaa.so")}})
    assert code == 1
    assert f"{tmp_path / 'nowhere' / 'libdrmaa.so'} does not exist" in stderr
    assert "scheduler.drmaa_library" in stderr


def test_drmaa_library_that_does_not_load(tmp_path):
    library = tmp_path / "libdrmaa.so"
    library.write_bytes(b"\x7fELF but not really")
    code, stderr = serve(tmp_path, {"processing": {"mode": "drmaa"}, "scheduler": {"drmaa_library": str(library)}})
    assert code == 1
    assert f"{library} cannot be loaded" in stderr and "fix:" in stderr


def test_spool_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, stderr = serve(tmp_path, {"processing": {"spool": str(blocker / "spool")}})
    assert code == 1
    assert f"spool: {blocker / 'spool'} cannot be created or written" in stderr
    assert "install -d -m 700" in stderr


def test_every_problem_is_named_at_once(tmp_path):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "dill.py").write_text("raise ImportError(\"No module named 'dill'\")\n")
    code, stderr = serve(tmp_path, {"processing": {"mode": "slurm"}},
                         {"PYTHONPATH": str(hidden), "PATH": str(tmp_path / "empty")})
    assert code == 1
    assert "python module dill" in stderr and "not found on PATH" in stderr


def test_a_process_module_that_does_not_import_says_how_to_make_it_importable(tmp_path):
    code, stderr = serve(tmp_path, {"processes": ["no_such_package_xyz.processes:Regrid"]})
    assert code == 2
    assert "cannot import no_such_package_xyz.processes" in stderr
    assert "PYTHONPATH" in stderr and "scheduler.pythonpath" in stderr and sys.prefix in stderr
