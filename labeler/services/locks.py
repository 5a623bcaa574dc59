"""The row locks the queue's writers share. The order they are taken in is documented in
``services.annotating``; here is only how."""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet

from labeler.models import Project


def project_row_lock(project: Project) -> int:
    """Lock the project's row until the transaction ends; returns its label count.

    FOR NO KEY UPDATE, the lock a submit's counter update takes anyway: it queues behind and
    ahead of those, as a budget's count needs, but not the inserts that merely reference the
    project (an annotation, a round, an entry), which a plain FOR UPDATE would hold back."""
    rows = Project.objects.select_for_update(no_key=True).values_list("n_annotations", flat=True)
    return rows.get(pk=project.pk)


def queue_writers_lock(project: Project) -> None:
    """Take turns, until the transaction ends, with the other writers that add queue entries
    to this project for items not queued yet: the worker writing a round and a lease that
    explores. Neither then gives out an item the other has just queued.

    A PostgreSQL advisory lock on the project's id (the one-key form, which shares no keys
    with the two-key locks of ``services.leasing``), not the project's row: every submit
    updates that row's counters, and a round write holding it kept every submit waiting
    until the round was committed (the bursts of slow submits and next-items of the load
    benchmark, each at a round's write). SQLite (the demo) serialises writers anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s::bigint)", [project.pk])


def skipping_locked(rows: QuerySet) -> QuerySet:
    """``rows`` locked for update (their own table's rows, not the joined ones), passing over
    the rows another transaction holds: never waits. SQLite (the demo) has no row locks and
    serialises writers anyway, so there it is ``rows`` as they are."""
    if connection.features.has_select_for_update_skip_locked:
        return rows.select_for_update(skip_locked=True, of=("self",))
    return rows


def lock_clause(alias: str, *, skip_locked: bool = False) -> str:
    """The same locks for plain SQL over table alias ``alias``: its rows only, passing over
    held ones with ``skip_locked``. Empty on databases without row locks (SQLite), as above."""
    features = connection.features
    if skip_locked and not features.has_select_for_update_skip_locked:
        return ""
    if not features.has_select_for_update:
        return ""
    clause = f" FOR UPDATE OF {alias}" if features.has_select_for_update_of else " FOR UPDATE"
    return clause + (" SKIP LOCKED" if skip_locked else "")
