"""file:// input references: checked and opened in one step, no symlink followed, the job reads a copy.

The attack: a user who can write below an allowed input path asks for a file there,
and once the Execute is accepted replaces a folder on the path by a symlink to the
gateway's work folder, so that the job (which runs later: here it waits behind a busy
worker) would read the gateway's signing key.  Also: symlinks at every component, ``..``,
hard links to files outside, FIFOs and size.  One gateway for the module (one worker).
"""
from __future__ import annotations

import json
import os
import stat

import pytest
from lxml import etree

from wpsgate.jobs.local_files import FileRefused, FileTooLarge, allowed_roots, copy_from_descriptor, open_below

from .gateway import NS, GatewayProcess, exception_of, status_of, uuid_of, wait_for
from .test_references import by_reference


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    base = tmp_path_factory.mktemp("files")
    data = base / "data"
    (data / "project" / "run").mkdir(parents=True)
    (data / "project" / "run" / "words.txt").write_text("original original words")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret secret secret")
    process = GatewayProcess(str(base / "gateway"), {
        "server": {"allowedinputpaths": [str(data)], "maxfileinputsize": "1kb"},
        "processing": {"parallelprocesses": 1, "maxqueue": 10}}).start()
    process.spool = os.path.join(process.workdir, "spool")
    process.data, process.outside = data, outside
    yield process
    process.stop()


def output_of(document: etree._Element) -> list:
    assert status_of(document) == "ProcessSucceeded", etree.tostring(document)[:2000]
    return json.loads(document.findtext("wps:ProcessOutputs/wps:Output/wps:Data/wps:ComplexData", namespaces=NS))


def test_folder_swapped_for_a_symlink_after_accept_does_not_reach_the_job(gateway):
    """The job waits in the queue behind a busy worker while ``data/project`` becomes a symlink to the
    gateway's work folder (where job.key is); it still counts the words of the file that was checked."""
    project = gateway.data / "project"
    (project / "job.key").write_text("original original words")
    busy = gateway.execute("sleep", "delay=0.3", storeExecuteResponse="true", status="true")
    busy_location = etree.fromstring(busy.content).get("statusLocation")
    wait_for(lambda: gateway.job(uuid_of(busy_location))["status"] == "started", 20, "the sleep job did not start")
    accepted = gateway.execute("wordcounter", by_reference("file://" + str(project / "job.key")),
                               storeExecuteResponse="true", ResponseDocument="output@asReference=false")
    assert accepted.status_code == 200, accepted.text
    location = etree.fromstring(accepted.content).get("statusLocation")
    assert gateway.job(uuid_of(location))["status"] == "accepted"  # queued: the job has not read anything yet
    os.rename(project, gateway.data / "project-before")
    os.symlink(gateway.workdir, project)  # data/project/job.key is now the signing key
    try:
        assert os.path.exists(os.path.join(gateway.workdir, "job.key"))
        final = gateway.wait_final(location, timeout=30)
        assert output_of(final) == [[2, "original"], [1, "words"]]
        staged = os.path.join(gateway.spool, uuid_of(location), "inputs")
        assert [open(os.path.join(staged, n)).read() for n in os.listdir(staged)] == ["original original words"]
    finally:
        os.unlink(project)
        os.rename(gateway.data / "project-before", project)
        os.unlink(project / "job.key")


def test_file_inside_is_read(gateway):
    response = gateway.execute("wordcounter", by_reference("file://" + str(gateway.data / "project/run/words.txt")),
                               ResponseDocument="output@asReference=false")
    assert output_of(etree.fromstring(response.content)) == [[2, "original"], [1, "words"]]


SYMLINKS = {  # where a symlink sits on the path data/<...>/secret.txt, and the path asked for
    "root-child-folder": ("link", "link/secret.txt"),
    "intermediate-folder": ("project/link", "project/link/secret.txt"),
    "file-itself": ("project/run/secret.txt", "project/run/secret.txt"),
}


@pytest.mark.parametrize("where", sorted(SYMLINKS))
def test_symlink_at_any_component_is_refused(gateway, where):
    link, asked = SYMLINKS[where]
    target = gateway.outside / "secret.txt" if link.endswith(".txt") else gateway.outside
    os.symlink(target, gateway.data / link)
    try:
        response = gateway.execute("wordcounter", by_reference("file://" + str(gateway.data / asked)))
    finally:
        os.unlink(gateway.data / link)
    code, locator, text = exception_of(response)
    assert (response.status_code, code, locator) == (400, "InvalidParameterValue", "text")
    assert "symbolic link" in text and "secret secret" not in response.text


@pytest.mark.parametrize("asked", ["project/../../outside/secret.txt", "project/run/../run/words.txt",
                                   "project//run/words.txt", "project/./run/words.txt"])
def test_dot_dot_and_empty_components_are_refused(gateway, asked):
    response = gateway.execute("wordcounter", by_reference("file://" + str(gateway.data) + "/" + asked))
    code, locator, text = exception_of(response)
    assert (response.status_code, code, locator) == (400, "InvalidParameterValue", "text")
    assert "'..', '.' or empty components" in text


def test_hard_link_to_a_file_outside_is_refused(gateway):
    """A hard link is the file itself; with more than one link it is refused (allow_hardlinked_inputs: false)."""
    link = gateway.data / "project" / "linked.txt"
    os.link(gateway.outside / "secret.txt", link)
    try:
        response = gateway.execute("wordcounter", by_reference("file://" + str(link)))
    finally:
        os.unlink(link)
    code, locator, text = exception_of(response)
    assert (response.status_code, code, locator) == (400, "InvalidParameterValue", "text")
    assert "hard link" in text and "secret secret" not in response.text


def test_file_over_the_copy_limit(gateway):
    big = gateway.data / "project" / "big.txt"
    big.write_text("word " * 400)  # 2000 bytes, maxfileinputsize is 1kb
    try:
        response = gateway.execute("wordcounter", by_reference("file://" + str(big)))
    finally:
        big.unlink()
    code, locator, _ = exception_of(response)
    assert (response.status_code, code, locator) == (413, "FileSizeExceeded", "text")


# --- the opening and copying functions themselves ------------------------------------------------------------


def test_hard_links_are_accepted_when_configured(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "shared.txt").write_text("deduplicated")
    os.link(tmp_path / "shared.txt", tmp_path / "data" / "shared.txt")
    roots = allowed_roots([str(tmp_path / "data")])
    with pytest.raises(FileRefused, match="hard link"):
        open_below(str(tmp_path / "data" / "shared.txt"), roots)
    with os.fdopen(open_below(str(tmp_path / "data" / "shared.txt"), roots, allow_hardlinks=True), "rb") as handle:
        assert handle.read() == b"deduplicated"


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    (tmp_path / "data").mkdir()
    os.mkfifo(tmp_path / "data" / "pipe")
    with pytest.raises(FileRefused, match="regular file"):
        open_below(str(tmp_path / "data" / "pipe"), allowed_roots([str(tmp_path / "data")]))


def test_copy_counts_bytes_and_leaves_nothing_when_too_large(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    handle = os.open(source, os.O_RDONLY)
    try:
        assert copy_from_descriptor(handle, str(tmp_path / "copy"), 4 * 1024 * 1024) == 3 * 1024 * 1024 + 5
        with pytest.raises(FileTooLarge):
            copy_from_descriptor(handle, str(tmp_path / "small"), 1024 * 1024)
    finally:
        os.close(handle)
    assert (tmp_path / "copy").read_bytes() == source.read_bytes()
    assert stat.S_IMODE(os.stat(tmp_path / "copy").st_mode) & 0o007 == 0
    assert not (tmp_path / "small").exists()
