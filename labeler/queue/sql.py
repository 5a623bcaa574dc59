"""The queue's plain SQL, named, in one place: the statements every next-item request and
every submit runs. Plain SQL rather than the ORM because the ORM spent longer composing these
than PostgreSQL spent running them (docs/benchmarks.md, "Load"); queries that run once per
round or per manager's action use the ORM where they are.

``entries_read`` reads entries with what serving or answering them shows (the item, the round,
the model's guess) in one statement: the ORM's ``select_related`` read took 2.3 ms per
next-item request on this machine, most of it composing the SQL; this builds the same model
instances, with the same type conversions (Django's own converters per field), from SQL
written once per process."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from labeler.models import Annotation, Item, LabelClass, ModelRun, QueryRound, QueueEntry, Skip
from labeler.queue.locks import lock_clause

_ENTRY = QueueEntry._meta.db_table

# What the annotator holds (lease not expired), in every tab: each tab's own entries, first to
# label first, and the items their other tabs hold, which are never leased to this one too
# (with overlap, an item's other copy) and count against the daily cap. One statement: it is
# on every next-item request.
HELD_ENTRIES = (
    f"SELECT q.id, q.item_id, q.lease_tab FROM {_ENTRY} q"
    " WHERE q.project_id = %s AND q.leased_by_id = %s AND NOT q.done"
    " AND q.lease_expires_at > %s ORDER BY q.rank, q.id"
)
FREE_ENTRIES = (
    f"SELECT q.id, q.item_id FROM {_ENTRY} q"
    " WHERE q.project_id = %s AND NOT q.done"
    " AND (q.lease_expires_at IS NULL OR q.lease_expires_at <= %s)"
    f" AND NOT EXISTS (SELECT 1 FROM {Skip._meta.db_table} s"
    " WHERE s.item_id = q.item_id AND s.annotator_id = %s)"
)
# With overlap, each of an item's N entries goes to a different annotator.
FREE_ENTRIES_NOT_ANSWERED_BY = (
    f" AND NOT EXISTS (SELECT 1 FROM {Annotation._meta.db_table} a"
    " WHERE a.item_id = q.item_id AND a.annotator_id = %s)"
)
LEASE_WRITE = (
    f"UPDATE {_ENTRY} SET leased_by_id = %s, lease_expires_at = %s, lease_tab = %s WHERE id IN "
)
ENTRY_DONE = f"UPDATE {_ENTRY} SET done = %s WHERE id = %s"
ROUND_ANSWERED = (
    f"UPDATE {QueryRound._meta.db_table} SET n_done = n_done + 1, completed_at ="
    " CASE WHEN completed_at IS NULL AND n_done >= size - 1 THEN %s"
    " ELSE completed_at END WHERE id = %s"
)
# The round's open entries (the reserve not counted) with the newest run's status, in one
# statement: while a run is on its way (most submits near a round's end during a retrain),
# there is nothing to ask for.
OPEN_ENTRIES_AND_NEWEST_RUN = (
    f"SELECT (SELECT COUNT(*) FROM {_ENTRY}"
    " WHERE project_id = %s AND NOT done AND NOT is_reserve),"
    f" (SELECT status FROM {ModelRun._meta.db_table} WHERE project_id = %s"
    " ORDER BY created_at DESC LIMIT 1)"
)


def in_list(values: list) -> str:
    """The ``(%s, %s, …)`` placeholders of an IN list of ``values``."""
    return f"({', '.join(['%s'] * len(values))})"


def db_time(moment: dt.datetime):
    return connection.ops.adapt_datetimefield_value(moment)


def db_now():
    return db_time(timezone.now())


def entry_ids(sql: str, params: list, *, lock: bool) -> list[tuple]:
    """(entry id, item id, …) of the queue entries ``sql`` selects, in its order; with
    ``lock``, locked for update and passing over rows another transaction holds (never
    waits). SQLite (the demo) has no row locks and serialises writers anyway."""
    if lock:
        sql += lock_clause("q", skip_locked=True)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def fetch_one(sql: str, params: list) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


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
        head = f"SELECT {', '.join(columns)} FROM {_ENTRY} q {' '.join(joins)}"
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
    return [_entry_from_row(row, tables) for row in rows]


def _entry_from_row(row: tuple, tables: list) -> QueueEntry:
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
    return entry


def entries_by_id(entry_ids: list[int]) -> list[QueueEntry]:
    """The entries, in the given order."""
    if not entry_ids:
        return []
    found = {e.pk: e for e in entries_read(f"q.id IN {in_list(entry_ids)}", list(entry_ids))}
    return [found[entry_id] for entry_id in entry_ids]
