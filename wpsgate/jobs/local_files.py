"""Open a file below an allowed folder without following any symbolic link, and copy it from the open file.

A ``file://`` input reference is checked and used in one step: the file is opened
here, component by component, each with ``O_NOFOLLOW`` relative to the folder
opened before it (the walk ``openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`` does
in one call, written with ``os.open(..., dir_fd=...)`` so that it runs on every
kernel and needs no ctypes).  ``..``, ``.`` and empty components are refused
before anything is opened.  What the job later reads is a copy made from that
open descriptor, so replacing a folder by a symlink after the check changes
nothing.  The allowed folders themselves are the operator's and are resolved once
with ``realpath`` when the stager is built.

Hard links: a hard link is the file itself, so no walk can tell that the same
inode also lives outside the allowed folder.  Files with more than one link are
refused unless the operator allows them (``server.allow_hardlinked_inputs``):
Linux's ``fs.protected_hardlinks`` already keeps users from linking files they
cannot read and write, but it is a per-host setting, and a shared filesystem may
be written from hosts that do not set it.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import Iterable, Sequence

_COPY_BLOCK = 8 * 1024 * 1024


class FileRefused(Exception):
    """A path that is not a readable regular file below an allowed folder; the message says why."""


class FileTooLarge(Exception):
    """A file larger than the limit for copied inputs."""


@dataclass(frozen=True)
class AllowedRoot:
    """One allowed folder: the names a client may use for it, and the real path that is opened."""

    names: tuple[tuple[str, ...], ...]
    real: str


def _components(path: str) -> tuple[str, ...]:
    return tuple(part for part in os.path.normpath(os.path.abspath(path)).split("/") if part)


def allowed_roots(paths: Iterable[str]) -> tuple[AllowedRoot, ...]:
    """The configured folders, each reachable by its configured name and by its real path."""
    roots = []
    for path in paths:
        real = os.path.realpath(path)
        names = tuple(dict.fromkeys((_components(path), _components(real))))
        roots.append(AllowedRoot(names, real))
    return tuple(roots)


def request_components(path: str) -> tuple[str, ...]:
    """The components of an absolute path as a client wrote it; no ``..``, ``.``, empty part or NUL."""
    if not path.startswith("/") or "\x00" in path:
        raise FileRefused("the path must be absolute")
    parts = tuple(path[1:].split("/"))
    if any(part in ("", ".", "..") for part in parts):
        raise FileRefused("the path must not contain '..', '.' or empty components")
    return parts


def open_below(path: str, roots: Sequence[AllowedRoot], allow_hardlinks: bool = False) -> int:
    """A read-only descriptor of the regular file ``path`` below one of ``roots``; raises FileRefused.

    No component below the root may be a symbolic link; the caller closes the descriptor.
    """
    parts = request_components(path)
    for root in roots:
        for name in root.names:
            if len(parts) > len(name) and parts[:len(name)] == name:
                return _walk(root.real, parts[len(name):], allow_hardlinks)
    raise FileRefused("the path is not inside the allowed input paths")


def _walk(root: str, rest: tuple[str, ...], allow_hardlinks: bool) -> int:
    try:
        folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        raise FileRefused("the allowed input path cannot be opened") from None
    try:
        for name in rest[:-1]:
            try:
                inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            except OSError as exc:
                raise FileRefused(_why(exc, f"folder {name!r}")) from None
            os.close(folder)
            folder = inner
        try:  # O_NONBLOCK: a FIFO must not hang the opening thread; regular files ignore it
            handle = os.open(rest[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC,
                             dir_fd=folder)
        except OSError as exc:
            raise FileRefused(_why(exc, f"file {rest[-1]!r}")) from None
    finally:
        os.close(folder)
    info = os.fstat(handle)
    if not stat.S_ISREG(info.st_mode):
        os.close(handle)
        raise FileRefused("the path is not a regular file")
    if info.st_nlink > 1 and not allow_hardlinks:
        os.close(handle)
        raise FileRefused("the file has more than one hard link, which this server does not accept")
    return handle


def _why(exc: OSError, what: str) -> str:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return f"{what} is a symbolic link or not a folder"
    if exc.errno == errno.ENOENT:
        return f"{what} does not exist"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{what} cannot be read by the server"
    return f"{what} cannot be opened ({os.strerror(exc.errno or 0)})"


def copy_from_descriptor(source: int, target: str, limit: int) -> int:
    """Copy the open file ``source`` to a new file ``target`` (mode 0640), at most ``limit`` bytes; the size.

    The kernel copies (``sendfile``) where it can; the bytes copied are counted, so
    a file that grows while it is copied is still bounded.  Raises FileTooLarge.
    """
    if os.fstat(source).st_size > limit:
        raise FileTooLarge(limit)
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
    copied = 0
    try:
        use_sendfile = True
        while True:
            want = min(_COPY_BLOCK, limit + 1 - copied)
            if use_sendfile:
                try:
                    sent = os.sendfile(out, source, copied, want)
                except OSError as exc:
                    if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                        raise
                    use_sendfile = False
                    continue
            else:
                block = os.pread(source, want, copied)
                sent = len(block)
                view = memoryview(block)
                while view:
                    view = view[os.write(out, view):]
            if sent == 0:
                break
            copied += sent
            if copied > limit:
                raise FileTooLarge(limit)
    except BaseException:
        os.close(out)
        os.unlink(target)
        raise
    os.close(out)
    return copied


def read_descriptor(source: int, limit: int) -> bytes:
    """The whole content of the open file ``source``, at most ``limit`` bytes; raises FileTooLarge."""
    data = bytearray()
    while True:
        block = os.read(source, min(_COPY_BLOCK, limit + 1 - len(data)))
        if not block:
            return bytes(data)
        data += block
        if len(data) > limit:
            raise FileTooLarge(limit)
