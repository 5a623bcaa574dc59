"""Changing a project's settings after it was created (the settings page)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import transaction

from labeler.models import Project
from labeler.services.projects import label_classes_ensure

# Kind and counters never change after creation: items and features depend on the kind.
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "strategy",
        "features",
        "round_size",
        "budget",
        "daily_cap",
        "evaluation_share",
        "target_metric",
        "target_value",
        "show_model_guess",
        "lease_seconds",
    }
)


def project_update(
    *, project: Project, changes: Mapping[str, object], new_classes: Iterable[str] = ()
) -> Project:
    """Apply validated setting changes and add classes. Existing classes are kept: their
    annotations refer to them. The next retrain picks the new settings up."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"these project fields cannot be changed: {sorted(unknown)}")
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        for name, value in changes.items():
            setattr(locked, name, value)
        # Only the edited fields: the counters are updated concurrently by submits.
        locked.save(update_fields=[*changes, "updated_at"])
        label_classes_ensure(project=locked, names=new_classes)
    return locked
