"""The annotator's side of the loop: lease the next item, submit a label, skip, correct.

Serving reads a precomputed queue (see DESIGN.md): no score is computed on the request path,
and every write happens in one short transaction that also updates the counters.

Lock order, the same in every transaction here (a fixed order is what rules out deadlocks):
  1. the Item row (one item per transaction),
  2. that item's QueueEntry rows,
  3. the Project row (budget check, counters),
  4. that item's Annotation rows,
  5. the QueryRound counter.
Rows under an item (its entries and annotations) are only locked after the item itself, so
two transactions on one item queue on the item; the project row comes after, and is held
only until commit. ``project_update`` locks the project row alone; a lease locks one entry.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Q, When
from django.utils import timezone

from labeler.models import (
    Annotation,
    Item,
    LabelClass,
    ModelRun,
    Project,
    QueryRound,
    QueueEntry,
    Skip,
)
from labeler.selectors import labels_today
from labeler.services.rejections import Rejected


class SubmitRejected(Rejected):
    """A submit or skip that cannot be accepted; ``code`` is stable for API clients."""


@dataclass(frozen=True)
class NextItem:
    state: str  # "ready" | "updating" | "budget_spent" | "daily_cap" | "done"
    entry: QueueEntry | None
    message: str


def _open_leases(project: Project, now: dt.datetime, exclude_user_id: int | None) -> int:
    leases = QueueEntry.objects.filter(project=project, done=False, lease_expires_at__gt=now)
    if exclude_user_id is not None:
        leases = leases.exclude(leased_by_id=exclude_user_id)
    return leases.count()


def _limit_state(
    project: Project, annotator: AbstractBaseUser, now: dt.datetime, *, leasing: bool
) -> NextItem | None:
    """The budget or daily-cap state that stops serving, or None. When leasing, items other
    annotators hold right now count as spent, so eight experts cannot overshoot by eight."""
    if project.budget is not None:
        committed = project.n_annotations
        if leasing:
            committed += _open_leases(project, now, exclude_user_id=annotator.pk)
        if committed >= project.budget:
            return NextItem(
                "budget_spent",
                None,
                f"The project's budget of {project.budget} labels is spent. "
                "A manager can raise it on the project settings page.",
            )
    if (
        project.daily_cap is not None
        and labels_today(project=project, annotator=annotator, now=now) >= project.daily_cap
    ):
        return NextItem(
            "daily_cap",
            None,
            f"You have given your {project.daily_cap} labels for today. Thank you! "
            "The queue opens again tomorrow (UTC).",
        )
    return None


def _lock_free_entry(project: Project, annotator: AbstractBaseUser, now: dt.datetime):
    free = (
        QueueEntry.objects.filter(project=project, done=False)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
        .exclude(item__skips__annotator=annotator)
        .order_by("rank", "id")
    )
    if project.overlap > 1:
        # Each of an item's N entries goes to a different annotator.
        free = free.exclude(item__annotations__annotator=annotator)
    # SKIP LOCKED lets concurrent annotators take the next free row instead of queueing behind
    # each other; SQLite (the demo) has no row locks and serialises writers anyway.
    if connection.features.has_select_for_update_skip_locked:
        free = free.select_for_update(skip_locked=True, of=("self",))
    return free.select_related("item").first()


def next_item_lease(*, project: Project, annotator: AbstractBaseUser) -> NextItem:
    """The item this annotator should label now, leased to them.

    A page reload returns the same item (an unexpired lease is reused), so reloading never
    burns items; an expired lease is simply free again for anyone.
    """
    now = timezone.now()
    lease_until = now + dt.timedelta(seconds=project.lease_seconds)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # A lease is cheap to lose (it simply expires): skip the fsync wait on commit.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        held = (
            QueueEntry.objects.select_for_update()
            .filter(project=project, leased_by=annotator, done=False, lease_expires_at__gt=now)
            .select_related("item")
            .order_by("rank", "id")
            .first()
        )
        if held is not None and project.budget is not None:
            fresh = Project.objects.only("budget", "n_annotations").get(pk=project.pk)
            if fresh.budget is not None and fresh.n_annotations >= fresh.budget:
                # Spent while this item was held (others' labels, or a lowered budget): say
                # so instead of serving an item whose answer would be refused.
                QueueEntry.objects.filter(pk=held.pk).update(leased_by=None, lease_expires_at=None)
                project.budget, project.n_annotations = fresh.budget, fresh.n_annotations
                return _limit_state(project, annotator, now, leasing=False)
        if held is not None:
            held.lease_expires_at = lease_until
            held.save(update_fields=["lease_expires_at"])
            return NextItem("ready", held, "")
        limit = _limit_state(project, annotator, now, leasing=True)
        if limit is not None:
            return limit
        entry = _lock_free_entry(project, annotator, now)
        if entry is not None:
            entry.leased_by = annotator
            entry.lease_expires_at = lease_until
            entry.save(update_fields=["leased_by", "lease_expires_at"])
            return NextItem("ready", entry, "")
    return _empty_queue_state(project)


def _empty_queue_state(project: Project) -> NextItem:
    from labeler.services.training import retrain_request

    active = ModelRun.objects.filter(
        project=project, status__in=[ModelRun.Status.QUEUED, ModelRun.Status.RUNNING]
    ).exists()
    if active:
        return NextItem("updating", None, "The model is updating; new items arrive in a moment.")
    has_pool = (
        Item.objects.filter(project=project, status=Item.Status.UNLABELED)
        .exclude(skips__isnull=False)
        .exists()
    )
    if has_pool:
        # Nothing queued, nothing running, items left: ask for a round (self-healing after a
        # failed run or an import) and let the page poll.
        retrain_request(project=project)
        return NextItem("updating", None, "Choosing the next items; they arrive in a moment.")
    return NextItem("done", None, "Every item in this project is labeled or skipped.")


def _refill_threshold(project: Project) -> int:
    # Ask for the next round while a quarter of this one is still open, so annotators keep
    # labeling during the retrain instead of waiting for it.
    return max(1, project.round_size // 4)


def _after_queue_progress(project: Project, round_id: int | None) -> None:
    from labeler.services.training import retrain_request

    if round_id is not None:
        QueryRound.objects.filter(pk=round_id).update(
            n_done=F("n_done") + 1,
            completed_at=Case(
                When(completed_at__isnull=True, n_done__gte=F("size") - 1, then=timezone.now()),
                default=F("completed_at"),
            ),
        )
    open_entries = QueueEntry.objects.filter(project=project, done=False).count()
    if open_entries <= _refill_threshold(project):
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
) -> tuple[Annotation, bool]:
    """Record an expert's label. Returns ``(annotation, created)``; repeating a
    ``client_key`` returns the annotation it created the first time.

    One transaction: the annotation, the item's current label, the queue entry, the round's
    counter and the project's counters change together or not at all.
    """
    if seconds_spent is not None and not 0 <= seconds_spent <= 24 * 3600:
        raise SubmitRejected("invalid", "seconds_spent must be between 0 and 86400")
    if client_key:
        existing = Annotation.objects.filter(annotator=annotator, client_key=client_key).first()
        if existing is not None:
            if existing.project_id != project.pk or existing.item_id != item_id:
                raise SubmitRejected(
                    "client_key_reused", "this client_key was already used for another item"
                )
            return existing, False
    try:
        with transaction.atomic():
            return _submit(project, annotator, item_id, label, client_key, seconds_spent, note)
    except IntegrityError:
        # A concurrent retry with the same client_key won the race: return its row.
        if client_key:
            existing = Annotation.objects.filter(annotator=annotator, client_key=client_key).first()
            if existing is not None:
                return existing, False
        raise


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


def _submit(project, annotator, item_id, label, client_key, seconds_spent, note):
    now = timezone.now()
    item = _locked_item(project, item_id)
    label_class = _label_class(project, label)
    if (
        project.overlap > 1
        and item.annotations.filter(annotator=annotator, is_current=True).exists()
    ):
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

    previous = _current_annotations(item, project, annotator).first()
    if previous is not None:
        Annotation.objects.filter(pk=previous.pk).update(is_current=False)
    annotation = Annotation.objects.create(
        project=project,
        item=item,
        annotator=annotator,
        label=label_class,
        kind=entry.kind,
        round_id=entry.round_id,
        seconds_spent=seconds_spent,
        note=note[:5000],
        predicted_label_id=entry.predicted_label_id,
        predicted_confidence=entry.predicted_confidence,
        client_key=client_key or None,
        replaces=previous,
    )
    QueueEntry.objects.filter(pk=entry.pk).update(done=True)
    item_resolve(item=item, project=project, annotations_added=1)
    _after_queue_progress(project, entry.round_id)
    return annotation, True


def _entry_for_submit(project, item, annotator, now) -> QueueEntry:
    """The queue entry this submit answers: the one the annotator holds (its lease may have
    expired while nobody else took the item). An annotator answers only what they were
    served, so nobody can label items of their choosing past the queue."""
    entries = QueueEntry.objects.select_for_update().filter(project=project, item=item, done=False)
    mine = entries.filter(leased_by=annotator).order_by("rank", "id").first()
    if mine is not None:
        return mine
    if entries.exists():
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


def _current_annotations(item: Item, project: Project, annotator: AbstractBaseUser):
    """The annotation a new answer replaces: with one annotator per item, the item's current
    one; with overlap, this annotator's own."""
    current = Annotation.objects.filter(item=item, is_current=True, is_adjudication=False)
    return current.filter(annotator=annotator) if project.overlap > 1 else current


def item_resolve(*, item: Item, project: Project, annotations_added: int = 0) -> str:
    """Derive the item's label from its current annotations and keep the counters right.

    One annotator per item: their label. With overlap N: nothing until N answers are in, then
    the strict majority, else a conflict for a manager to adjudicate. A manager's
    adjudication always decides. Only resolved labels are trained on."""
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
    Item.objects.filter(pk=item.pk).update(status=status, label_id=label_id)
    item.status, item.label_id = status, label_id
    labeled_change = (status == Item.Status.LABELED) - was_labeled
    if labeled_change or annotations_added:
        # One counter update per answer, written last: the project row is locked only
        # briefly before commit.
        Project.objects.filter(pk=project.pk).update(
            n_labeled=F("n_labeled") + labeled_change,
            n_annotations=F("n_annotations") + annotations_added,
        )
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


def item_skip(*, project: Project, annotator: AbstractBaseUser, item_id: int) -> None:
    """Pass on an item. It leaves this annotator's queue; with one annotator per item it
    leaves the pool, as Prodigy's "ignore" does, and the skip is kept for the record."""
    with transaction.atomic():
        item = _locked_item(project, item_id)
        entry = (
            QueueEntry.objects.select_for_update()
            .filter(project=project, item=item, done=False, leased_by=annotator)
            .first()
        )
        if entry is None:
            raise SubmitRejected("not_held", "you can only skip the item you are holding")
        Skip.objects.create(project=project, item=item, annotator=annotator)
        if item.status == Item.Status.UNLABELED:
            Item.objects.filter(pk=item.pk).update(status=Item.Status.SKIPPED)
        if entry is not None:
            QueueEntry.objects.filter(pk=entry.pk).update(done=True)
            _after_queue_progress(project, entry.round_id)


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


def last_annotation_undo(*, project: Project, annotator: AbstractBaseUser) -> Item | None:
    """Take back this annotator's latest label: the item returns to the front of their queue,
    the item's previous label (if any) is current again, and the withdrawn annotation stays
    in the history. Returns the item, or None when there is nothing to undo."""
    with transaction.atomic():
        newest = (
            Annotation.objects.filter(project=project, annotator=annotator, is_current=True)
            .order_by("-created_at", "-id")
            .values_list("pk", "item_id")
            .first()
        )
        if newest is None:
            return None
        item = Item.objects.select_for_update().get(pk=newest[1])
        entry = (
            QueueEntry.objects.select_for_update()
            .filter(project=project, item_id=item.pk, done=True)
            .order_by(Case(When(leased_by=annotator, then=0), default=1), "-id")
            .first()
        )
        # The project row before the annotations, as everywhere (its counters change below).
        Project.objects.select_for_update().filter(pk=project.pk).values_list("pk").first()
        last = Annotation.objects.select_for_update().filter(pk=newest[0], is_current=True).first()
        if last is None:
            return None  # a concurrent undo or correction took it back already
        Annotation.objects.filter(pk=last.pk).update(is_current=False)
        previous = last.replaces
        if previous is not None:
            Annotation.objects.filter(pk=previous.pk).update(is_current=True)
        item_resolve(item=item, project=project)
        if previous is None and entry is not None:
            # Back at the front of the queue, held for this annotator.
            QueueEntry.objects.filter(pk=entry.pk).update(
                done=False,
                rank=0,
                leased_by=annotator,
                lease_expires_at=timezone.now() + dt.timedelta(seconds=project.lease_seconds),
            )
            QueryRound.objects.filter(pk=entry.round_id, n_done__gt=0).update(
                n_done=F("n_done") - 1, completed_at=None
            )
        return item
