"""Signed job files: only what the gateway signed, for this very job folder, may run."""
import json
import os
import pickle
import stat
import uuid as _uuid

import pytest

from wpsgate.jobs.jobfile import MAGIC, JobFileError, load_or_create_key, pack, sign, unpack, verify
from wpsgate.protocol.documents import ResponseContext

KEY = b"0123456789abcdef" * 4
OTHER_KEY = b"fedcba9876543210" * 4
PAYLOAD = b"\x80\x05 a job's bytes \x00\n with newlines\n\nand binary \xff\xfe"


def new_uuid() -> str:
    return str(_uuid.uuid4())


def refused(key: bytes, uuid: str, data: bytes) -> str:
    """verify() must raise JobFileError (nothing else) with a message; returns the message."""
    with pytest.raises(JobFileError) as info:
        verify(key, uuid, data)
    message = str(info.value)
    assert message.strip(), "a refused job file needs a message saying why"
    return message


# --- sign / verify ----------------------------------------------------------------------------------------

def test_round_trip_returns_the_payload_unchanged():
    uuid = new_uuid()
    data = sign(KEY, uuid, PAYLOAD)
    assert data.startswith(MAGIC + b" ")
    assert data.endswith(PAYLOAD)
    assert verify(KEY, uuid, data) == PAYLOAD


def test_empty_payload_round_trips():
    uuid = new_uuid()
    assert verify(KEY, uuid, sign(KEY, uuid, b"")) == b""


def test_signature_depends_on_key_uuid_and_payload():
    uuid = new_uuid()
    base = sign(KEY, uuid, PAYLOAD)
    assert sign(KEY, uuid, PAYLOAD) == base  # deterministic
    assert sign(OTHER_KEY, uuid, PAYLOAD) != base
    assert sign(KEY, new_uuid(), PAYLOAD) != base
    assert sign(KEY, uuid, PAYLOAD + b"x") != base


@pytest.mark.parametrize("position", [-1, -len(PAYLOAD) // 2, -len(PAYLOAD)])
def test_modified_payload_is_refused(position):
    uuid = new_uuid()
    data = bytearray(sign(KEY, uuid, PAYLOAD))
    data[position] ^= 0x01
    assert "signature" in refused(KEY, uuid, bytes(data))


def test_appended_payload_is_refused():
    uuid = new_uuid()
    refused(KEY, uuid, sign(KEY, uuid, PAYLOAD) + b"import os; os.system('rm -rf ~')")


@pytest.mark.parametrize("keep", [0, 5, len(MAGIC) + 1, len(MAGIC) + 30, len(MAGIC) + 65, "half", "minus1"])
def test_truncated_file_is_refused(keep):
    uuid = new_uuid()
    data = sign(KEY, uuid, PAYLOAD)
    cut = {"half": len(data) // 2, "minus1": len(data) - 1}.get(keep, keep)
    refused(KEY, uuid, data[:cut])


def test_unsigned_file_is_refused_and_says_so():
    uuid = new_uuid()
    message = refused(KEY, uuid, pickle.dumps({"version": 1, "context": None, "job": b""}))
    assert "not signed" in message


def test_header_with_wrong_magic_is_refused():
    uuid = new_uuid()
    data = sign(KEY, uuid, PAYLOAD).replace(MAGIC, b"WPSGATE-JOB-0", 1)
    assert "not signed" in refused(KEY, uuid, data)


def test_signed_with_another_key_is_refused():
    uuid = new_uuid()
    message = refused(KEY, uuid, sign(OTHER_KEY, uuid, PAYLOAD))
    assert "signature" in message


def test_file_copied_into_another_jobs_folder_is_refused():
    original, other = new_uuid(), new_uuid()
    data = sign(KEY, original, PAYLOAD)
    assert verify(KEY, original, data) == PAYLOAD
    message = refused(KEY, other, data)
    assert "signature" in message


def test_modified_signature_hex_digit_is_refused():
    uuid = new_uuid()
    data = bytearray(sign(KEY, uuid, PAYLOAD))
    index = len(MAGIC) + 1  # first hex digit of the signature
    data[index] = ord("0") if data[index] != ord("0") else ord("1")
    refused(KEY, uuid, bytes(data))


def test_flipped_byte_in_signature_is_refused_with_job_file_error():
    """Any single flipped byte must give JobFileError; a non-ASCII byte in the header must not crash verify().

    (The joblauncher only catches JobFileError: anything else is a traceback and exit 1 instead of
    "refused", exit 3.)
    """
    uuid = new_uuid()
    data = bytearray(sign(KEY, uuid, PAYLOAD))
    data[len(MAGIC) + 10] ^= 0xFF
    refused(KEY, uuid, bytes(data))


def test_signature_of_wrong_length_is_refused():
    uuid = new_uuid()
    data = sign(KEY, uuid, PAYLOAD)
    header, _, payload = data.partition(b"\n")
    refused(KEY, uuid, header[:-2] + b"\n" + payload)
    refused(KEY, uuid, header + b"00\n" + payload)


# --- pack / unpack ----------------------------------------------------------------------------------------

def context() -> ResponseContext:
    return ResponseContext(service_instance="http://127.0.0.1:9/wps?service=WPS&request=GetCapabilities",
                           process_identifier="hello", process_title="Say Hello", process_abstract="Says hello",
                           process_version="1.5", status_location="http://127.0.0.1:9/status/x.xml",
                           language="en-US", lineage=True, output_titles={"output": "Output response"})


def test_pack_unpack_round_trip_with_a_response_context():
    uuid = new_uuid()
    job = b"dill bytes \x00\xff\n"
    record = unpack(KEY, uuid, pack(KEY, uuid, context(), job))
    assert record["version"] == 2
    assert record["job"] == job
    assert record["inputs"] == {} and record["pythonpath"] == []
    assert isinstance(record["context"], ResponseContext)
    assert record["context"] == context()


def test_packed_file_is_signed_for_its_uuid_and_key():
    uuid = new_uuid()
    data = pack(KEY, uuid, context(), b"job")
    with pytest.raises(JobFileError):
        unpack(KEY, new_uuid(), data)
    with pytest.raises(JobFileError):
        unpack(OTHER_KEY, uuid, data)
    tampered = bytearray(data)
    tampered[-3] ^= 0x01
    with pytest.raises(JobFileError):
        unpack(KEY, uuid, bytes(tampered))


def test_unpack_of_signed_but_unreadable_payload_is_refused():
    uuid = new_uuid()
    with pytest.raises(JobFileError, match="cannot be read"):
        unpack(KEY, uuid, sign(KEY, uuid, b"this is not a header\njob"))


@pytest.mark.parametrize("header", [{"version": 3, "context": None}, ["not", "a", "dict"],
                                    {"context": None, "inputs": {}, "pythonpath": []}])
def test_unpack_of_unknown_format_version_is_refused(header):
    uuid = new_uuid()
    with pytest.raises(JobFileError, match="version"):
        unpack(KEY, uuid, sign(KEY, uuid, json.dumps(header).encode() + b"\njob"))


def test_unpack_of_a_version_1_file_is_refused_with_the_reason():
    """A job file of the previous format (an outer pickle, no input digests) does not run."""
    uuid = new_uuid()
    with pytest.raises(JobFileError, match="version 1"):
        unpack(KEY, uuid, sign(KEY, uuid, pickle.dumps({"version": 1, "context": context(), "job": b""})))


# --- the key ----------------------------------------------------------------------------------------------

def test_load_or_create_key_creates_a_private_key_once(tmp_path):
    path = tmp_path / "state" / "job.key"
    old = os.umask(0o022)
    try:
        key = load_or_create_key(str(path))
    finally:
        os.umask(old)
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32
    assert path.read_bytes().strip() == key
    modified = path.stat().st_mtime_ns
    assert load_or_create_key(str(path)) == key
    assert load_or_create_key(str(path)) == key
    assert path.stat().st_mtime_ns == modified, "an existing key must not be rewritten"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_two_gateways_get_different_keys(tmp_path):
    assert load_or_create_key(str(tmp_path / "a.key")) != load_or_create_key(str(tmp_path / "b.key"))


def test_existing_key_file_is_used_as_is(tmp_path):
    path = tmp_path / "job.key"
    path.write_bytes(b"k" * 40 + b"\n")
    assert load_or_create_key(str(path)) == b"k" * 40


@pytest.mark.parametrize("content", [b"", b"short\n", b"   \n"])
def test_empty_or_short_key_file_is_an_error(tmp_path, content):
    path = tmp_path / "job.key"
    path.write_bytes(content)
    with pytest.raises(JobFileError, match="too short or empty"):
        load_or_create_key(str(path))


def test_created_key_signs_and_verifies(tmp_path):
    key = load_or_create_key(str(tmp_path / "job.key"))
    uuid = new_uuid()
    assert verify(key, uuid, sign(key, uuid, PAYLOAD)) == PAYLOAD
    with pytest.raises(JobFileError):
        verify(load_or_create_key(str(tmp_path / "other.key")), uuid, sign(key, uuid, PAYLOAD))


def test_a_job_payload_is_a_plain_pickle_when_it_can_be_and_dill_when_not():
    """Both read back by the one reader (dill.loads); dill carries what pickle cannot (a lambda handler)."""
    import dill

    from wpsgate.jobs.jobfile import job_payload

    plain = job_payload({"spec": 1}, 5.0, process=len)
    assert pickle.loads(plain) == {"process": len, "spec": {"spec": 1}, "timeout": 5.0}
    handler = lambda request, response: 41 + 1  # noqa: E731 - what the plain pickler cannot write
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(handler)
    assert dill.loads(job_payload({"spec": 1}, 5.0, process=handler))["process"](None, None) == 42


# --- the final record's raw answer ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "..", ".", "a/b", "a\\b", "a\x00b"])
def test_a_final_record_never_names_a_raw_answer_outside_outputs(tmp_path, name):
    """result.json is written by the job (anyone with the spool's write access): its raw answer's name
    is a plain file name inside outputs/, or it is dropped."""
    from wpsgate.jobs.folder import FinalRecord, JobFolder
    record = FinalRecord.from_data({"state": "succeeded", "raw_output": name, "raw_mime_type": "text/plain"})
    assert record.raw_output == ""
    assert JobFolder(str(tmp_path), new_uuid()).raw_output(record) is None
    kept = FinalRecord.from_data({"state": "succeeded", "raw_output": "output.txt", "raw_mime_type": "text/plain"})
    folder = JobFolder(str(tmp_path), new_uuid())
    assert folder.raw_output(kept) == os.path.join(folder.outputs, "output.txt")
