"""Database helpers shared by the apps."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model


@contextlib.contextmanager
def prepared_cursor(using: str = DEFAULT_DB_ALIAS) -> Iterator[CursorWrapper]:
    """A cursor whose statements PostgreSQL prepares: planned once per connection.

    For a hot statement executed over and over with new values (the gate's read).  The
    parameters are bound server-side and psycopg prepares the statement on its first
    execution; Django's own cursors bind client-side and never prepare.  Set
    ``DB_PREPARED_STATEMENTS=0`` behind a pooler that cannot keep prepared statements
    (PgBouncer before 1.21 in transaction mode).  Elsewhere this is a plain cursor.
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = _preparing_cursor_class()(connection.connection)
        cursor = connection._prepare_cursor(raw)  # type: ignore[attr-defined]
    with cursor:
        yield cursor


@functools.cache
def _preparing_cursor_class() -> type:
    """psycopg's server-binding cursor (as Django's), preparing every statement it runs.

    Built on first use: the PostgreSQL backend module is only imported where it is used.
    """
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):  # type: ignore[misc,valid-type]
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            kwargs.setdefault("prepare", True)
            return super().execute(query, params, **kwargs)  # type: ignore[misc]

        def _send_query_prepared(self, name: bytes, pgq: Any, **kwargs: Any) -> None:
            # Keep the query, as for an unprepared one, for Django's query log.
            self._query = pgq
            super()._send_query_prepared(name, pgq, **kwargs)  # type: ignore[misc]

    return PreparingCursor


def bulk_update_rows(
    objs: Sequence[Model], fields: Sequence[str], *, batch_size: int = 2000
) -> None:
    """Write ``fields`` of every object in one statement per batch.

    Django's ``bulk_update`` builds a ``CASE`` per field with a branch per row, which grows
    quadratically in PostgreSQL's planner; here each batch is one
    ``UPDATE … FROM (VALUES …)``.  Other databases (the SQLite demo) use ``bulk_update``.
    """
    if not objs:
        return
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        model._default_manager.using(alias).bulk_update(objs, fields, batch_size=500)
        return
    meta = model._meta
    columns: list[Field[Any, Any]] = [meta.get_field(name) for name in fields]  # type: ignore[misc]
    pk = meta.pk
    assert pk is not None
    quote = connection.ops.quote_name
    pk_column = str(pk.column)
    assignments = ", ".join(
        f"{quote(str(field.column))} = v.{quote(str(field.column))}::{field.db_type(connection)}"
        for field in columns
    )
    names = ", ".join(quote(str(c)) for c in [pk_column, *(field.column for field in columns)])
    row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            chunk = objs[start : start + batch_size]
            params: list[Any] = []
            for obj in chunk:
                params.append(obj.pk)
                for field in columns:
                    params.append(
                        field.get_db_prep_save(getattr(obj, field.attname), connection=connection)
                    )
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608 - names are quoted model metadata
                f"FROM (VALUES {', '.join([row] * len(chunk))}) AS v({names}) "
                f"WHERE t.{quote(pk_column)} = v.{quote(pk_column)}::{pk.db_type(connection)}",
                params,
            )


_INSERTS: dict[tuple[Any, ...], tuple[str, list[Field[Any, Any]]]] = {}


def insert_row(
    obj: Model,
    *,
    conflict_fields: Sequence[str] = (),
    durable: bool = True,
    then: str = "",
    using: str = DEFAULT_DB_ALIAS,
) -> int:
    """Insert ``obj`` with one prepared statement and return its primary key.

    The same row as ``obj.save(force_insert=True)`` writes (``auto_now_add`` fields
    included), without the ORM building and compiling the INSERT on every call: for
    rows written on a hot path.  With ``conflict_fields`` (a unique constraint), a row
    that already exists is left as it is and its key is returned instead.  Nothing is
    sent to signals.  Not inside ``transaction.atomic`` it commits at once.

    ``durable=False`` commits without waiting for the WAL to reach the disk
    (``synchronous_commit`` off for this one statement's transaction), as PostgreSQL's
    manual suggests for high-volume logs: a crash of the *database server* may lose the
    last fraction of a second of such rows, never corrupt anything, and any later durable
    commit makes them durable too.  Inside any transaction (``transaction.atomic``, or
    autocommit turned off) it is ignored, since the setting would reach the caller's whole
    transaction.  Never for money.

    ``then`` (PostgreSQL only) is one more data-modifying statement run in the same
    statement, over the inserted (or, on conflict, existing) row as the CTE ``inserted``:
    for a row derived from this one, kept without another round trip.  It is constant
    SQL; it takes no parameters.
    """
    connection = connections[using]
    meta = obj._meta
    fast = (
        not durable
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and connection.get_autocommit()
    )
    if then and connection.vendor != "postgresql":
        raise NotImplementedError("insert_row(then=...) needs PostgreSQL")
    key = (meta.label, tuple(conflict_fields), fast, then, using)
    if key not in _INSERTS:
        _INSERTS[key] = _insert_statement(
            obj, conflict_fields, connection, asynchronous=fast, then=then
        )
    sql, fields = _INSERTS[key]
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    with prepared_cursor(using) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert row is not None
    obj.pk = row[0]
    obj._state.adding, obj._state.db = False, using
    return int(row[0])


def _insert_statement(
    obj: Model, conflict_fields: Sequence[str], connection: Any, *, asynchronous: bool, then: str
) -> tuple[str, list[Field[Any, Any]]]:
    meta = obj._meta
    quote = connection.ops.quote_name
    fields: list[Field[Any, Any]] = [
        f  # type: ignore[misc]
        for f in meta.local_concrete_fields
        if not f.primary_key and not f.generated
    ]
    pk = meta.pk
    assert pk is not None
    columns = ", ".join(quote(str(f.column)) for f in fields)
    # Identifiers from the model's meta, quoted; every value is a parameter.
    if asynchronous:
        # One statement: its own transaction sets synchronous_commit locally, then inserts.
        values = ", ".join(f"%s::{f.db_type(connection)}" for f in fields)
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT v.* FROM (VALUES ({values})) AS v, "
            "(SELECT set_config('synchronous_commit', 'off', true) AS setting) AS c "
            "WHERE c.setting = 'off'"
        )
    else:
        values = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608
    if conflict_fields:
        targets = [str(meta.get_field(name).column) for name in conflict_fields]  # type: ignore[union-attr]
        first = quote(targets[0])
        sql += (
            f" ON CONFLICT ({', '.join(quote(c) for c in targets)})"
            f" DO UPDATE SET {first} = EXCLUDED.{first}"
        )
    if then:
        # Data-modifying CTEs all run, in one statement and one snapshot.
        sql = f"WITH inserted AS ({sql} RETURNING *), then_ AS ({then}) "
        sql += f"SELECT {quote(str(pk.column))} FROM inserted"  # noqa: S608
    else:
        sql += f" RETURNING {quote(str(pk.column))}"
    return sql, fields
