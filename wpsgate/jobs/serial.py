"""One background thread for the database and job-folder writes that must happen in order.

The event loop hands such work here and awaits it; SQLite has a single writer
anyway, and keeping writes in order means a job's final state is never
overwritten by a late progress update.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable


class SerialExecutor:
    def __init__(self, name: str = "wpsgate-io") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> "asyncio.Future[Any]":
        """Run ``function`` on the thread; await the result."""
        return asyncio.get_running_loop().run_in_executor(self._pool, lambda: function(*args, **kwargs))

    def post(self, function: Callable[..., Any], *args: Any) -> None:
        """Queue ``function`` without waiting for it."""
        self._pool.submit(function, *args)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
