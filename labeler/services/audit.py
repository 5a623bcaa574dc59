"""The view audit: who opened which item, where and when (append-only ``ItemView`` rows).
Recorded by the labeling page, the item page, file downloads, the API's item detail and
exports; read by managers on the item's history page and at
``/api/projects/<id>/items/<id>/views/``."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from labeler.models import ItemView


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
