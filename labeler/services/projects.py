"""Creating and configuring projects: the one write path for a project's row, used by the
settings page, the API and the Django admin alike.

``project_update`` locks the row and saves only the edited fields, so an edit can never write
back a stale copy of the counters (``n_items``, ``n_labeled``, ``n_annotations``) that
concurrent submits and imports increment.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from labeler.models import LabelClass, Membership, Project
from labeler.services.rejections import Rejected


class ProjectRejected(Rejected):
    """A project change that cannot be made; ``code`` is stable for callers."""


def class_name_normalize(name: str) -> str:
    """NFKC and trimmed: "ｃａｔ" (full width) and "cat" are one class, as are the
    decomposed and composed spellings of "é"."""
    return unicodedata.normalize("NFKC", name).strip()


def class_name_key(name: str) -> str:
    # Look-alike duplicates: case and Unicode compatibility forms ("Cat", "ＣＡＴ", "cat").
    return class_name_normalize(name).casefold()


def class_names_check(names: Iterable[str], existing: Iterable[str] = ()) -> list[str]:
    """The names normalised; refuses blank names, control characters and names that only
    look like another one (given or ``existing``); the same name twice is one class."""
    cleaned = [class_name_normalize(name) for name in names]
    if any(not name for name in cleaned):
        raise ProjectRejected("blank_class", _("Class names cannot be blank."))
    if any(unicodedata.category(ch).startswith("C") for name in cleaned for ch in name):
        raise ProjectRejected("invalid_class", _("Class names cannot contain control characters."))
    if any(len(name) > 100 for name in cleaned):
        raise ProjectRejected("invalid_class", _("Class names are at most 100 characters."))
    known = {class_name_key(name): name for name in existing}
    for name in cleaned:
        key = class_name_key(name)
        twin = known.setdefault(key, name)
        if twin != name:
            raise ProjectRejected(
                "duplicate_class",
                _("“%(name)s” and “%(twin)s” look alike; class names must be distinct.")
                % {"name": name, "twin": twin},
            )
    # The same name twice is one class; order of first appearance is kept.
    return list(dict.fromkeys(cleaned))


def project_create(
    *,
    name: str,
    kind: str,
    classes: Iterable[str] = (),
    created_by: AbstractBaseUser | None = None,
    **options: object,
) -> Project:
    """Create a project with its classes; its creator becomes its manager."""
    classes = class_names_check(classes)
    unit = options.get("unit", Project.Unit.INSTANCE)
    if unit != Project.Unit.INSTANCE and kind != Project.Kind.IMAGE:
        raise ProjectRejected(
            "unit_needs_images", _("Series and study items are DICOM images: use an image project.")
        )
    with transaction.atomic():
        project = Project.objects.create(name=name, kind=kind, created_by=created_by, **options)
        label_classes_ensure(project=project, names=classes)
        if created_by is not None:
            Membership.objects.create(
                project=project, user=created_by, role=Membership.Role.MANAGER
            )
    return project


def label_classes_ensure(*, project: Project, names: Iterable[str]) -> dict[str, LabelClass]:
    """Create the named classes that do not exist yet; return all of the project's by name.
    Names are NFKC-normalised; a look-alike of an existing class is refused."""
    existing = {c.name: c for c in project.classes.all()}
    names = class_names_check(names, existing)
    next_order = max((c.order for c in existing.values()), default=-1) + 1
    for name in names:
        if name not in existing:
            existing[name] = LabelClass.objects.create(project=project, name=name, order=next_order)
            next_order += 1
    return existing


# What a manager may change after creation, in the settings form's order.
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
    "show_suggestions",
    "lease_seconds",
    "dicom_allow_burned_in",
    "dicom_pixel_text",
    "uncertain_policy",
)
# Fixed once the project exists: items were imported for its kind and grouped by its unit,
# answers have its task's shape, and changing the overlap would strand half-answered items.
# Counters belong to the submits and imports.
FIXED_FIELDS = ("kind", "unit", "overlap", "task")
COUNTER_FIELDS = ("n_items", "n_labeled", "n_annotations")


def project_update(
    *, project: Project, changes: Mapping[str, object], new_classes: Iterable[str] = ()
) -> Project:
    """Apply validated setting changes and add classes. Existing classes are kept: their
    annotations refer to them. The next retrain picks the new settings up.

    A fixed field (kind, overlap) given with a different value is refused; given with its
    current value (a client sending back what it read) it is ignored."""
    with transaction.atomic():
        # Lock order (see labeler/services/annotating.py): the project row alone here.
        locked = Project.objects.select_for_update().get(pk=project.pk)
        features_before = locked.features
        changes = dict(changes)
        for name in FIXED_FIELDS:
            if name in changes and changes.pop(name) != getattr(locked, name):
                raise ProjectRejected(
                    "fixed_field", f"A project's {name} cannot be changed after it is created."
                )
        unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
        if unknown:
            raise ProjectRejected(
                "not_editable", f"These project fields cannot be changed: {', '.join(unknown)}."
            )
        changed = [name for name, value in changes.items() if getattr(locked, name) != value]
        for name in changed:
            setattr(locked, name, changes[name])
        if changed:
            # Only the edited fields: the counters are updated concurrently by submits.
            locked.save(update_fields=[*changed, "updated_at"])
        label_classes_ensure(project=locked, names=new_classes)
        if "features" in changes and changes["features"] != features_before:
            from labeler.services.features import feature_set_request

            # A new version is computed in the background; the current features, model and
            # queue keep serving until it is ready, and the next retrain after that uses it.
            feature_set_request(project=locked, retry_failed=True)
    return locked


def project_auto_representation_set(*, project: Project, name: str) -> None:
    """What "auto" serves from now on, as the retrain's evidence chose it (issue 20). Only
    this field: settings and counters change concurrently."""
    Project.objects.filter(pk=project.pk).update(auto_representation=name)
    project.auto_representation = name
