"""What PyWPS's global state must say while one job's handler runs.

PyWPS keeps its configuration in a module global (``pywps.configuration.CONFIG``)
and builds the storage of outputs by reference from it; process code reads it
too (``server.outputurl``, ``server.workdir``).  While a handler runs, those
values name the job's own folder and URLs, so that files PyWPS stores itself
(MetaLink members, ``ComplexOutput.url`` of a stored file) land flat in the
job's ``outputs/`` folder, where the gateway serves them, and nothing is written
to PyWPS's default temporary folders.  The previous values are restored after
the handler: a worker runs one job at a time, one after the other.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
from typing import Iterator
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _flat_storage_class() -> type:
    from pywps.inout.storage import STORE_TYPE
    from pywps.inout.storage.file import FileStorage, _build_output_name

    class JobOutputStorage(FileStorage):
        """PyWPS's file storage, flattened into one job's outputs folder (no per-request subfolder)."""

        def __init__(self, folder: str, url: str, reserved: frozenset[str]) -> None:
            super().__init__(folder, url)
            self.reserved = reserved

        def _free_name(self, name: str) -> str:
            stem, suffix = os.path.splitext(_UNSAFE.sub("_", name).lstrip(".") or "output")
            while stem in self.reserved:  # the gateway writes declared outputs as <identifier><extension>
                stem = f"file-{stem}"
            candidate, number = f"{stem}{suffix}", 1
            while os.path.exists(os.path.join(self.target, candidate)):
                candidate, number = f"{stem}-{number}{suffix}", number + 1
            return candidate

        def _do_store(self, output):  # noqa: ANN001, ANN202 (PyWPS's signature)
            name = self._free_name(_build_output_name(output)[0])
            target = os.path.join(self.target, name)
            shutil.copyfile(output.file, target + ".part")
            os.replace(target + ".part", target)
            return STORE_TYPE.PATH, name, self.url(name)

        def url(self, destination):  # noqa: ANN001, ANN202
            name = destination if isinstance(destination, str) else os.path.basename(destination.file)
            return self.output_url + quote(name)

        def write(self, data, destination, data_format=None):  # noqa: ANN001, ANN202
            name = self._free_name(destination)
            mode = "wb" if isinstance(data, bytes) else "w"
            with open(os.path.join(self.target, name), mode) as handle:
                handle.write(data)
            return self.url(name)

    return JobOutputStorage


def _escaped(value: str) -> str:
    return value.replace("%", "%%")  # PyWPS's ConfigParser interpolates '%'


@contextlib.contextmanager
def job_settings(*, workdir: str, outputs_folder: str, output_url: str, language: str,
                 reserved_names: frozenset[str]) -> Iterator[None]:
    """PyWPS's configuration and output storage pointing at one job while the block runs."""
    import pywps.configuration as configuration
    from pywps.inout.storage.file import FileStorageBuilder

    if not configuration.CONFIG:
        configuration.load_configuration()
    config = configuration.CONFIG
    values = {"outputpath": outputs_folder or workdir, "outputurl": output_url, "workdir": workdir,
              "language": language, "storagetype": "file"}
    if not config.has_section("server"):
        config.add_section("server")
    saved = {key: config.get("server", key, raw=True, fallback=None) for key in values}
    for key, value in values.items():
        config.set("server", key, _escaped(value))
    storage_class = _flat_storage_class()
    original_build = FileStorageBuilder.build
    FileStorageBuilder.build = lambda self: storage_class(outputs_folder or workdir, output_url, reserved_names)
    try:
        yield
    finally:
        FileStorageBuilder.build = original_build
        for key, value in saved.items():
            if value is None:
                config.remove_option("server", key)
            else:
                config.set("server", key, value)
