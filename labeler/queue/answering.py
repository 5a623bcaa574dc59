"""The queue's side of answering, skipping, undoing and releasing: which entry an answer
answers, marking it done with its round's counter, putting an item back in front of its
annotator, and giving a member's held items back to everyone."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, F, Q, QuerySet, When
from django.utils import timezone
from django.utils.translation import gettext as _

from labeler.models import Item, ModelRun, Project, QueryRound, QueueEntry
from labeler.queue import sql


class NotServed(ValueError):
    """An answer for an item the annotator does not hold. ``code`` is stable for API clients
    ("lease_expired", "not_served"); the services refuse the request with it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _refill_threshold(project: Project) -> int:
    # Ask for the next round while a quarter of this one is still open, so annotators keep
    # labeling during the retrain instead of waiting for it.
    return max(1, project.round_size // 4)


def entry_for_answer(*, project: Project, item: Item, annotator: AbstractBaseUser) -> QueueEntry:
    """The queue entry an answer to ``item`` answers, locked (the caller holds the item's
    lock: Lock.ENTRIES after Lock.ITEM): the one the annotator holds (its lease may have
    expired while nobody else took the item). An annotator answers only what they were
    served, so nobody can label items of their choosing past the queue. Any of the
    annotator's tabs may answer what another of their tabs holds: it is the same person, and
    the answer ends that tab's lease."""
    mine = sql.entries_read(
        "q.project_id = %s AND q.item_id = %s AND NOT q.done AND q.leased_by_id = %s",
        [project.pk, item.pk, annotator.pk],
        limit=1,
        lock=True,
    )
    if mine:
        return mine[0]
    if QueueEntry.objects.filter(project=project, item=item, done=False).exists():
        # "lease_expired" as before: the usual cause, and a stable code for API clients.
        raise NotServed(
            "lease_expired",
            _(
                "you do not hold this item: ask for the next item, or your hold expired and "
                "another annotator is labeling it now"
            ),
        )
    raise NotServed(
        "not_served",
        _(
            "this item is not waiting in the queue (already labeled or never served); "
            "to change a label, correct the existing annotation"
        ),
    )


def held_entry(*, project: Project, item: Item, annotator: AbstractBaseUser) -> QueueEntry | None:
    """The open entry of ``item`` this annotator holds, locked (after the item's lock), or
    None."""
    return (
        QueueEntry.objects.select_for_update()
        .filter(project=project, item=item, done=False, leased_by=annotator)
        .first()
    )


def answered(*, project: Project, entry: QueueEntry) -> bool:
    """The queue's side of an answer or a skip of ``entry`` (locked by ``entry_for_answer``
    or ``held_entry`` in this transaction): the entry is done, its round advances (and
    completes with its last entry). Returns whether the round runs low and no run is on its
    way: the caller asks for a retrain then, in the same transaction."""
    sql.execute(sql.ENTRY_DONE, [True, entry.pk])
    # Reserve entries are not part of their round's size: they do not advance it.
    if entry.round_id is not None and not entry.is_reserve:
        sql.execute(sql.ROUND_ANSWERED, [sql.db_now(), entry.round_id])
    # The reserve is what annotators label while the next round trains: the retrain is asked
    # for when the round itself runs low, not when the reserve does.
    open_entries, newest_run = sql.fetch_one(
        sql.OPEN_ENTRIES_AND_NEWEST_RUN, [project.pk, project.pk]
    )
    return open_entries <= _refill_threshold(project) and newest_run not in ModelRun.ACTIVE


def undone(*, project: Project, annotator: AbstractBaseUser, item: Item, tab: str = "") -> None:
    """Put an item back at the front of this annotator's queue, held for them in ``tab`` (a
    skip or an answer taken back; the caller holds the item's lock): the entry it was served
    from if there is one, else a new entry in the latest round."""
    lease_until = timezone.now() + dt.timedelta(seconds=project.lease_seconds)
    entry = (
        QueueEntry.objects.select_for_update()
        .filter(project=project, item=item)
        .filter(Q(done=True) | Q(leased_by=annotator))
        .order_by(Case(When(leased_by=annotator, then=0), default=1), "-id")
        .first()
    )
    if entry is None:
        latest = QueryRound.objects.filter(project=project).order_by("-number").first()
        if latest is None:
            return
        kind = QueueEntry.Kind.EVALUATION if item.is_evaluation else QueueEntry.Kind.STRATEGY
        QueueEntry.objects.create(
            project=project,
            round=latest,
            item=item,
            rank=0,
            slot=QueueEntry.objects.filter(round=latest, item=item).count(),
            kind=kind,
            leased_by=annotator,
            lease_expires_at=lease_until,
            lease_tab=tab,
        )
        return
    was_done = entry.done
    QueueEntry.objects.filter(pk=entry.pk).update(
        done=False, rank=0, leased_by=annotator, lease_expires_at=lease_until, lease_tab=tab
    )
    if was_done and not entry.is_reserve:
        QueryRound.objects.filter(pk=entry.round_id, n_done__gt=0).update(
            n_done=F("n_done") - 1, completed_at=None
        )


def release_held(*, project: Project, user_id: int) -> None:
    """The items ``user_id`` holds go back to the queue at once instead of when their leases
    expire (a member removed, or made a viewer)."""
    QueueEntry.objects.filter(project=project, leased_by_id=user_id, done=False).update(
        leased_by=None, lease_expires_at=None, lease_tab=""
    )


def held_item_ids(*, project: Project, unexpired: bool = False) -> QuerySet:
    """The ids of the items someone holds in the project (``unexpired``: whose lease has not
    expired), as a query to use inside another (``pk__in=``) or to read."""
    held = QueueEntry.objects.filter(project=project, done=False, leased_by__isnull=False)
    if unexpired:
        held = held.filter(lease_expires_at__gt=timezone.now())
    return held.values_list("item_id", flat=True)


def open_item_ids(*, project: Project, items) -> set[int]:
    """Of ``items``, the ids of those waiting in the queue (an entry not done)."""
    return set(
        QueueEntry.objects.filter(project=project, item__in=items, done=False).values_list(
            "item_id", flat=True
        )
    )
