"""The view audit: who opened which item, where and when (append-only ``ItemView`` rows).
Recorded by the labeling page, the item page, file downloads, the API's item detail and
exports; read by managers on the item's history page and at
``/api/projects/<id>/items/<id>/views/``.

Also the sign-in events an administrator is alerted to (``SecurityEvent`` rows)."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser

from labeler.models import ItemView, SecurityEvent


def item_view_record(
    *,
    user: AbstractBaseUser,
    project_id: int,
    item_id: int | None,
    where: str,
    detail: str = "",
) -> None:
    ItemView.objects.create(
        project_id=project_id,
        item_id=item_id,
        user=user if user.is_authenticated else None,
        where=where,
        detail=detail[:200],
    )


def item_views_record(
    *, user: AbstractBaseUser, project_id: int, item_ids: list[int], where: str
) -> None:
    """Several items shown at once (the labeling page holds the next ones): one INSERT."""
    ItemView.objects.bulk_create(
        ItemView(project_id=project_id, item_id=item_id, user=user, where=where)
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
