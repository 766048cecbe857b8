"""Database helpers shared by the apps."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import json
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections, router
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, ForeignObject, Lookup, Model

T = TypeVar("T")


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


# Inside ``checked_by_first_use``: how many statements have succeeded on the connection.
_FIRST_USE: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "db_first_use", default=None
)


def checked_by_first_use(func: Callable[[], T], using: str = DEFAULT_DB_ALIAS) -> T:
    """Run ``func`` with the kept connection checked by its first statement, not by ``SELECT 1``.

    With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of every
    request on a kept connection: one more round trip on a hot path (the gate's check).
    Here that check is skipped, and the first real statement checks the connection
    instead: if it finds the connection dead (the server restarted, or a firewall
    dropped it), nothing has been done on it, so the connection is reopened and
    ``func`` runs once more.  A failure after a statement succeeded is never retried.
    Code that turns database errors into answers (a view's exception handler) must let
    such an error through: see :func:`lost_before_use`.

    A connection found dead was almost always dead before the statement was sent; but a
    server that died while running it might have committed it.  So the first statement
    of ``func`` must be safe to run twice: a read, a write inside a transaction (which
    cannot have committed), or an idempotent write (the device endpoints: a read, or
    ``last_seen`` set to now).
    """
    connection: Any = connections[using]  # the health-check flags are not in the stubs
    if (
        connection.connection is None
        or not connection.health_check_enabled
        or connection.health_check_done
        or connection.in_atomic_block
    ):
        return func()
    connection.health_check_done = True  # the first statement will tell
    succeeded = [0]

    def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        succeeded[0] += 1
        return result

    token = _FIRST_USE.set(succeeded)
    try:
        with connection.execute_wrapper(counted):
            return func()
    except (InterfaceError, OperationalError) as exc:
        if not _lost_unused(exc, connection, succeeded):
            raise
    finally:
        _FIRST_USE.reset(token)
    connection.close()
    return func()


def lost_before_use(exc: BaseException, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether ``exc`` is the kept connection found dead before any statement succeeded.

    Only inside :func:`checked_by_first_use`, which retries the call on a new connection.
    """
    succeeded = _FIRST_USE.get()
    return succeeded is not None and _lost_unused(exc, connections[using], succeeded)


def _lost_unused(exc: BaseException, connection: Any, succeeded: list[int]) -> bool:
    raw = connection.connection
    return (
        isinstance(exc, InterfaceError | OperationalError)
        and not succeeded[0]
        and (raw is None or bool(getattr(raw, "broken", False)) or bool(raw.closed))
    )


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
    quadratically in PostgreSQL's planner; here each batch is one ``UPDATE … FROM`` a
    JSON array of rows (see :func:`_json_rows`).  Other databases (the SQLite demo) use
    ``bulk_update``.
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
    pk = meta.pk
    assert pk is not None
    columns: list[Field[Any, Any]] = [pk, *(meta.get_field(name) for name in fields)]  # type: ignore[list-item]
    quote = connection.ops.quote_name
    assignments = ", ".join(
        f"{quote(str(field.column))} = v.{quote(str(field.column))}" for field in columns[1:]
    )
    pk_column = quote(str(pk.column))
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608 - names are quoted model metadata
        f"FROM ({_json_rows_select(columns, connection)}) AS v "
        f"WHERE t.{pk_column} = v.{pk_column}"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            chunk = objs[start : start + batch_size]
            cursor.execute(sql, [_json_rows(chunk, columns, connection)])


def bulk_insert_rows(objs: Sequence[Model], *, batch_size: int = 5000) -> None:
    """``bulk_create`` for new rows: insert them and set each object's primary key.

    The same rows as ``bulk_create`` writes (``auto_now``/``auto_now_add`` fields filled
    in, related objects' keys taken), in one ``INSERT … SELECT`` from a JSON array of
    rows per batch.  The statement's text is the same whatever the number of rows and
    the values travel as one parameter, so neither psycopg nor Django spends time per
    value on the way.  No signals are sent (``bulk_create`` sends none either).  Other
    databases (the SQLite demo) use ``bulk_create``.
    """
    if not objs:
        return
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql" or any(obj.pk is not None for obj in objs):
        model._default_manager.using(alias).bulk_create(objs)
        return
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    columns: list[Field[Any, Any]] = [
        f  # type: ignore[misc]
        for f in meta.local_concrete_fields
        if not f.primary_key and not f.generated
    ]
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(field.column)) for field in columns)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({names}) "
        f"{_json_rows_select(columns, connection)} RETURNING {quote(str(pk.column))}"
    )
    prepare = _insert_preparer(columns)
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            chunk = objs[start : start + batch_size]
            prepare(chunk)
            cursor.execute(sql, [_json_rows(chunk, columns, connection)])
            for obj, (key,) in zip(chunk, cursor.fetchall(), strict=True):
                obj.pk = key
                obj._state.adding, obj._state.db = False, alias


def _insert_preparer(columns: Sequence[Field[Any, Any]]) -> Callable[[Sequence[Model]], None]:
    """What ``Model.save`` does to each object before an insert: the values of
    ``auto_now`` fields, and the keys of related objects assigned before they were saved."""
    stamped = [
        field
        for field in columns
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    ]
    related = [field for field in columns if field.is_relation and field not in stamped]

    def prepare(objs: Sequence[Model]) -> None:
        for obj in objs:
            for field in stamped:
                field.pre_save(obj, True)
            for field in related:
                if getattr(obj, field.attname) is None and field.is_cached(obj):  # type: ignore[attr-defined]
                    target = field.get_cached_value(obj)  # type: ignore[attr-defined]
                    if target is not None:
                        if target.pk is None:
                            raise ValueError(
                                f"{type(obj).__name__}.{field.name}: the related object is unsaved."
                            )
                        setattr(obj, field.attname, target.pk)

    return prepare


# How each kind of column is read back from a row of the JSON array (``r->>n`` is text).
_JSON_CASTS = {
    "AutoField": "integer",
    "BigAutoField": "bigint",
    "SmallAutoField": "smallint",
    "IntegerField": "integer",
    "BigIntegerField": "bigint",
    "SmallIntegerField": "smallint",
    "PositiveIntegerField": "integer",
    "PositiveBigIntegerField": "bigint",
    "PositiveSmallIntegerField": "smallint",
    "BooleanField": "boolean",
    "DateTimeField": "timestamp with time zone",
    "DateField": "date",
    "DurationField": "interval",
    "CharField": "text",
    "TextField": "text",
    "SlugField": "text",
    "EmailField": "text",
    "URLField": "text",
}


def _json_rows_select(columns: Sequence[Field[Any, Any]], connection: Any) -> str:
    """``SELECT`` the typed columns of the rows in the statement's one parameter (a JSON
    array of arrays, see :func:`_json_rows`), in the array's order.

    Text is cast to ``text``, never to ``varchar(n)``: an explicit cast would cut an
    over-long value short, while assigning ``text`` to the column raises, as Django's
    own statements do.
    """
    parts = []
    for n, field in enumerate(columns):
        kind = _column_kind(field)
        name = connection.ops.quote_name(str(field.column))
        if kind == "JSONField":
            parts.append(f"NULLIF(r->{n}, 'null'::jsonb) AS {name}")
        else:
            cast = _JSON_CASTS.get(kind) or field.db_type(connection)
            parts.append(f"(r->>{n})::{cast} AS {name}")
    return (
        f"SELECT {', '.join(parts)} FROM jsonb_array_elements(%s::jsonb) "  # noqa: S608 - names are quoted model metadata
        "WITH ORDINALITY AS j(r, n) ORDER BY j.n"
    )


def _column_kind(field: Field[Any, Any]) -> str:
    target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
    return str(target.get_internal_type())


def _json_rows(objs: Sequence[Model], columns: Sequence[Field[Any, Any]], connection: Any) -> str:
    """The objects' values of ``columns`` as one JSON array of arrays."""
    read = operator.attrgetter(*(field.attname for field in columns))
    converted = [
        (n, encode)
        for n, encode in enumerate(_json_encoder(field, connection) for field in columns)
        if encode is not None
    ]
    rows = []
    for obj in objs:
        values = read(obj)
        row = list(values) if len(columns) > 1 else [values]
        for n, encode in converted:
            row[n] = encode(row[n])
        rows.append(row)
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))


_PLAIN = {"BooleanField", "CharField", "TextField", "SlugField", "EmailField", "URLField"}


def _json_encoder(field: Field[Any, Any], connection: Any) -> Callable[[Any], Any] | None:
    """A function from the attribute's value to what the row carries for it (``None``:
    the value as it is).

    Plain values go as they are; dates and times as ISO text (a naive datetime goes
    through Django, which warns and makes it aware); anything else through the field's
    ``get_db_prep_save``, as Django would send it.
    """
    kind = _column_kind(field)
    if kind == "JSONField":
        encoder = getattr(field, "encoder", None)
        if encoder is None:
            return None
        return lambda value: json.loads(json.dumps(value, cls=encoder))
    if kind in _PLAIN or kind.endswith(("IntegerField", "AutoField")):
        return None
    if kind == "DateTimeField":

        def datetime_text(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, dt.datetime) or value.tzinfo is None:
                value = field.get_db_prep_save(value, connection)
            return value.isoformat()

        return datetime_text
    if kind == "DateField":
        return lambda value: value.isoformat() if value is not None else None
    if kind == "DurationField":
        return lambda value: f"{value.total_seconds()} seconds" if value is not None else None

    def prepared(value: Any) -> Any:
        value = field.get_db_prep_save(value, connection)
        return value if value is None or isinstance(value, bool | int | float) else str(value)

    return prepared


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


class AnyOf(Lookup):  # type: ignore[type-arg]
    """``field__any=ids``: the field equals one of these integers (keys, most often).

    The same rows as ``field__in=ids``, but PostgreSQL gets ``= ANY(%s::bigint[])`` with
    the integers as one parameter: the statement's text stays the same whatever the
    number of keys, and neither Django nor psycopg spends time on each key (for the
    hundreds of keys of a batch).  Other databases get ``IN``.
    """

    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        keys = [int(key) for key in self.rhs]
        if not keys:
            raise EmptyResultSet
        if connection.vendor != "postgresql":
            return f"{lhs} IN ({', '.join(['%s'] * len(keys))})", (*lhs_params, *keys)
        return f"{lhs} = ANY(%s::bigint[])", (*lhs_params, "{" + ",".join(map(str, keys)) + "}")


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)


# --- Hot reads written once as SQL ---------------------------------------------------------
# On a hot path (a booking) most of the app's CPU goes to building and compiling ORM
# querysets, not to running them.  A statement written once as SQL, with the model's own
# columns, costs a fraction of that; its rows become model instances exactly as the ORM
# makes them (``Model.from_db``, the fields' converters applied).


def model_columns(model: type[Model], alias: str) -> str:
    """``alias``'s columns of ``model``, in the order :func:`model_from_row` reads them."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


@functools.cache
def _row_reader(model: type[Model], using: str) -> tuple[list[str], list[tuple[int, Any, Any]]]:
    connection = connections[using]
    fields = model._meta.concrete_fields
    converters = [
        (index, field, converter)
        for index, field in enumerate(fields)
        for converter in field.get_db_converters(connection)
    ]
    return [field.attname for field in fields], converters


def model_from_row(
    model: type[T], row: Sequence[Any], start: int = 0, using: str = DEFAULT_DB_ALIAS
) -> tuple[T, int]:
    """The instance whose columns (:func:`model_columns`) start at ``row[start]``, and the
    index of the first column after them."""
    names, converters = _row_reader(model, using)  # type: ignore[arg-type]
    end = start + len(names)
    values = list(row[start:end])
    for index, field, converter in converters:
        values[index] = converter(values[index], field, connections[using])
    return model.from_db(using, names, values), end  # type: ignore[attr-defined]


@functools.cache
def _related_select(
    model: type[Model], paths: tuple[str, ...]
) -> tuple[str, list[tuple[str, Any]]]:
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    aliases = {"": "t0"}
    columns = [model_columns(model, "t0")]
    joins: list[str] = []
    plan: list[tuple[str, Any]] = [("", model)]
    for path in paths:
        prefix, current = "", model
        for name in path.split("__"):
            field: Any = current._meta.get_field(name)
            if not field.many_to_one or field.null:
                raise ValueError(f"{path}: only required foreign keys are followed")
            full = f"{prefix}__{name}" if prefix else name
            target = field.related_model
            if full not in aliases:
                alias = aliases[full] = f"t{len(aliases)}"
                joins.append(
                    f"JOIN {quote(target._meta.db_table)} {alias} ON "
                    f'{alias}."{target._meta.pk.column}" = {aliases[prefix]}."{field.column}"'
                )
                columns.append(model_columns(target, alias))
                plan.append((full, target))
            prefix, current = full, target
    pk_column = model._meta.pk.column  # type: ignore[union-attr]
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(model._meta.db_table)} t0 {' '.join(joins)} "  # noqa: S608 - model metadata
        f'WHERE t0."{pk_column}" = %s'
    )
    return sql, plan


def get_with_related(model: type[T], pk: int, *paths: str) -> T:
    """``model``'s row ``pk`` with the rows its required foreign keys ``paths`` lead to
    (``select_related``'s ``"room__location"``), in one prepared statement, as
    ``Model.objects.select_related(*paths).get(pk=pk)`` would give it.  Raises the
    model's ``DoesNotExist``."""
    sql, plan = _related_select(model, paths)  # type: ignore[arg-type]
    with prepared_cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    if row is None:
        raise model.DoesNotExist  # type: ignore[attr-defined]
    made: dict[str, Any] = {}
    index = 0
    for path, target in plan:
        made[path], index = model_from_row(target, row, index)
        if path:
            parent, _sep, name = path.rpartition("__")
            setattr(made[parent], name, made[path])
    return made[""]  # type: ignore[no-any-return]
