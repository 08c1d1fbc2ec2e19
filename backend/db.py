"""Engine and session handling.

Whoever opens a transaction commits it: the request dependency (``DbSession``), a
job wrapper, or the CLI. Services only ``flush()``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from backend.config import Settings, get_settings


def _json_serializer(value: Any) -> str:
    return orjson.dumps(value).decode()


def _json_deserializer(value: Any) -> Any:
    # SQLite gives a JSON column numeric affinity, so a stored scalar such as 1 or 0.5
    # comes back as a number rather than text.
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite is made durable and safe for concurrent writers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            json_serializer=_json_serializer,
            json_deserializer=_json_deserializer,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        json_serializer=_json_serializer,
        json_deserializer=_json_deserializer,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN until the first write, which
        # lets two writers deadlock on the read→write upgrade; we issue BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged commit survives power loss, not only a process crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front so concurrent writers queue on
        # busy_timeout instead of failing with "database is locked".
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Database:
    """The engine and session factory of one database, created once per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False
        )

    def session(self, *, read_only: bool = False) -> Session:
        return (self._read_sessions if read_only else self._sessions)()

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self.session(read_only=read_only) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


_databases: dict[str, Database] = {}
_lock = threading.Lock()


def get_database(settings: Settings | None = None) -> Database:
    url = (settings or get_settings()).resolved_database_url
    with _lock:
        database = _databases.get(url)
        if database is None:
            database = _databases[url] = Database(url)
        return database


def reset_databases() -> None:
    with _lock:
        for database in _databases.values():
            database.dispose()
        _databases.clear()


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _read_session(request: Request) -> Iterator[Session]:
    database: Database = request.app.state.database
    with database.transaction(read_only=True) as session:
        yield session


# scope="function": the commit runs when the endpoint returns, before the response is
# sent, so a 2xx is only ever seen for committed data.
ReadSession = Annotated[Session, Depends(_read_session, scope="function")]


def _request_session(request: Request, read_session: ReadSession) -> Iterator[Session]:
    if request.method in _READ_METHODS:
        yield read_session
        return
    # Writes get their own transaction, begun at its first statement: authentication
    # and validation run on the read session, so SQLite's write lock (BEGIN IMMEDIATE)
    # is held only while rows are actually written.
    database: Database = request.app.state.database
    with database.transaction() as session:
        yield session


DbSession = Annotated[Session, Depends(_request_session, scope="function")]
