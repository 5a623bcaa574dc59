"""The annotator's answers: submit a label, correct it, and a manager's adjudication; the item's
label and the project's counters follow in the same transaction. Leasing is in
``services.leasing``, skips and undo in ``services.undoing``.

Lock order, the same in every transaction here (a fixed order is what rules out deadlocks):
  1. the Item row (one item per transaction),
  2. that item's QueueEntry rows,
  3. the Project row (budget check, counters),
  4. that item's Annotation rows,
  5. the QueryRound counter.
Rows under an item (its entries and annotations) are only locked after the item itself, so
two transactions on one item queue on the item; the project row comes after, and is held
only until commit. ``project_update`` locks the project row alone. A lease
(``services.leasing``) first takes its annotator's advisory lock (only leases take it, and
before anything else: one annotator's leases queue on each other), then locks its entries
with SKIP LOCKED, and the queue writers' advisory lock (``services.locks``) before the
project row (FOR NO KEY UPDATE) for a budget or a daily cap, or only when nothing is free,
before it explores (locking items with SKIP LOCKED after it). The worker writing a round
(``services.rounds``) locks the entries it replaces with SKIP LOCKED, then the queue writers'
lock, and never the project row: submits do not wait for a round being written. Undo
(``services.undoing``) reads the annotation unlocked, then locks item before annotation.
``tests/labeler/test_lock_order.py`` forces each would-be cycle on PostgreSQL.
"""

from __future__ import annotations

from collections import Counter

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from labeler.models import (
    Annotation,
    Item,
    LabelClass,
    ModelRun,
    Project,
    QueryRound,
    QueueEntry,
)
from labeler.services import webhooks
from labeler.services.leasing import _limit_state
from labeler.services.locks import lock_clause
from labeler.services.queue_rows import entries_read
from labeler.services.rejections import Rejected


class SubmitRejected(Rejected):
    """A submit or skip that cannot be accepted; ``code`` is stable for API clients."""


def _refill_threshold(project: Project) -> int:
    # Ask for the next round while a quarter of this one is still open, so annotators keep
    # labeling during the retrain instead of waiting for it.
    return max(1, project.round_size // 4)


def _after_queue_progress(project: Project, round_id: int | None, *, is_reserve: bool) -> None:
    from labeler.services.training import retrain_request

    # Plain SQL for the two statements every submit runs here: the ORM took longer to compose
    # them than the database to run them (docs/benchmarks.md, "Load").
    with connection.cursor() as cursor:
        # Reserve entries are not part of their round's size: they do not advance it.
        if round_id is not None and not is_reserve:
            cursor.execute(
                f"UPDATE {QueryRound._meta.db_table} SET n_done = n_done + 1, completed_at ="
                " CASE WHEN completed_at IS NULL AND n_done >= size - 1 THEN %s"
                " ELSE completed_at END WHERE id = %s",
                [connection.ops.adapt_datetimefield_value(timezone.now()), round_id],
            )
        # The reserve is what annotators label while the next round trains: the retrain is
        # asked for when the round itself runs low, not when the reserve does. Read with the
        # newest run's status: while one is on its way (most submits near a round's end
        # during a retrain), there is nothing to ask for.
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM {QueueEntry._meta.db_table}"
            " WHERE project_id = %s AND NOT done AND NOT is_reserve),"
            f" (SELECT status FROM {ModelRun._meta.db_table} WHERE project_id = %s"
            " ORDER BY created_at DESC LIMIT 1)",
            [project.pk, project.pk],
        )
        open_entries, newest_run = cursor.fetchone()
    active = newest_run in ModelRun.ACTIVE
    if open_entries <= _refill_threshold(project) and not active:
        retrain_request(project=project)


def annotation_submit(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    item_id: int,
    label: str,
    client_key: str | None = None,
    seconds_spent: float | None = None,
    note: str = "",
    is_unsure: bool = False,
) -> tuple[Annotation, bool]:
    """Record an expert's label. Returns ``(annotation, created)``; repeating a
    ``client_key`` returns the annotation it created the first time.

    One transaction: the annotation, the item's current label, the queue entry, the round's
    counter and the project's counters change together or not at all.
    """
    if seconds_spent is not None and not 0 <= seconds_spent <= 24 * 3600:
        raise SubmitRejected("invalid", _("seconds_spent must be between 0 and 86400"))
    try:
        with transaction.atomic():
            return _submit(
                project, annotator, item_id, label, client_key, seconds_spent, note, is_unsure
            )
    except (IntegrityError, SubmitRejected):
        # A retry of an answer already stored (its client_key is taken) is that answer: the
        # unique constraint decides, so the first attempt costs no look-up. A retry usually
        # fails earlier ("not_served": its entry is done), so rejections look too.
        existing = (
            Annotation.objects.filter(annotator=annotator, client_key=client_key).first()
            if client_key
            else None
        )
        if existing is None:
            raise
        if existing.project_id != project.pk or existing.item_id != item_id:
            raise SubmitRejected(
                "client_key_reused", _("this client_key was already used for another item")
            ) from None
        return existing, False


def _locked_item(project: Project, item_id: int) -> Item:
    item = Item.objects.select_for_update().filter(project=project, pk=item_id).first()
    if item is None:
        raise SubmitRejected("not_in_project", f"item {item_id} is not in this project")
    return item


def _label_class(project: Project, label: str) -> LabelClass:
    label_class = project.classes.filter(name=label).first()
    if label_class is None:
        known = ", ".join(project.classes.values_list("name", flat=True))
        raise SubmitRejected("unknown_label", f"unknown label {label!r}; classes are: {known}")
    return label_class


def _locked_item_and_class(project: Project, item_id: int, label: str):
    """The item, locked, and the project's class named ``label``: one statement, as every
    submit starts with both. The item carries only what a submit reads (id, status)."""
    sql = (
        f"SELECT i.id, i.status, (SELECT c.id FROM {LabelClass._meta.db_table} c"
        " WHERE c.project_id = %s AND c.name = %s)"
        f" FROM {Item._meta.db_table} i WHERE i.project_id = %s AND i.id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql + lock_clause("i"), [project.pk, label, project.pk, item_id])
        row = cursor.fetchone()
    if row is None:
        raise SubmitRejected("not_in_project", f"item {item_id} is not in this project")
    pk, status, class_id = row
    if class_id is None:
        _label_class(project, label)  # raises, naming the classes
    item = Item.from_db(connection.alias, ["id", "project_id", "status"], [pk, project.pk, status])
    label_class = LabelClass.from_db(
        connection.alias, ["id", "project_id", "name"], [class_id, project.pk, label]
    )
    return item, label_class


def _submit(project, annotator, item_id, label, client_key, seconds_spent, note, is_unsure):
    now = timezone.now()
    item, label_class = _locked_item_and_class(project, item_id, label)
    # The item's current annotations, read once: the one this answer replaces and, with the
    # new one, what the item's label is derived from.
    current = list(
        Annotation.objects.filter(item=item, is_current=True).order_by("-created_at", "-id")
    )
    if project.overlap > 1 and any(a.annotator_id == annotator.pk for a in current):
        raise SubmitRejected(
            "already_labeled",
            "you already labeled this item; to change your label, correct your annotation",
        )
    entry = _entry_for_submit(project, item, annotator, now)
    if project.budget is not None:
        # The budget check must see every concurrent submit's count: lock the project row.
        # Without a budget there is nothing to check, and submits need not queue behind
        # each other on it.
        project = Project.objects.select_for_update().get(pk=project.pk)
    limit = _limit_state(project, annotator, now, leasing=False)
    if limit is not None:
        raise SubmitRejected(limit.state, limit.message)

    previous = _replaced(current, project, annotator)
    if previous is not None:
        Annotation.objects.filter(pk=previous.pk).update(is_current=False)
    annotation = Annotation.objects.create(
        project=project,
        item=item,
        annotator=annotator,
        label=label_class,
        kind=entry.kind,
        round=entry.round,
        seconds_spent=seconds_spent,
        note=note[:5000],
        predicted_label=entry.predicted_label,
        predicted_confidence=entry.predicted_confidence,
        client_key=client_key or None,
        is_unsure=is_unsure,
        replaces=previous,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {QueueEntry._meta.db_table} SET done = %s WHERE id = %s", [True, entry.pk]
        )
    now_current = [annotation] + [a for a in current if a is not previous]
    item_resolve(item=item, project=project, annotations_added=1, current=now_current)
    _after_queue_progress(project, entry.round_id, is_reserve=entry.is_reserve)
    webhooks.labels_added_emit(project_id=project.pk, item_ids=[item.pk])
    return annotation, True


def _entry_for_submit(project, item, annotator, now) -> QueueEntry:
    """The queue entry this submit answers: the one the annotator holds (its lease may have
    expired while nobody else took the item). An annotator answers only what they were
    served, so nobody can label items of their choosing past the queue."""
    mine = entries_read(
        "q.project_id = %s AND q.item_id = %s AND NOT q.done AND q.leased_by_id = %s",
        [project.pk, item.pk, annotator.pk],
        limit=1,
        lock=True,
    )
    if mine:
        return mine[0]
    if QueueEntry.objects.filter(project=project, item=item, done=False).exists():
        # "lease_expired" as before: the usual cause, and a stable code for API clients.
        raise SubmitRejected(
            "lease_expired",
            "you do not hold this item: ask for the next item, or your hold expired and "
            "another annotator is labeling it now",
        )
    raise SubmitRejected(
        "not_served",
        "this item is not waiting in the queue (already labeled or never served); "
        "to change a label, correct the existing annotation",
    )


def _replaced(current: list[Annotation], project: Project, annotator) -> Annotation | None:
    """Of the item's current annotations (newest first), the one a new answer replaces: with
    one annotator per item, the item's current answer; with overlap, this annotator's own."""
    return next(
        (
            a
            for a in current
            if not a.is_adjudication and (project.overlap <= 1 or a.annotator_id == annotator.pk)
        ),
        None,
    )


def item_resolve(
    *,
    item: Item,
    project: Project,
    annotations_added: int = 0,
    current: list[Annotation] | None = None,
) -> str:
    """Derive the item's label from its current annotations and keep the counters right.

    One annotator per item: their label. With overlap N: nothing until N answers are in, then
    the strict majority, else a conflict for a manager to adjudicate. A manager's
    adjudication always decides. Only resolved labels are trained on.

    ``current``: the item's current annotations, newest first, where the caller has them
    (a submit does), saving a read."""
    if current is None:
        current = list(
            Annotation.objects.filter(item=item, is_current=True).order_by("-created_at", "-id")
        )
    ruling = next((a for a in current if a.is_adjudication), None)
    answers = [a for a in current if not a.is_adjudication]
    label_id = None
    if ruling is not None:
        status, label_id = Item.Status.LABELED, ruling.label_id
    elif not answers:
        status = Item.Status.UNLABELED
    elif project.overlap <= 1:
        status, label_id = Item.Status.LABELED, answers[0].label_id
    elif len(answers) < project.overlap:
        status = Item.Status.PENDING
    else:
        votes = Counter(a.label_id for a in answers)
        winner, count = votes.most_common(1)[0]
        if count * 2 > len(answers):
            status, label_id = Item.Status.LABELED, winner
        else:
            status = Item.Status.CONFLICT
    # The caller holds the item's row lock, so its loaded status is the stored one.
    was_labeled = item.status == Item.Status.LABELED
    labeled_change = (status == Item.Status.LABELED) - was_labeled
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Item._meta.db_table} SET status = %s, label_id = %s WHERE id = %s",
            [status, label_id, item.pk],
        )
        if labeled_change or annotations_added:
            # One counter update per answer, written last: the project row is locked only
            # briefly before commit.
            cursor.execute(
                f"UPDATE {Project._meta.db_table} SET n_labeled = n_labeled + %s,"
                " n_annotations = n_annotations + %s WHERE id = %s",
                [labeled_change, annotations_added, project.pk],
            )
    item.status, item.label_id = status, label_id
    return status


def item_adjudicate(
    *, project: Project, manager: AbstractBaseUser, item_id: int, label: str
) -> Annotation:
    """A manager decides the label of an item (usually a conflict). The annotators' answers
    stay as they are, for the agreement figures and the record."""
    with transaction.atomic():
        item = _locked_item(project, item_id)
        label_class = _label_class(project, label)
        previous = Annotation.objects.filter(
            item=item, is_current=True, is_adjudication=True
        ).first()
        if previous is not None:
            Annotation.objects.filter(pk=previous.pk).update(is_current=False)
        ruling = Annotation.objects.create(
            project=project,
            item=item,
            annotator=manager,
            label=label_class,
            kind=item.annotations.values_list("kind", flat=True).first() or "strategy",
            is_adjudication=True,
            replaces=previous,
        )
        item_resolve(item=item, project=project)
    return ruling


def annotation_correct(
    *, annotation: Annotation, annotator: AbstractBaseUser, label: str
) -> Annotation:
    """Change a label. The old annotation stays in the history; a new one replaces it."""
    with transaction.atomic():
        item = Item.objects.select_for_update().get(pk=annotation.item_id)
        project = Project.objects.select_for_update().get(pk=annotation.project_id)
        current = Annotation.objects.select_for_update().get(pk=annotation.pk)
        if not current.is_current:
            raise SubmitRejected(
                "not_current", "this annotation was already corrected; correct the newest one"
            )
        label_class = _label_class(project, label)
        limit = _limit_state(project, annotator, timezone.now(), leasing=False)
        if limit is not None:
            raise SubmitRejected(limit.state, limit.message)
        Annotation.objects.filter(pk=current.pk).update(is_current=False)
        corrected = Annotation.objects.create(
            project=project,
            item_id=current.item_id,
            annotator=annotator,
            label=label_class,
            kind=current.kind,
            round_id=current.round_id,
            predicted_label_id=current.predicted_label_id,
            predicted_confidence=current.predicted_confidence,
            replaces=current,
        )
        item_resolve(item=item, project=project, annotations_added=1)
    return corrected
