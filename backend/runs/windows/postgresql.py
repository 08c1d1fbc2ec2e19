"""PostgreSQL: the server builds the window's CSV text itself, one long ``string_agg``
value per chunk of ids, and Arrow's multi-threaded CSV reader parses it."""

from __future__ import annotations

import contextvars
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
from sqlalchemy import ColumnElement, Text, cast, func, literal, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from backend.models import Label, Prediction
from backend.runs.windows.decode import decode_json, floats, read_csv, strings
from backend.runs.windows.query import (
    RawColumns,
    WindowQuery,
    float_column,
    float_names,
    id_chunks,
    label_join,
)

# Lines per string_agg value: a few tens of MB of text each.
PG_CHUNK_ROWS = 100_000
# Connections building chunks at once (one server process each).
PG_READERS = 2

T = TypeVar("T")
A = TypeVar("A")


def _csv_field(value: Any, quoted: bool) -> ColumnElement[str]:
    """A CSV field; SQL NULL is the empty unquoted field. PostgreSQL prints float8
    as the shortest text that reads back as the same double."""
    text: ColumnElement[str] = cast(value, Text)
    if quoted:
        text = literal('"') + func.replace(text, '"', '""') + literal('"')
    return func.coalesce(text, "")


class _SnapshotReaders:
    """Extra connections that see exactly what ``session`` sees (its exported
    snapshot), so that the server builds several chunks at once: turning jsonb into
    text is what a PostgreSQL window read spends its time on."""

    def __init__(self, session: Session, count: int) -> None:
        self.session = session
        self.count = count
        self.connections: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self.opened: list[Connection] = []
        self.pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="window-read")

    def __enter__(self) -> _SnapshotReaders:
        snapshot = self.session.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        engine = self.session.get_bind()
        assert isinstance(engine, Engine)
        for _ in range(self.count):
            connection = engine.connect().execution_options(isolation_level="REPEATABLE READ")
            self.opened.append(connection)
            connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            self.connections.put(connection)
        return self

    def first(self, work: Callable[[Connection], T]) -> T:
        return work(self.opened[0])

    def map(self, work: Callable[[A, Connection], T], items: list[A]) -> Iterator[T]:
        # The caller's context (its trace span, its request id) goes with each item.
        context = contextvars.copy_context()

        def run(item: A) -> T:
            connection = self.connections.get()
            try:
                return context.copy().run(work, item, connection)
            finally:
                self.connections.put(connection)

        return self.pool.map(run, items)

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for connection in self.opened:
            connection.rollback()
            connection.close()


def fetch_postgresql(session: Session, query: WindowQuery) -> RawColumns:
    """The window as CSV text built by the server, a few long ``string_agg`` values
    of PG_CHUNK_ROWS lines each (not a message per row, which costs psycopg more
    than the query), parsed by Arrow into typed arrays."""
    features = Prediction.features
    numeric = query.numeric
    categorical = query.categorical
    fields: list[tuple[str, Any, bool]] = [("event_id", Prediction.event_id, True)]
    fields += [(f"n{i}", features.op("->>")(literal(n)), False) for i, n in enumerate(numeric)]
    fields += [(f"c{i}", features.op("->")(literal(n)), True) for i, n in enumerate(categorical)]
    if query.outputs:
        fields.append(("prediction", Prediction.prediction, True))
    if query.probabilities:
        fields.append(("probabilities", Prediction.probabilities, True))
    fields += [(name, float_column(name, "postgresql"), False) for name in query.floats]
    if query.labels:
        fields.append(("label", Label.label, True))
    line = func.concat_ws(
        ",", Prediction.id, *[_csv_field(value, quoted) for _, value, quoted in fields]
    )
    names = ["id", *[name for name, _, _ in fields]]
    types = {n: pa.string() for n in names}
    types["id"] = pa.int64()
    for name in [f"n{i}" for i in range(len(numeric))] + float_names(query):
        types[name] = pa.float64()
    tables = []
    with _SnapshotReaders(session, PG_READERS) as readers:
        chunks = readers.first(lambda conn: id_chunks(conn, query, PG_CHUNK_ROWS))

        def chunk_text(bounded: list[ColumnElement[bool]], conn: Connection) -> str:
            # No ORDER BY: sorting the wide lines would spill to disk; Arrow sorts.
            statement = select(func.string_agg(line, literal("\n"))).where(*bounded)
            if query.joins_labels:
                statement = statement.outerjoin(Label, label_join())
            return conn.execute(statement).scalar_one() or ""

        texts = readers.map(chunk_text, [bounded for _, bounded in chunks])
        for (ids, _), csv_text in zip(chunks, texts, strict=True):
            chunk = read_csv(csv_text.encode(), names, types, null_values=[""]).sort_by("id")
            if not np.array_equal(chunk.column("id").to_numpy(), ids):
                raise RuntimeError("the window's rows changed while it was read")
            tables.append(chunk)
    table = (
        pa.concat_tables(tables)
        if tables
        else pa.table({n: pa.array([], type=types[n]) for n in names})
    )
    values = {n: decode_json(strings(table.column(f"c{i}"))) for i, n in enumerate(categorical)}
    for name in ("prediction", "label", "probabilities"):
        if name in names:
            values[name] = decode_json(strings(table.column(name)))
    return RawColumns(
        event_ids=strings(table.column("event_id")),
        numeric={n: floats(table.column(f"n{i}")) for i, n in enumerate(numeric)},
        values=values,
        floats={n: floats(table.column(n)) for n in float_names(query)},
    )
