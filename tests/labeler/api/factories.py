"""Builders for API tests: members, items, rounds, annotations and runs, written directly
where the loop's services would write them, so each test states only what it needs."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db.models import F
from django.utils import timezone

from labeler.models import (
    Annotation,
    Item,
    LabelClass,
    Membership,
    ModelRun,
    Project,
    QueryRound,
    QueueEntry,
    item_file_path,
)


def membership_add(*, project: Project, user: AbstractBaseUser, role: str) -> Membership:
    return Membership.objects.create(project=project, user=user, role=role)


def item_add(
    project: Project,
    *,
    text: str = "",
    image: bytes = b"",
    label: str | None = None,
    is_evaluation: bool = False,
    source_name: str = "",
) -> Item:
    content = image or text.encode()
    checksum = hashlib.sha256(content).hexdigest()
    label_class = LabelClass.objects.get(project=project, name=label) if label else None
    item = Item(
        project=project,
        text=text,
        source_name=source_name or f"row-{checksum[:8]}",
        checksum=checksum,
        prelabel=label_class,
        label=label_class,
        status=Item.Status.LABELED if label_class else Item.Status.UNLABELED,
        is_evaluation=is_evaluation,
    )
    if image:
        item.file.save(item_file_path(item, "x.png"), ContentFile(image), save=False)
    item.save()
    Project.objects.filter(pk=project.pk).update(n_items=F("n_items") + 1)
    return item


def round_add(project: Project, items: list[Item], *, number: int = 1) -> QueryRound:
    query_round = QueryRound.objects.create(
        project=project, number=number, strategy="cold_start", size=len(items)
    )
    QueueEntry.objects.bulk_create(
        QueueEntry(project=project, round=query_round, item=item, rank=rank)
        for rank, item in enumerate(items)
    )
    return query_round


def annotation_add(
    item: Item,
    annotator: AbstractBaseUser,
    label: str,
    *,
    kind: str = QueueEntry.Kind.STRATEGY,
    query_round: QueryRound | None = None,
    predicted: str | None = None,
    confidence: float | None = None,
    days_ago: float = 0,
) -> Annotation:
    """A current annotation, as a submit leaves it: the item labeled, older answers replaced."""
    label_class = LabelClass.objects.get(project=item.project, name=label)
    predicted_class = (
        LabelClass.objects.get(project=item.project, name=predicted) if predicted else None
    )
    previous = Annotation.objects.filter(item=item, annotator=annotator, is_current=True).first()
    if previous:
        previous.is_current = False
        previous.save(update_fields=["is_current"])
    annotation = Annotation.objects.create(
        project=item.project,
        item=item,
        annotator=annotator,
        label=label_class,
        kind=kind,
        round=query_round,
        predicted_label=predicted_class,
        predicted_confidence=confidence,
        replaces=previous,
    )
    if days_ago:
        created = timezone.now() - timedelta(days=days_ago)
        Annotation.objects.filter(pk=annotation.pk).update(created_at=created)
        annotation.refresh_from_db()
    item.label = label_class
    item.status = Item.Status.LABELED
    item.save(update_fields=["label", "status"])
    return annotation


def model_run_add(project: Project, **fields) -> ModelRun:
    return ModelRun.objects.create(project=project, **fields)
