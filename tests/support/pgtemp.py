"""Throwaway PostgreSQL databases for the test suite and the benchmarks."""

from __future__ import annotations

import os
import uuid

import psycopg

ADMIN_DSN = os.environ.get("VERITY_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _admin_connect() -> psycopg.Connection:
    try:
        return psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {ADMIN_DSN}; start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
            "or set VERITY_TEST_BACKENDS=sqlite to run the SQLite half only"
        ) from exc


def create_database(prefix: str = "verity_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _admin_connect() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _admin_connect() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
