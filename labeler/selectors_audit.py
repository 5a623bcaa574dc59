"""Reads behind the audit page: the view records (``ItemView``) filtered, newest first, and
One project's for its managers; every project's, deleted ones
included, for administrators."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from labeler.models import ItemView


@dataclass(frozen=True)
class AuditFilter:
    username: str = ""
    where: str = ""
    item_id: int | None = None
    project_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_rows(*, project_id: int | None, filters: AuditFilter) -> QuerySet[ItemView]:
    """``project_id`` None: every project's rows (administrators)."""
    rows = ItemView.objects.all()
    project_id = project_id if project_id is not None else filters.project_id
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    if filters.username:
        rows = rows.filter(username=filters.username)
    if filters.where:
        rows = rows.filter(where=filters.where)
    if filters.item_id is not None:
        rows = rows.filter(item_id=filters.item_id)
    if filters.date_from:
        rows = rows.filter(at__gte=_day_start(filters.date_from))
    if filters.date_to:
        rows = rows.filter(at__lt=_day_start(filters.date_to + dt.timedelta(days=1)))
    return rows.order_by("-at", "-id")
