"""Who owns which job, for the routes that serve a job's files without reading its row.

The status document and output routes answer from the spool; with identity on they need the
job's owner.  Owners never change, so they are remembered: every job accepted here is told at
once (no read at all for polls of it), others are read from the job table once, on a worker
thread, and kept in a bounded map.
"""
from __future__ import annotations

import collections
import threading
from typing import Any, Awaitable, Callable

MAX_REMEMBERED = 65536
UNKNOWN = object()  # no such job in the table


class JobOwners:
    """uuid -> owner (None for jobs from before identity was on), bounded, oldest forgotten first."""

    def __init__(self, read: Callable[..., Awaitable[Any]] | None = None,
                 get_record: Callable[[str], Any] | None = None, max_entries: int = MAX_REMEMBERED) -> None:
        self.read = read  # the engine's worker-thread read
        self.get_record = get_record  # store.get
        self.max_entries = max_entries
        self._owners: collections.OrderedDict[str, str | None] = collections.OrderedDict()
        self._lock = threading.Lock()

    def remember(self, uuid: str, owner: str | None) -> None:
        with self._lock:
            self._owners[uuid] = owner
            if len(self._owners) > self.max_entries:
                self._owners.popitem(last=False)

    def known(self, uuid: str) -> Any:
        """The owner if remembered, else UNKNOWN (no read)."""
        return self._owners.get(uuid, UNKNOWN)

    async def owner_of(self, uuid: str) -> Any:
        """The owner, or UNKNOWN when the job table has no such job."""
        owner = self._owners.get(uuid, UNKNOWN)
        if owner is not UNKNOWN or self.read is None or self.get_record is None:
            return owner
        record = await self.read(self.get_record, uuid)
        if record is None:
            return UNKNOWN
        self.remember(uuid, record.owner)
        return record.owner
