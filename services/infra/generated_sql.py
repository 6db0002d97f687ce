"""Hand-written SQL for the hot paths the query builder is too slow for (the Stripe paid path:
bench/webhook_load.py measured 6.0 ms of server CPU per event through the ORM against 3.7 ms for
these statements, on the same loaded machine) or cannot express (model usage's add-on-conflict:
`add_on_conflict_statement`).

The statements are GENERATED from the models' own field lists: an INSERT names every column of its
model but a generated primary key, and `Statement.values` refuses a row that misses one (or brings
one the model lacks), so a column added to a model cannot be silently left out
(tests/services/test_generated_sql.py). They run on the ORM's own connection, so they join its
transaction and its IntegrityError translation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model


@dataclass(frozen=True)
class Statement:
    """SQL with %s placeholders for `fields` (in order), then for `where_arity` WHERE values."""

    template: str
    fields: tuple[str, ...]
    where_arity: int = 0

    def values(self, row: dict[str, Any], *where: Any) -> list[Any]:
        missing, extra = set(self.fields) - row.keys(), row.keys() - set(self.fields)
        if missing or extra or len(where) != self.where_arity:
            raise ValueError(
                f"statement and row disagree: missing {sorted(missing)}, unknown {sorted(extra)}, "
                f"{len(where)} WHERE values for {self.where_arity}"
            )
        return [_db_value(row[name]) for name in self.fields] + [_db_value(v) for v in where]


def written_fields(model: type[Model]) -> tuple[str, ...]:
    """Every field of the model that an INSERT writes: all but a database-generated primary key.
    Relation columns (`customer_id`) exist once the ORM is initialised: call this after, not at import."""
    meta = model._meta
    return tuple(
        name for name in meta.fields_db_projection if not (name == meta.pk_attr and meta.pk.generated)
    )


def _column(model: type[Model], field: str) -> str:
    return f'"{model._meta.fields_db_projection[field]}"'


@cache
def insert_statement(model: type[Model], *, skip_if_exists: str | None = None) -> Statement:
    """INSERT of one full row; with `skip_if_exists` (a unique field) an existing row is left alone."""
    fields = written_fields(model)
    columns = ", ".join(_column(model, f) for f in fields)
    placeholders = ", ".join("%s" for _ in fields)
    sql = f'INSERT INTO "{model._meta.db_table}" ({columns}) VALUES ({placeholders})'
    if skip_if_exists:
        sql += f" ON CONFLICT ({_column(model, skip_if_exists)}) DO NOTHING"
    return Statement(sql, fields)


@cache
def add_on_conflict_statement(
    model: type[Model], key: tuple[str, ...], rows: int, *, replace: tuple[str, ...] = ("updated_at",)
) -> Statement:
    """INSERT of `rows` full rows; a row whose `key` fields match an existing row adds its values to
    that row instead, column by column, but for `replace` (which take the new value). `fields` are
    one row's: give `rows` rows' `values` one after the other."""
    fields = written_fields(model)
    table = model._meta.db_table
    group = "(" + ", ".join("%s" for _ in fields) + ")"
    added = [
        f'{_column(model, f)} = "{table}".{_column(model, f)} + excluded.{_column(model, f)}'
        for f in fields
        if f not in (*key, *replace)
    ]
    replaced = [f"{_column(model, f)} = excluded.{_column(model, f)}" for f in replace]
    sql = (
        f'INSERT INTO "{table}" ({", ".join(_column(model, f) for f in fields)}) '
        f"VALUES {', '.join([group] * rows)} "
        f"ON CONFLICT ({', '.join(_column(model, f) for f in key)}) "
        f"DO UPDATE SET {', '.join(added + replaced)}"
    )
    return Statement(sql, fields)


@cache
def update_statement(
    model: type[Model], fields: tuple[str, ...], where: tuple[tuple[str, int], ...]
) -> Statement:
    """UPDATE of `fields`; `where` pairs a field with how many values it is compared with (1: =, n: IN).
    Built once per shape (cached), at first use."""
    sets = ", ".join(f"{_column(model, f)} = %s" for f in fields)
    conditions = [
        f"{_column(model, f)} = %s" if n == 1 else f"{_column(model, f)} IN ({', '.join(['%s'] * n)})"
        for f, n in where
    ]
    sql = f'UPDATE "{model._meta.db_table}" SET {sets} WHERE {" AND ".join(conditions)}'
    return Statement(sql, tuple(fields), sum(n for _, n in where))


def _db_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value


_PLACEHOLDERS: dict[tuple[str, str], str] = {}


async def execute(conn: BaseDBAsyncClient, statement: Statement, values: list[Any]) -> int:
    """Run `statement` on `conn` with bound values; returns the rows affected."""
    key = (statement.template, conn.capabilities.dialect)
    sql = _PLACEHOLDERS.get(key)
    if sql is None:
        if key[1] == "postgres":
            parts = statement.template.split("%s")
            sql = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))
        else:
            sql = statement.template.replace("%s", "?")
        _PLACEHOLDERS[key] = sql
    rows, _ = await conn.execute_query(sql, values)
    return rows
