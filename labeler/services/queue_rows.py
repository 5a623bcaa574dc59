"""Queue entries read with what serving or answering them shows (the item, the round, the
model's guess), in one plain SQL statement.

Every next-item request and every submit reads entries this way. The ORM's
``select_related`` read took 2.3 ms per next-item request on this machine, most of it
composing the SQL; this one builds the same model instances, with the same type conversions
(Django's own converters per field), from SQL written once per process."""

from __future__ import annotations

from django.db import connection
from django.db.models import Model

from labeler.models import Item, LabelClass, QueryRound, QueueEntry
from labeler.services.locks import lock_clause

# (model, alias, the entry's column that joins it; None for the entry itself).
_TABLES: tuple[tuple[type[Model], str, str | None], ...] = (
    (QueueEntry, "q", None),
    (Item, "i", "item_id"),
    (QueryRound, "r", "round_id"),
    (LabelClass, "c", "predicted_label_id"),
)
_layouts: dict[str, tuple[str, list]] = {}


def _layout() -> tuple[str, list]:
    """The SELECT … FROM … JOIN part and, per table, its fields' attnames and converters."""
    layout = _layouts.get(connection.alias)
    if layout is None:
        quote = connection.ops.quote_name
        columns, joins, tables = [], [], []
        for model, alias, via in _TABLES:
            fields = model._meta.concrete_fields
            columns += [f"{alias}.{quote(field.column)}" for field in fields]
            converters = []
            for field in fields:
                column = field.get_col(alias)
                found = connection.ops.get_db_converters(column) + column.get_db_converters(
                    connection
                )
                converters.append([(convert, column) for convert in found])
            tables.append((model, [field.attname for field in fields], converters))
            if via is not None:
                # A nullable key (the model's guess may be missing) keeps entries without it.
                nullable = QueueEntry._meta.get_field(via.removesuffix("_id")).null
                join = "LEFT JOIN" if nullable else "JOIN"
                joins.append(f"{join} {model._meta.db_table} {alias} ON {alias}.id = q.{via}")
        head = f"SELECT {', '.join(columns)} FROM {QueueEntry._meta.db_table} q {' '.join(joins)}"
        layout = _layouts[connection.alias] = (head, tables)
    return layout


def entries_read(where: str, params: list, *, limit: int | None = None, lock: bool = False):
    """The entries ``where`` (SQL over alias ``q``) selects, first to label first, each with its
    item, round and predicted class loaded. ``lock``: their rows locked for update (the entries
    only, not the joined rows), on databases that lock rows."""
    head, tables = _layout()
    sql = f"{head} WHERE {where} ORDER BY q.rank, q.id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if lock:
        sql += lock_clause("q")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    entries = []
    for row in rows:
        instances, start = [], 0
        for model, attnames, converters in tables:
            values = list(row[start : start + len(attnames)])
            start += len(attnames)
            if values[0] is None:  # a LEFT JOIN that found nothing
                instances.append(None)
                continue
            for index, field_converters in enumerate(converters):
                for convert, column in field_converters:
                    values[index] = convert(values[index], column, connection)
            instances.append(model.from_db(connection.alias, attnames, values))
        entry, entry.item, entry.round, entry.predicted_label = instances
        entries.append(entry)
    return entries


def entries_by_id(entry_ids: list[int]) -> list[QueueEntry]:
    """The entries, in the given order."""
    if not entry_ids:
        return []
    placeholders = ", ".join(["%s"] * len(entry_ids))
    found = {e.pk: e for e in entries_read(f"q.id IN ({placeholders})", list(entry_ids))}
    return [found[entry_id] for entry_id in entry_ids]
