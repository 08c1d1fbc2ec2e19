"""Every SQL statement lives in a domain's ``repository.py`` (and ``db.py``, migrations):
a module elsewhere that builds one fails this test, so a reviewer never hunts for the
queries of a domain. The allow-list is short and says why for each entry."""

from __future__ import annotations

import ast
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2] / "backend"

# What builds a statement: SQLAlchemy's statement constructors and its SQL functions.
CONSTRUCTORS = {"select", "insert", "update", "delete", "text", "func", "exists", "union_all"}
# SQL as a string, straight to the driver.
RAW_SQL_CALLS = {"exec_driver_sql"}
SQL_MODULES = ("sqlalchemy", "sqlalchemy.sql", "sqlalchemy.dialects.postgresql",
               "sqlalchemy.dialects.sqlite")  # fmt: skip

ALLOWED = {
    # The engine and the transaction-owning session: SQLite's BEGIN mode per transaction.
    "db.py": "the database layer itself",
    # The window readers are the runs repository's, split per database (one statement
    # family each for PostgreSQL and SQLite, and the SQL both share).
    "runs/windows/query.py": "runs repository: the window readers' shared SQL",
    "runs/windows/sqlite.py": "runs repository: SQLite's window reader",
    "runs/windows/postgresql.py": "runs repository: PostgreSQL's window reader",
    # Table definitions: a partial index's condition is DDL, not a query.
    "models/alert.py": "DDL: the partial unique index on unresolved alerts",
}


def sql_builders(path: Path) -> list[str]:
    """``name:line`` of each SQL constructor the module imports from SQLAlchemy."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module in SQL_MODULES:
            found += [f"{a.name}:{node.lineno}" for a in node.names if a.name in CONSTRUCTORS]
        elif isinstance(node, ast.Attribute) and node.attr in RAW_SQL_CALLS:
            found.append(f"{node.attr}:{node.lineno}")
    return found


def offenders(root: Path) -> dict[str, list[str]]:
    result = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if path.name == "repository.py" or relative in ALLOWED:
            continue
        if builders := sql_builders(path):
            result[relative] = builders
    return result


def test_sql_is_built_only_in_repositories() -> None:
    assert offenders(BACKEND) == {}


def test_the_check_catches_a_query_outside_a_repository(tmp_path: Path) -> None:
    domain = tmp_path / "alerts"
    domain.mkdir()
    (domain / "repository.py").write_text("from sqlalchemy import select\n")
    (domain / "service.py").write_text("from sqlalchemy import func, select\n")
    (domain / "schemas.py").write_text("from sqlalchemy.orm import Session\n")
    assert offenders(tmp_path) == {"alerts/service.py": ["func:1", "select:1"]}


def test_every_allowed_module_exists_and_still_needs_its_entry() -> None:
    for relative in ALLOWED:
        path = BACKEND / relative
        assert path.exists(), f"{relative} is allowed but gone: drop its entry"
        assert sql_builders(path), f"{relative} builds no SQL: drop its entry"
