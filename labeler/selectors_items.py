"""Reads behind the items page: filters over a project's items and keyset (cursor) paging.

Nothing here counts the pool: a page is the next ``limit`` rows after a cursor, read along an
index ((project, id), (project, status, id), (project, label, id) or (project,
model_confidence, id)), so the hundredth page costs what the first does at a million items.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from labeler.models import (
    MODEL_DISAGREES,
    Annotation,
    Item,
    ItemFinding,
    Project,
    QueueEntry,
    Suggestion,
)
from labeler.models_suggestions import SUGGESTION_DISAGREES

PAGE_SIZE = 50
ITEM_STATUSES = ("unlabeled", "queued", "labeled", "pending", "skipped", "flagged", "conflict")
SORTS = ("newest", "oldest", "least_confident", "most_confident")


@dataclass(frozen=True)
class ItemFilter:
    status: str = ""
    label_id: int | None = None
    annotator_id: int | None = None
    labeled_from: dt.date | None = None
    labeled_to: dt.date | None = None
    note: str = ""
    predicted_id: int | None = None
    confidence_min: float | None = None
    confidence_max: float | None = None
    disagrees: bool = False
    # The loop's model and the team's own (its imported suggestion) name different classes.
    suggestion_disagrees: bool = False
    sort: str = "newest"
    # Findings projects: items whose resolved state of this finding is ``finding_state``
    # (1 present, 0 absent, -1 uncertain).
    finding_id: int | None = None
    finding_state: int | None = None


@dataclass(frozen=True)
class ItemPage:
    items: list[Item]
    next_cursor: str | None


class BadCursor(ValueError):
    """A cursor that this page did not hand out."""


def _encode(sort: str, item: Item) -> str:
    key = f"{item.pk}" if sort in ("newest", "oldest") else f"{item.model_confidence!r}:{item.pk}"
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[float | None, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if ":" in raw:
            confidence, pk = raw.split(":", 1)
            return float(confidence), int(pk)
        return None, int(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadCursor("this page link is out of date; start from the first page") from error


def _answers(**conditions) -> Exists:
    return Exists(Annotation.objects.filter(item=OuterRef("pk"), is_current=True, **conditions))


def items_filtered(
    *, project: Project, viewer: AbstractBaseUser, own_only: bool, filters: ItemFilter
) -> QuerySet[Item]:
    """The project's items matching ``filters``. With ``own_only`` (an annotator) only the
    items they answered, each carrying ``own_label_name``: their answer, not the consensus."""
    items = Item.objects.filter(project=project).select_related(
        "label", "model_label", "suggestion__label"
    )
    if own_only:
        mine = Annotation.objects.filter(item=OuterRef("pk"), annotator=viewer, is_current=True)
        items = items.filter(Exists(mine)).annotate(
            own_label_name=Subquery(mine.order_by("-created_at").values("label__name")[:1])
        )
    status = filters.status
    if status == "queued":
        items = items.filter(Exists(QueueEntry.objects.filter(item=OuterRef("pk"), done=False)))
    elif status == "flagged":
        items = items.filter(_answers(is_unsure=True))
    elif status:
        items = items.filter(status=status)
    if filters.label_id is not None:
        items = items.filter(label_id=filters.label_id)
    if filters.annotator_id is not None:
        items = items.filter(_answers(annotator_id=filters.annotator_id))
    if filters.labeled_from is not None or filters.labeled_to is not None:
        dates = {}
        if filters.labeled_from is not None:
            dates["created_at__date__gte"] = filters.labeled_from
        if filters.labeled_to is not None:
            dates["created_at__date__lte"] = filters.labeled_to
        items = items.filter(_answers(**dates))
    if filters.note:
        items = items.filter(_answers(note__icontains=filters.note))
    if filters.predicted_id is not None:
        items = items.filter(model_label_id=filters.predicted_id)
    if filters.confidence_min is not None:
        items = items.filter(model_confidence__gte=filters.confidence_min)
    if filters.confidence_max is not None:
        items = items.filter(model_confidence__lte=filters.confidence_max)
    if filters.disagrees:
        items = items.filter(MODEL_DISAGREES)
    if filters.finding_id is not None and filters.finding_state is not None:
        items = _with_finding(items, project, filters.finding_id, filters.finding_state)
    if filters.suggestion_disagrees:
        items = items.filter(SUGGESTION_DISAGREES)
    return items


def _with_finding(items: QuerySet[Item], project: Project, finding_id: int, state: int):
    """Present or uncertain: a join along ItemFinding's (project, finding, state, item) index,
    in item order, so a keyset page reads its fifty rows. Absent (no row): the labeled items
    along (project, status, id) less those with a row, which are the few."""
    if state:
        return items.filter(
            findings__project=project, findings__finding_id=finding_id, findings__state=state
        )
    marked = ItemFinding.objects.filter(item=OuterRef("pk"), finding_id=finding_id)
    return items.filter(status=Item.Status.LABELED).exclude(Exists(marked))


def items_page(
    *,
    project: Project,
    viewer: AbstractBaseUser,
    own_only: bool,
    filters: ItemFilter,
    cursor: str = "",
    limit: int = PAGE_SIZE,
) -> ItemPage:
    """One page of matching items after ``cursor``, and the cursor of the next page (None on
    the last). Confidence sorts list only items the model has a guess for."""
    items = items_filtered(project=project, viewer=viewer, own_only=own_only, filters=filters)
    sort = filters.sort if filters.sort in SORTS else "newest"
    after = _decode(cursor) if cursor else None
    if sort == "newest":
        items = items.order_by("-id")
        if after:
            items = items.filter(pk__lt=after[1])
    elif sort == "oldest":
        items = items.order_by("id")
        if after:
            items = items.filter(pk__gt=after[1])
    else:
        items = items.filter(model_confidence__isnull=False)
        ascending = sort == "least_confident"
        items = items.order_by(
            *(("model_confidence", "id") if ascending else ("-model_confidence", "-id"))
        )
        if after:
            confidence, pk = after
            if confidence is None:
                raise BadCursor("this page link is out of date; start from the first page")
            if ascending:
                items = items.filter(
                    Q(model_confidence__gt=confidence) | Q(model_confidence=confidence, pk__gt=pk)
                )
            else:
                items = items.filter(
                    Q(model_confidence__lt=confidence) | Q(model_confidence=confidence, pk__lt=pk)
                )
    rows = list(items[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return ItemPage(rows, _encode(sort, rows[-1]) if more and rows else None)


def annotators_of(*, project: Project) -> list[tuple[int, str]]:
    """(user id, username) of the project's members who may label, for the annotator filter."""
    from labeler.models import Membership

    return list(
        Membership.objects.filter(
            project=project, role__in=[Membership.Role.MANAGER, Membership.Role.ANNOTATOR]
        )
        .order_by("user__username")
        .values_list("user_id", "user__username")
    )


def suggestions_shown(*, project: Project, item_ids: list[int]) -> dict[int, dict]:
    """The team model's suggestion ``{"label", "score"}`` per item, for the labeling page and
    the next-item API: only where the project shows suggestions (experts anchor on them)."""
    if not project.show_suggestions or not item_ids:
        return {}
    rows = Suggestion.objects.filter(
        project=project, item_id__in=item_ids, label__isnull=False
    ).values_list("item_id", "label__name", "score")
    return {item_id: {"label": label, "score": score} for item_id, label, score in rows}


def suggestions_count(*, project: Project) -> int:
    # Bounded by the team's file, not the pool: counted only on the import page.
    return Suggestion.objects.filter(project=project).count()
