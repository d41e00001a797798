"""``logging.format: json``: one JSON object per log line, for log shippers (Loki, Elasticsearch, journald).

Each line has ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger`` and
``message`` (the %-formatted text, as in the text format, with the repeat limiter's
count of dropped repeats), ``exception`` when there is a traceback, and the fields
of a lifecycle line (``event``, ``job_id``, ``process``, ``backend``, ...) at the top
level when the record carries them (see ``lifecycle_log``).  Nothing but the
standard library: a ``logging.Formatter``.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
from typing import Any

FIELDS_ATTRIBUTE = "wpsgate_fields"  # a dict of structured fields on a LogRecord (logging's ``extra``)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS_ATTRIBUTE, None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def make_formatter(kind: str) -> logging.Formatter:
    """The formatter for ``logging.format``: text (the default) or json."""
    return JsonFormatter() if kind == "json" else logging.Formatter(TEXT_FORMAT)
