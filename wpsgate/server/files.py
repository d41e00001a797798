"""Serve files from the spool: ETag, conditional GET and byte ranges, disk reads off the event loop.

Tornado's StaticFileHandler reads files on the loop thread; on a shared spool
(NFS) a read can stall, so this reads every chunk in an executor instead.
"""
from __future__ import annotations

import asyncio
import email.utils
import mimetypes
import os

import tornado.web
from tornado import httputil
from tornado.iostream import StreamClosedError

from ..process.formats import FORMATS

CHUNK = 256 * 1024


def _etag(stat: os.stat_result) -> str:
    return f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'


async def stream_file(handler: tornado.web.RequestHandler, path: str, include_body: bool = True) -> None:
    """Write ``path`` as the response (headers already set by the caller stay)."""
    loop = asyncio.get_running_loop()
    try:
        stat = await loop.run_in_executor(None, os.stat, path)
    except OSError:
        raise tornado.web.HTTPError(404) from None
    size = stat.st_size
    etag = _etag(stat)
    handler.set_header("ETag", etag)
    handler.set_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
    handler.set_header("Accept-Ranges", "bytes")
    if etag in [t.strip() for t in handler.request.headers.get("If-None-Match", "").split(",")]:
        handler.set_status(304)
        handler.finish()
        return
    start, end = 0, size
    range_header = handler.request.headers.get("Range")
    if range_header:
        parsed = httputil._parse_request_range(range_header)
        if parsed is None:
            handler.set_status(416)
            handler.set_header("Content-Range", f"bytes */{size}")
            handler.finish()
            return
        first, last = parsed
        if first is not None and first < 0:  # a suffix range: the last -first bytes
            first = max(size + first, 0)
        first = first or 0
        last = size if last is None or last > size else last
        if first >= size or first >= last:
            handler.set_status(416)
            handler.set_header("Content-Range", f"bytes */{size}")
            handler.finish()
            return
        start, end = first, last
        handler.set_status(206)
        handler.set_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
    handler.set_header("Content-Length", str(end - start))
    if not include_body:
        handler.finish()
        return
    stream = await loop.run_in_executor(None, open, path, "rb")
    try:
        position = start
        if start:
            await loop.run_in_executor(None, stream.seek, start)
        while position < end:
            chunk = await loop.run_in_executor(None, stream.read, min(CHUNK, end - position))
            if not chunk:
                break
            position += len(chunk)
            handler.write(chunk)
            try:
                await handler.flush()
            except StreamClosedError:
                return
    finally:
        await loop.run_in_executor(None, stream.close)
    handler.finish()


def content_type_for(name: str) -> str:
    """The Content-Type of an output file, from our formats table first, then the system's."""
    extension = os.path.splitext(name)[1].lower()
    for fmt in vars(FORMATS).values():
        if fmt.extension == extension:
            return fmt.mime_type
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


