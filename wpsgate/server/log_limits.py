"""A logging filter that lets the first few of a repeated message through and counts the rest.

Under attack the same line comes thousands of times a second (a refused connection, a
malformed request, "Too many open files"); written out in full it fills the disk and
buries everything else.  A message is "the same" when its logger, level, format string and
exception type are: the first ``burst`` of each pass per ``interval`` seconds, the others are
counted, and the first one let through after the interval says how many were dropped.
Only network-facing noise is limited: warnings and worse from any logger, and everything
from Tornado's and asyncio's own loggers.  The access log of successful requests (DEBUG
configurations) passes untouched.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

LIMITED_LOGGERS = ("tornado.general", "tornado.application", "asyncio")
MAX_KEYS = 1024  # distinct messages tracked at once; a flood of distinct ones resets the table


class RepeatLimiter(logging.Filter):
    def __init__(self, burst: int = 10, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.burst = burst
        self.interval = interval
        self.clock = clock
        self._seen: dict[tuple, list] = {}  # key -> [window start, passed, dropped]
        self._lock = threading.Lock()

    def _limited(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name in LIMITED_LOGGERS

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._limited(record):
            return True
        exc_type = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        if record.exc_info and isinstance(record.exc_info[1], OSError):
            exc_type += f"[{record.exc_info[1].errno}]"
        key = (record.name, record.levelno, str(record.msg), exc_type)
        now = self.clock()
        with self._lock:
            state = self._seen.get(key)
            if state is None:
                if len(self._seen) >= MAX_KEYS:
                    self._seen.clear()
                self._seen[key] = [now, 1, 0]
                return True
            if now - state[0] >= self.interval:
                dropped = state[2]
                state[:] = [now, 1, 0]
                if dropped:
                    record.msg = f"{record.msg} [{dropped} more like this in the last {self.interval:g} s not logged]"
                return True
            if state[1] < self.burst:
                state[1] += 1
                return True
            state[2] += 1
            return False
