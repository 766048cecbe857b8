"""Database helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, router
from django.db.models import Field, Model


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
