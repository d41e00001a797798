"""Stage inputs given by reference before a job runs.

``http(s)`` references are downloaded by the gateway, streamed into the job
folder with a time and size limit.  Every address a reference resolves to (also
after a redirect) must pass the address policy: loopback, private, link-local
and other special addresses are refused unless configured as allowed, so the
gateway cannot be used to reach internal services.  References to the gateway's
own outputs are read from the spool directly, so one job's output can feed the
next.  ``file://`` references must resolve (symlinks followed) inside one of
``allowedinputpaths``.
"""
from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from typing import Iterable, Sequence
from urllib.parse import unquote, urlparse

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.netutil import DefaultExecutorResolver, Resolver

from ..exceptions import FileSizeExceeded, InvalidParameterValue
from ..process import InputData
from ..process.formats import extension_for
from .folder import JobFolder, is_job_id

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


class ReferenceDenied(Exception):
    """A reference whose address the policy refuses."""


def path_allowed(path: str, roots: Iterable[str]) -> str | None:
    """The real path of ``path`` if it lies inside one of ``roots`` (compared component-wise), else None."""
    try:
        real = os.path.realpath(path)
    except (ValueError, OSError):  # e.g. an embedded NUL byte
        return None
    for root in roots:
        real_root = os.path.realpath(root)
        try:
            if os.path.commonpath([real, real_root]) == real_root:
                return real
        except ValueError:
            continue
    return None


class Stager:
    """Resolves every reference input of a job to a local file before the job runs."""

    def __init__(self, *, spool: str, own_base_url: str, allowed_paths: Sequence[str],
                 allowed_networks: Sequence[str] = (), max_bytes: int, timeout: float = 60.0) -> None:
        self.spool = spool
        self.own_outputs = own_base_url.rstrip("/") + "/outputs/"
        self.allowed_paths = tuple(allowed_paths)
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.client = AsyncHTTPClient(force_instance=True,
                                      resolver=PolicyResolver(allowed=parse_networks(allowed_networks)))

    def close(self) -> None:
        self.client.close()

    async def stage(self, uuid: str, inputs: dict[str, list[InputData]], references: dict[tuple[str, int], object]) -> None:
        folder = None
        for identifier, values in inputs.items():
            for index, item in enumerate(values):
                if item.kind != "complex" or item.url is None or item._path is not None or item._payload is not None:
                    continue
                if folder is None:
                    folder = JobFolder(self.spool, uuid)
                    await asyncio.get_running_loop().run_in_executor(None, folder.create)
                    os.makedirs(os.path.join(folder.path, "inputs"), mode=0o750, exist_ok=True)
                item._path = await self._stage_one(folder, identifier, index, item, references.get((identifier, index)))

    async def _stage_one(self, folder: JobFolder, identifier: str, index: int, item: InputData,
                         reference: object) -> str:
        url = item.url or ""
        try:
            parsed = urlparse(url)
        except ValueError:
            raise InvalidParameterValue(f"input {identifier}: {url!r} is not a valid URL", identifier) from None
        if parsed.scheme == "file":
            real = path_allowed(unquote(parsed.path), self.allowed_paths)
            if real is None or not os.path.isfile(real):
                raise InvalidParameterValue(f"input {identifier}: {url} is not a file inside the allowed input paths",
                                            identifier)
            return real
        if parsed.scheme not in ("http", "https"):
            raise InvalidParameterValue(f"input {identifier}: reference scheme {parsed.scheme or '(none)'!r} "
                                        "is not supported (http, https, file)", identifier)
        if url.startswith(self.own_outputs):
            return self._own_output(identifier, url[len(self.own_outputs):])
        extension = extension_for(item.data_format.mime_type) if item.data_format else ".dat"
        target = os.path.join(folder.path, "inputs", f"{identifier}_{index}{extension}")
        body = getattr(reference, "body", None)
        body_href = getattr(reference, "body_href", None)
        if body_href:  # wps:BodyReference: the POST body is itself fetched, under the same policy and limits
            if body_href.startswith(self.own_outputs):
                body_path = self._own_output(identifier, body_href[len(self.own_outputs):])
            else:
                body_path = target + ".body"
                await self._download(identifier, body_href, None, body_path)
            body = await asyncio.get_running_loop().run_in_executor(None, _read_bytes, body_path)
        await self._download(identifier, url, reference, target, body)
        return target

    def _own_output(self, identifier: str, rest: str) -> str:
        uuid, _, name = unquote(rest).partition("/")
        if not is_job_id(uuid) or not name or "/" in name or name.startswith(".") or "\x00" in name:
            raise InvalidParameterValue(f"input {identifier}: the referenced output does not exist", identifier)
        path = os.path.realpath(os.path.join(self.spool, uuid, "outputs", name))
        if os.path.dirname(path) != os.path.join(os.path.realpath(self.spool), uuid, "outputs") \
                or not os.path.isfile(path):
            raise InvalidParameterValue(f"input {identifier}: the referenced output does not exist", identifier)
        return path

    async def _download(self, identifier: str, url: str, reference: object, target: str,
                        body: bytes | None = None) -> None:
        received = 0
        too_large = FileSizeExceeded(f"input {identifier} is larger than the server accepts ({self.max_bytes} bytes)",
                                     identifier)
        exceeded = False
        handle = open(target, "wb")

        def chunk(data: bytes) -> None:
            nonlocal received, exceeded
            received += len(data)
            if received > self.max_bytes:
                exceeded = True
                raise too_large  # aborts the download; reported below
            handle.write(data)

        def header(line: str) -> None:
            nonlocal exceeded
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit() and \
                    int(value) > self.max_bytes:
                exceeded = True
                raise too_large

        method = getattr(reference, "method", "GET") or "GET"
        headers = dict(getattr(reference, "headers", ()) or ())
        request = HTTPRequest(url, method=method, body=body if method == "POST" else None,
                              headers=headers or None, streaming_callback=chunk, header_callback=header,
                              follow_redirects=True, max_redirects=5, connect_timeout=min(10.0, self.timeout),
                              request_timeout=self.timeout,
                              allow_nonstandard_methods=method == "POST" and body is None)
        try:
            await self.client.fetch(request)
        except Exception as exc:
            if exceeded:
                raise too_large from None
            if isinstance(exc, ReferenceDenied):
                raise InvalidParameterValue(f"input {identifier}: {exc}", identifier) from None
            if isinstance(exc, HTTPClientError) and exc.code != 599:
                raise InvalidParameterValue(f"input {identifier}: fetching {url} failed: HTTP {exc.code}",
                                            identifier) from None
            reason = exc.__cause__ or exc
            raise InvalidParameterValue(f"input {identifier}: fetching {url} failed: {reason}", identifier) from None
        finally:
            handle.close()


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()
