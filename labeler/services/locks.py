"""The row locks the queue's writers share. The order they are taken in is documented in
``services.annotating``; here is only how."""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet

from labeler.models import Project


def project_row_lock(project: Project) -> int:
    """Lock the project's row until the transaction ends; returns its label count."""
    rows = Project.objects.select_for_update().values_list("n_annotations", flat=True)
    return rows.get(pk=project.pk)


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
