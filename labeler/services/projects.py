"""Creating and configuring projects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from labeler.models import LabelClass, Membership, Project


def project_create(
    *,
    name: str,
    kind: str,
    classes: Iterable[str] = (),
    created_by: AbstractBaseUser | None = None,
    **options: object,
) -> Project:
    """Create a project with its classes; its creator becomes its manager."""
    with transaction.atomic():
        project = Project.objects.create(name=name, kind=kind, created_by=created_by, **options)
        label_classes_ensure(project=project, names=classes)
        if created_by is not None:
            Membership.objects.create(
                project=project, user=created_by, role=Membership.Role.MANAGER
            )
    return project


def label_classes_ensure(*, project: Project, names: Iterable[str]) -> dict[str, LabelClass]:
    """Create the named classes that do not exist yet; return all of the project's by name."""
    existing = {c.name: c for c in project.classes.all()}
    next_order = max((c.order for c in existing.values()), default=-1) + 1
    for name in names:
        name = name.strip()
        if name and name not in existing:
            existing[name] = LabelClass.objects.create(project=project, name=name, order=next_order)
            next_order += 1
    return existing


# Kind and counters never change after creation: items and features depend on the kind.
EDITABLE_FIELDS = (
    "name",
    "description",
    "guidelines",
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
    "dicom_allow_burned_in",
)


def project_update(
    *, project: Project, changes: Mapping[str, object], new_classes: Iterable[str] = ()
) -> Project:
    """Apply validated setting changes and add classes. Existing classes are kept: their
    annotations refer to them. The next retrain picks the new settings up."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"these project fields cannot be changed: {sorted(unknown)}")
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        features_before = locked.features
        for name, value in changes.items():
            setattr(locked, name, value)
        # Only the edited fields: the counters are updated concurrently by submits.
        locked.save(update_fields=[*changes, "updated_at"])
        label_classes_ensure(project=locked, names=new_classes)
        if "features" in changes and changes["features"] != features_before:
            from labeler.engine import feature_set_request

            # A new version is computed in the background; the current features, model and
            # queue keep serving until it is ready, and the next retrain after that uses it.
            feature_set_request(project=locked, retry_failed=True)
    return locked
