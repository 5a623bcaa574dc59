"""The view audit: who opened which item, where and when (append-only ``ItemView`` rows).
Recorded by every response that shows an item's content: the labeling page and its leases,
the items page, the item page, the conflicts page, files and DICOM renditions, the API's
next item, item list, item detail and item history, exports (labels and models) and the
admin's item pages (``tests/labeler/test_audit.py`` walks them all). Read by managers on the
audit page (``/projects/<id>/audit/``, CSV too), on the item's page and at
``/api/projects/<id>/items/<id>/views/``; administrators read every project's at ``/audit/``,
deleted projects included.

Also the sign-in events an administrator is alerted to (``SecurityEvent`` rows)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser

from labeler.models import ItemView, Project, SecurityEvent


def _username(user: AbstractBaseUser) -> str:
    return user.get_username() if user.is_authenticated else ""


def item_view_record(
    *,
    user: AbstractBaseUser,
    project: Project,
    item_id: int | None,
    where: str,
    detail: str = "",
) -> None:
    ItemView.objects.create(
        project_id=project.pk,
        project_name=project.name,
        item_id=item_id,
        user=user if user.is_authenticated else None,
        username=_username(user),
        where=where,
        detail=detail[:200],
    )


def item_views_record(
    *,
    user: AbstractBaseUser,
    project: Project,
    item_ids: Iterable[int],
    where: str,
    detail: str = "",
) -> None:
    """Several items shown at once (a page of items, the labeling page's next ones): one
    INSERT."""
    ItemView.objects.bulk_create(
        ItemView(
            project_id=project.pk,
            project_name=project.name,
            item_id=item_id,
            user=user if user.is_authenticated else None,
            username=_username(user),
            where=where,
            detail=detail[:200],
        )
        for item_id in item_ids
    )


def security_event_record(
    *, kind: str, ip_address: str | None, username: str = "", detail: str = ""
) -> SecurityEvent:
    return SecurityEvent.objects.create(
        kind=kind, ip_address=ip_address, username=username[:255], detail=detail[:200]
    )


def password_spray_report(*, ip_address: str, accounts: int, since: datetime) -> bool:
    """One row per spraying episode of an address: recorded unless the address was already
    reported since ``since`` (the start of the lockout cool-off). True when it recorded."""
    if SecurityEvent.objects.filter(
        kind=SecurityEvent.Kind.PASSWORD_SPRAY, ip_address=ip_address, at__gte=since
    ).exists():
        return False
    security_event_record(
        kind=SecurityEvent.Kind.PASSWORD_SPRAY,
        ip_address=ip_address,
        detail=f"failed sign-ins for {accounts} accounts",
    )
    return True
