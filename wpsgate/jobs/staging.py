"""Stage inputs given by reference before a job runs.

``http(s)`` references are downloaded by the gateway, streamed into the job
folder with a time and size limit.  Every address a reference resolves to (also
after a redirect) must pass the address policy: loopback, private, link-local
and other special addresses are refused unless configured as allowed, so the
gateway cannot be used to reach internal services.  References to the gateway's
own outputs are read from the spool directly, so one job's output can feed the
next.  ``file://`` references are opened below one of ``allowedinputpaths`` with
no symbolic link followed (see jobs.local_files) and copied into the job folder
from the open file, as are the gateway's own outputs: the job reads the copy, so
nothing that changes on disk after the check reaches it.

Secrets: a reference's headers and POST body reach this module only (the request
kept with the job is a copy without them, see ``ExecuteRequest.without_secrets``);
they are sent with the download and never written or logged, and error messages
are scrubbed of header values.

Concurrency: at most ``per_request`` references of one request are staged at
once and at most ``max_downloads`` HTTP downloads run in the whole gateway (the
HTTP client's ``max_clients`` is the same number, so no download waits in the
client's own queue, where its timeout would already run).  Chunks of a download
are written to disk on a worker thread, in order; the event loop only hands them
over.  Staged files are written mode 0640, like everything in a job folder.
"""
from __future__ import annotations

import asyncio
import collections
import ipaddress
import os
import socket
import threading
from typing import Any, Iterable, Sequence
from urllib.parse import unquote, urljoin, urlparse

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.netutil import DefaultExecutorResolver, Resolver

from ..exceptions import FileSizeExceeded, InvalidParameterValue, OWSException
from ..process import InputData
from ..protocol.requests import REDACTED
from ..process.formats import extension_for
from .folder import JobFolder, is_job_id
from .local_files import FileRefused, FileTooLarge, allowed_roots, copy_from_descriptor, open_below, read_descriptor

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def address_allowed(address: str, allowed: Sequence[Network] = ()) -> bool:
    """The address policy: public unicast addresses pass; special ones only when listed in ``allowed``."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allowed):
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:  # fec0::/10, deprecated but private in effect
            return False
        if ip.sixtofour is not None and not address_allowed(str(ip.sixtofour), allowed):
            return False  # 6to4 carries an IPv4 address: judge that one too
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


class PolicyResolver(Resolver):
    """A resolver that returns only the addresses the policy allows: checked at connect time, redirects included."""

    def initialize(self, allowed: Sequence[Network] = ()) -> None:  # type: ignore[override]
        self.allowed = tuple(allowed)
        self.inner = DefaultExecutorResolver()

    async def resolve(self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC):
        addresses = await self.inner.resolve(host, port, family)
        permitted = [entry for entry in addresses if address_allowed(entry[1][0], self.allowed)]
        if not permitted:
            raise ReferenceDenied(f"the address of {host} is not allowed as an input reference")
        return permitted


def policy_bound_client(allowed_networks: Sequence[str], max_clients: int) -> AsyncHTTPClient:
    """An HTTP client of its own whose every connection (redirects included) goes only where the address
    policy allows: what fetches input references and what posts OGC API callbacks share it."""
    return AsyncHTTPClient(force_instance=True, max_clients=max(1, max_clients),
                           resolver=PolicyResolver(allowed=parse_networks(allowed_networks)))


class ReferenceDenied(Exception):
    """A reference whose address the policy refuses."""


class Stager:
    """Resolves every reference input of a job to a file in its job folder before the job runs."""

    def __init__(self, *, spool: str, own_base_url: str, allowed_paths: Sequence[str],
                 allowed_networks: Sequence[str] = (), max_bytes: int, timeout: float = 60.0,
                 max_file_bytes: int | None = None, max_downloads: int = 16, per_request: int = 4,
                 allow_hardlinks: bool = False) -> None:
        self.spool = spool
        self.own_outputs = own_base_url.rstrip("/") + "/outputs/"
        self.roots = allowed_roots(allowed_paths)
        self.spool_root = allowed_roots([spool])
        self.allow_hardlinks = allow_hardlinks
        self.max_bytes = max_bytes
        self.max_file_bytes = max_file_bytes if max_file_bytes is not None else max_bytes
        self.timeout = timeout
        self.per_request = max(1, per_request)
        self.downloads = asyncio.Semaphore(max(1, max_downloads))
        self.client = policy_bound_client(allowed_networks, max_downloads)

    def close(self) -> None:
        self.client.close()

    async def stage(self, uuid: str, inputs: dict[str, list[InputData]],
                    references: dict[tuple[str, int], Any]) -> None:
        """Stage every reference input (``references``: the real ones, with headers and body) concurrently.

        The first failure cancels the others and is raised; the caller removes the job folder.
        """
        pending = [(identifier, index, item) for identifier, values in inputs.items()
                   for index, item in enumerate(values)
                   if item.kind == "complex" and item.url is not None and item._path is None and item._payload is None]
        if not pending:
            return
        folder = JobFolder(self.spool, uuid)
        await asyncio.get_running_loop().run_in_executor(None, _create_inputs_folder, folder)
        slots = asyncio.Semaphore(self.per_request)

        async def one(identifier: str, index: int, item: InputData) -> None:
            async with slots:
                item._path = await self._stage_one(folder, identifier, index, item,
                                                   references.get((identifier, index)))

        tasks = [asyncio.ensure_future(one(*entry)) for entry in pending]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _stage_one(self, folder: JobFolder, identifier: str, index: int, item: InputData,
                         reference: Any) -> str:
        url = item.url or ""
        try:
            parsed = urlparse(url)
        except ValueError:
            raise InvalidParameterValue(f"input {identifier}: {url!r} is not a valid URL", identifier) from None
        extension = extension_for(item.data_format.mime_type) if item.data_format else ".dat"
        target = os.path.join(_inputs(folder), f"{identifier}_{index}{extension}")
        loop = asyncio.get_running_loop()
        if parsed.scheme == "file":
            if parsed.netloc not in ("", "localhost"):
                raise InvalidParameterValue(f"input {identifier}: {url} names another host", identifier)
            await loop.run_in_executor(None, self._copy_local, identifier, url, unquote(parsed.path), False, target)
            return target
        if parsed.scheme not in ("http", "https"):
            raise InvalidParameterValue(f"input {identifier}: reference scheme {parsed.scheme or '(none)'!r} "
                                        "is not supported (http, https, file)", identifier)
        if url.startswith(self.own_outputs):
            path = self._own_output_path(identifier, url[len(self.own_outputs):])
            await loop.run_in_executor(None, self._copy_local, identifier, url, path, True, target)
            return target
        method = getattr(reference, "method", "GET") or "GET"
        headers = tuple(getattr(reference, "headers", ()) or ())
        body = getattr(reference, "body", None)
        body_href = getattr(reference, "body_href", None)
        if body_href:  # wps:BodyReference: the POST body is itself fetched, under the same policy and limits
            if body_href.startswith(self.own_outputs):
                path = self._own_output_path(identifier, body_href[len(self.own_outputs):])
                body = await loop.run_in_executor(None, self._read_local, identifier, body_href, path)
            else:
                body_path = target + ".body"
                await self._download(identifier, body_href, body_path)
                body = await loop.run_in_executor(None, _read_and_remove, body_path)
        await self._download(identifier, url, target, method, headers, body)
        return target

    def _own_output_path(self, identifier: str, rest: str) -> str:
        uuid, _, name = unquote(rest).partition("/")
        if not is_job_id(uuid) or not name or "/" in name or name.startswith(".") or "\x00" in name:
            raise InvalidParameterValue(f"input {identifier}: the referenced output does not exist", identifier)
        return os.path.join(self.spool_root[0].real, uuid, "outputs", name)

    def _copy_local(self, identifier: str, url: str, path: str, own_output: bool, target: str) -> None:
        """Open ``path`` (checked, no symlink followed) and copy it from the open file: one step, no gap."""
        handle = self._open_local(identifier, url, path, own_output)
        try:
            copy_from_descriptor(handle, target, self.max_file_bytes)
        except FileTooLarge:
            raise FileSizeExceeded(f"input {identifier} is larger than the server accepts "
                                   f"({self.max_file_bytes} bytes)", identifier) from None
        finally:
            os.close(handle)

    def _read_local(self, identifier: str, url: str, path: str) -> bytes:
        handle = self._open_local(identifier, url, path, True)
        try:
            return read_descriptor(handle, self.max_bytes)
        except FileTooLarge:
            raise FileSizeExceeded(f"input {identifier} is larger than the server accepts ({self.max_bytes} bytes)",
                                   identifier) from None
        finally:
            os.close(handle)

    def _open_local(self, identifier: str, url: str, path: str, own_output: bool) -> int:
        """A gateway output (in the spool; written by jobs, so links are its own) or a file:// path."""
        try:
            if own_output:
                return open_below(path, self.spool_root, allow_hardlinks=True)
            return open_below(path, self.roots, self.allow_hardlinks)
        except FileRefused as exc:
            if own_output:
                raise InvalidParameterValue(f"input {identifier}: the referenced output does not exist",
                                            identifier) from None
            raise InvalidParameterValue(f"input {identifier}: {url} is not a file inside the allowed input "
                                        f"paths: {exc}", identifier) from None

    async def _download(self, identifier: str, url: str, target: str, method: str = "GET",
                        headers: tuple[tuple[str, str], ...] = (), body: bytes | None = None) -> None:
        """Fetch ``url`` into ``target`` under the address policy, the size limit and the timeout.

        Redirects are followed here rather than by the HTTP client, so that the client's headers
        (credentials) go only to the origin the client named: a redirect to another origin is
        followed without them, as browsers and curl do.
        """
        loop = asyncio.get_running_loop()
        too_large = FileSizeExceeded(f"input {identifier} is larger than the server accepts ({self.max_bytes} bytes)",
                                     identifier)
        received = 0
        exceeded = False
        status = 0
        writer = _ChunkWriter(loop, await loop.run_in_executor(None, _create_file, target))

        def chunk(data: bytes) -> None:
            nonlocal received, exceeded
            if status in _REDIRECTS:  # a redirect's own body is not the input
                return
            received += len(data)
            if received > self.max_bytes:
                exceeded = True
                raise too_large  # aborts the download; reported below
            writer.feed(data)

        def header(line: str) -> None:
            nonlocal exceeded, status
            if line.startswith("HTTP/"):
                code = line.split(" ", 2)[1:2]
                status = int(code[0]) if code and code[0].isdigit() else 0
                return
            name, _, value = line.partition(":")
            if status not in _REDIRECTS and name.strip().lower() == "content-length" and \
                    value.strip().isdigit() and int(value) > self.max_bytes:
                exceeded = True
                raise too_large

        secrets = [value for _, value in headers if value]
        try:
            for _hop in range(_MAX_REDIRECTS + 1):
                request = HTTPRequest(url, method=method, body=body if method == "POST" else None,
                                      headers=dict(headers) or None, streaming_callback=chunk,
                                      header_callback=header, follow_redirects=False,
                                      connect_timeout=min(10.0, self.timeout), request_timeout=self.timeout,
                                      allow_nonstandard_methods=method == "POST" and body is None)
                async with self.downloads:
                    response = await self.client.fetch(request, raise_error=False)
                if response.code not in _REDIRECTS:
                    if response.error is not None:
                        raise response.error
                    return
                location = response.headers.get("Location")
                if not location:
                    raise InvalidParameterValue(f"input {identifier}: fetching {url} failed: a redirect without "
                                                "a Location", identifier)
                following = urljoin(url, location)
                if _origin(following) != _origin(url):
                    headers = ()  # the client's credentials stay with the origin it named
                if response.code == 303 or (response.code in (301, 302) and method == "POST"):
                    method, body = "GET", None
                url = following
            raise InvalidParameterValue(f"input {identifier}: fetching {url} failed: more than {_MAX_REDIRECTS} "
                                        "redirects", identifier)
        except OWSException:
            raise
        except Exception as exc:
            if exceeded:
                raise too_large from None
            if isinstance(exc, ReferenceDenied):
                raise InvalidParameterValue(f"input {identifier}: {exc}", identifier) from None
            if isinstance(exc, HTTPClientError) and exc.code != 599:
                raise InvalidParameterValue(f"input {identifier}: fetching {url} failed: HTTP {exc.code}",
                                            identifier) from None
            reason = _scrub(str(exc.__cause__ or exc), secrets)
            raise InvalidParameterValue(f"input {identifier}: fetching {url} failed: {reason}", identifier) from None
        finally:
            await writer.close()


_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = urlparse(url)
    try:
        port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme)
    except ValueError:
        port = -1
    return parsed.scheme, (parsed.hostname or "").lower(), port


def _scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every header value replaced, for messages that reach the client and the log."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class _ChunkWriter:
    """Writes a download's chunks to its file on worker threads, in order; the event loop only queues them.

    Blocks of at least FLUSH bytes are handed to the default executor; each executor
    call drains the queue under one lock, so blocks reach the file in arrival order
    whichever call runs first.  Memory is bounded by the download's size limit.
    """

    FLUSH = 256 * 1024

    def __init__(self, loop: asyncio.AbstractEventLoop, handle: int) -> None:
        self.loop = loop
        self.handle = handle
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.blocks: collections.deque[bytes] = collections.deque()
        self.lock = threading.Lock()
        self.writes: list[asyncio.Future] = []
        self.closed = False

    def feed(self, data: bytes) -> None:
        if self.closed:  # a download whose staging was cancelled goes on in the HTTP client: stop it here
            raise OSError("the download's file is closed")
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size >= self.FLUSH:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        self.blocks.append(b"".join(self.pending))
        self.pending, self.pending_size = [], 0
        self.writes = [w for w in self.writes if not w.done() or w.exception() is not None]
        self.writes.append(self.loop.run_in_executor(None, self._drain))

    def _drain(self) -> None:
        with self.lock:
            while self.blocks:
                view = memoryview(self.blocks.popleft())
                while view:
                    view = view[os.write(self.handle, view):]

    async def close(self) -> None:
        """Write what is left and close the file; raises the first write error."""
        self._flush()
        self.closed = True
        try:
            await asyncio.gather(*self.writes)
        finally:
            await self.loop.run_in_executor(None, os.close, self.handle)


def _inputs(folder: JobFolder) -> str:
    return os.path.join(folder.path, "inputs")


def _create_inputs_folder(folder: JobFolder) -> None:
    folder.create()
    try:
        os.mkdir(_inputs(folder), 0o750)
    except FileExistsError:
        pass


def _create_file(path: str) -> int:
    """A new file for a download, readable by the service account (and its group) only."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)


def _read_and_remove(path: str) -> bytes:
    """A downloaded POST body: kept in memory for the request, not left in the job folder."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    finally:
        os.unlink(path)
