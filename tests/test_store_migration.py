"""A job table written before a column existed is brought up to date in place, keeping every job."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from wpsgate.jobs.store import JobStore


def _old_table(url: str) -> None:
    """The jobs table as versions before job owners wrote it, with one finished job in it."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE jobs (uuid VARCHAR(36) PRIMARY KEY, process VARCHAR(255) NOT NULL, status VARCHAR(16) NOT NULL,"
            " percent INTEGER NOT NULL, message TEXT NOT NULL, created DATETIME NOT NULL, started DATETIME,"
            " finished DATETIME, expires DATETIME, expire_seconds FLOAT NOT NULL, timeout FLOAT NOT NULL,"
            " backend VARCHAR(16) NOT NULL, backend_id VARCHAR(64), is_async BOOLEAN NOT NULL, request TEXT NOT NULL,"
            " outputs TEXT NOT NULL, context BLOB)")
        connection.exec_driver_sql(
            "INSERT INTO jobs VALUES ('0f0e0d0c-0b0a-4908-8706-050403020100', 'hello', 'succeeded', 100, 'done',"
            " '2026-01-02 03:04:05', NULL, NULL, NULL, 60, 60, 'local', NULL, 1, '', '[]', NULL)")
    engine.dispose()


def test_an_old_table_gains_the_owner_column_and_keeps_its_jobs(tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    _old_table(url)
    store = JobStore(url)
    try:
        old = store.get("0f0e0d0c-0b0a-4908-8706-050403020100")
        assert old is not None and old.status == "succeeded" and old.owner is None
        store.insert(uuid="1f0e0d0c-0b0a-4908-8706-050403020100", process="hello", status="accepted", percent=0,
                     message="", created=dt.datetime.now(dt.timezone.utc), expire_seconds=1, timeout=1,
                     backend="local", is_async=True, request="", outputs="[]", owner="alice")
        assert store.get("1f0e0d0c-0b0a-4908-8706-050403020100").owner == "alice"
        indexes = {index["name"] for index in sa.inspect(store.engine).get_indexes("jobs")}
        assert "ix_jobs_owner_created" in indexes
    finally:
        store.close()
    JobStore(url).close()  # opening a migrated table again changes nothing and does not fail
