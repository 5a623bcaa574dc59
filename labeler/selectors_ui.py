"""Reads the HTML pages need beyond ``selectors``: the user's role in a project, the entry an
annotator will most likely get next (to prefetch its image), progress figures for the labeling
page and recent import jobs. Everything is bounded: one row, a counter or a short list."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone

from labeler.models import ImportJob, Item, Membership, Project, QueueEntry
from labeler.services.annotating import labels_today


def project_with_role(*, user: AbstractBaseUser, project_id: int) -> tuple[Project, str] | None:
    """The project and the user's role in it, in one query; None if they are not a member."""
    if user.is_superuser:
        project = Project.objects.filter(pk=project_id).first()
        return (project, Membership.Role.MANAGER) if project else None
    membership = (
        Membership.objects.select_related("project")
        .filter(user=user, project_id=project_id)
        .first()
    )
    return (membership.project, membership.role) if membership else None


def project_roles(*, user: AbstractBaseUser) -> dict[int, str]:
    """The user's role in each of their projects, by project id."""
    return dict(Membership.objects.filter(user=user).values_list("project_id", "role"))


def item_visible_to(*, user: AbstractBaseUser, item_id: int) -> Item | None:
    items = Item.objects.filter(pk=item_id)
    if not user.is_superuser:
        items = items.filter(project__memberships__user=user)
    return items.first()


def entry_following(*, entry: QueueEntry, annotator: AbstractBaseUser) -> QueueEntry | None:
    """The free entry this annotator will probably be served after ``entry``: read-only, no
    lease; only used to warm the browser's cache."""
    now = timezone.now()
    return (
        QueueEntry.objects.filter(project_id=entry.project_id, done=False)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
        .exclude(item_id=entry.item_id)
        .exclude(item__skips__annotator=annotator)
        .select_related("item")
        .order_by("rank", "id")
        .first()
    )


def annotator_progress(*, project: Project, annotator: AbstractBaseUser) -> dict:
    today = labels_today(project=project, annotator=annotator, now=timezone.now())
    return {"today": today, "daily_cap": project.daily_cap}


def import_jobs_recent(*, project: Project, limit: int = 10) -> list[ImportJob]:
    return list(ImportJob.objects.filter(project=project).order_by("-created_at", "-id")[:limit])
