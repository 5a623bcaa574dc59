"""A manager's actions on items from the items page: put items back in the queue, take back
skips, and keep each item's latest model guess that the page filters on."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection, transaction

from labeler import queue
from labeler.models import Item, LabelClass, ModelRun, Project, QueueEntry, Skip, Suggestion

# Rows per committed batch of model guesses: each batch locks its items only until it commits,
# so an annotator's submit on one of them waits milliseconds, not the whole write.
PREDICTION_BATCH = 200
# A guess whose confidence moved less than this is not rewritten (the page shows two digits).
CONFIDENCE_STEP = 0.005
# Items the queue may serve again: nobody's answer would be overwritten.
REQUEUABLE = (Item.Status.UNLABELED, Item.Status.SKIPPED)


@dataclass
class BulkOutcome:
    changed: list[int] = field(default_factory=list)
    # Item ids left alone, with the reason a manager reads.
    refused: dict[int, str] = field(default_factory=dict)


def _locked_items(project: Project, item_ids: list[int]) -> list[Item]:
    return list(
        Item.objects.select_for_update().filter(project=project, pk__in=item_ids).order_by("pk")
    )


def items_unskip(*, project: Project, item_ids: list[int]) -> BulkOutcome:
    """Skipped items go back to the pool, where the strategy may choose them again. The skips
    themselves are what kept them out of the pool, so they are removed."""
    outcome = BulkOutcome()
    with transaction.atomic():
        for item in _locked_items(project, item_ids):
            if not Skip.objects.filter(item=item).exists():
                outcome.refused[item.pk] = "not skipped"
                continue
            Skip.objects.filter(item=item).delete()
            if item.status == Item.Status.SKIPPED:
                Item.objects.filter(pk=item.pk).update(status=Item.Status.UNLABELED)
            outcome.changed.append(item.pk)
    return outcome


def items_requeue(*, project: Project, item_ids: list[int]) -> BulkOutcome:
    """Unlabeled or skipped items go to the front of the queue, ahead of the strategy's picks
    and kept when a new round replaces the old one. A labeled item is refused: its label is
    changed by a correction, which keeps the history."""
    outcome = BulkOutcome()
    with transaction.atomic():
        items = _locked_items(project, item_ids)
        queued = queue.open_item_ids(project=project, items=items)
        requeued = []
        for item in items:
            if item.status not in REQUEUABLE:
                outcome.refused[item.pk] = "already labeled; correct it instead"
                continue
            if item.pk in queued:
                outcome.refused[item.pk] = "already in the queue"
                continue
            Skip.objects.filter(item=item).delete()
            if item.status == Item.Status.SKIPPED:
                Item.objects.filter(pk=item.pk).update(status=Item.Status.UNLABELED)
            requeued.append(item)
            outcome.changed.append(item.pk)
        queue.requeue(project=project, items=requeued)
    return outcome


def item_predictions_store(*, run: ModelRun) -> int:
    """Write the run's guess onto its project's answered items, the items its round queued
    and the items the team's own model suggested for, so the items page can filter by the
    current model (against the label, and against the suggestion). Answered items are bounded
    by the label budget, suggested ones by the team's file; the pool's other items keep no
    guess. Only changed guesses are
    written, in small batches that each commit (a guess is advisory: a batch lost to a crash is
    rewritten by the next run). Returns the items written."""
    from labeler import engine

    if not run.artifact_path:
        return 0
    project = run.project
    classes = dict(LabelClass.objects.filter(project=project).values_list("name", "id"))
    answered = set(
        Item.objects.filter(project=project)
        .exclude(status__in=REQUEUABLE)
        .values_list("id", flat=True)
    )
    suggested = Suggestion.objects.filter(project=project).values_list("item_id", flat=True)
    # Items without a row in the run's features get no guess.
    guesses = engine.predict_items(run=run, item_ids=sorted(answered.union(suggested)))
    queued = QueueEntry.objects.filter(
        project=project, round__model_run=run, predicted_label__isnull=False
    ).values_list("item_id", "predicted_label_id", "predicted_confidence")
    rows = {pk: (classes.get(name), confidence) for pk, (name, confidence) in guesses.items()}
    rows.update({pk: (label_id, confidence) for pk, label_id, confidence in queued})
    stored = {
        pk: (label_id, confidence)
        for pk, label_id, confidence in Item.objects.filter(pk__in=list(rows)).values_list(
            "pk", "model_label_id", "model_confidence"
        )
    }
    updated = [
        (label_id, confidence, pk)
        for pk, (label_id, confidence) in sorted(rows.items())
        if _guess_changed(stored.get(pk), (label_id, confidence))
    ]
    # One plain UPDATE per item, sent as a batch (psycopg pipelines executemany): Django's
    # bulk_update spent longer building its CASE expression than the database took to run it
    # (0.5 of 0.9 s for 2,300 labels, on every retrain).
    sql = (
        f"UPDATE {Item._meta.db_table} SET model_label_id = %s, model_confidence = %s WHERE id = %s"
    )
    for start in range(0, len(updated), PREDICTION_BATCH):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, updated[start : start + PREDICTION_BATCH])
    return len(updated)


def _guess_changed(stored: tuple | None, new: tuple) -> bool:
    if stored is None or stored[0] != new[0]:
        return True
    before, after = stored[1], new[1]
    if before is None or after is None:
        return before != after
    return abs(before - after) >= CONFIDENCE_STEP


def item_finding_probabilities_store(
    *, project: Project, item_ids: list[int], finding_names: list[str], proba
) -> int:
    """A findings run's probability per finding onto the items (``proba``: an
    ``(len(item_ids), len(finding_names))`` array), for the items page; the findings
    counterpart of ``item_predictions_store``, called by the findings training glue for the
    answered items and those its round queued. Written in small committed batches, like the
    single-label guesses. Returns the items written."""
    rows = [
        ({name: round(float(p), 4) for name, p in zip(finding_names, row, strict=True)}, pk)
        for pk, row in zip(item_ids, proba, strict=True)
    ]
    for start in range(0, len(rows), PREDICTION_BATCH):
        batch = rows[start : start + PREDICTION_BATCH]
        with transaction.atomic():
            for probabilities, pk in batch:
                Item.objects.filter(project=project, pk=pk).update(model_findings=probabilities)
    return len(rows)
