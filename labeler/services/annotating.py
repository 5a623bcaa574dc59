"""The annotator's side of the loop: lease the next item, submit a label, skip, correct.

Serving reads a precomputed queue (see DESIGN.md): no score is computed on the request path,
and every write happens in one short transaction that also updates the counters.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Q, When
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


@dataclass(frozen=True)
class LeasedItems:
    """What an annotator holds: up to ``hold`` entries, first to label first."""

    state: str  # as NextItem.state; "ready" whenever ``entries`` is not empty
    entries: list[QueueEntry]
    message: str


@dataclass(frozen=True)
class Undone:
    """What an undo took back: an answer (``label`` set) or a skip (``label`` empty)."""

    item: Item
    label: str
    message: str


MAX_HOLD = 10


def _open_leases(project: Project, now: dt.datetime, exclude_user_id: int | None) -> int:
    leases = QueueEntry.objects.filter(project=project, done=False, lease_expires_at__gt=now)
    if exclude_user_id is not None:
        leases = leases.exclude(leased_by_id=exclude_user_id)
    return leases.count()


def _budget_spent(project: Project) -> NextItem:
    return NextItem(
        "budget_spent",
        None,
        _(
            "The project's budget of %(budget)s labels is spent. "
            "A manager can raise it on the project settings page."
        )
        % {"budget": project.budget},
    )


def _daily_cap_reached(project: Project) -> NextItem:
    return NextItem(
        "daily_cap",
        None,
        _(
            "You have given your %(cap)s labels for today. Thank you! "
            "The queue opens again tomorrow (UTC)."
        )
        % {"cap": project.daily_cap},
    )


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
            return _budget_spent(project)
    if (
        project.daily_cap is not None
        and labels_today(project=project, annotator=annotator, now=now) >= project.daily_cap
    ):
        return _daily_cap_reached(project)
    return None


def _free_entries(project: Project, annotator: AbstractBaseUser, now: dt.datetime, held_items):
    free = (
        QueueEntry.objects.filter(project=project, done=False)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
        .exclude(item__skips__annotator=annotator)
        .order_by("rank", "id")
    )
    if held_items:
        free = free.exclude(item_id__in=held_items)
    if project.overlap > 1:
        # Each of an item's N entries goes to a different annotator.
        free = free.exclude(item__annotations__annotator=annotator)
    # SKIP LOCKED lets concurrent annotators take the next free row instead of queueing behind
    # each other; SQLite (the demo) has no row locks and serialises writers anyway.
    if connection.features.has_select_for_update_skip_locked:
        free = free.select_for_update(skip_locked=True, of=("self",))
    return free.select_related("item", "round", "predicted_label")


def _leasable(project: Project, annotator: AbstractBaseUser, now: dt.datetime, held: int):
    """How many more leases this annotator may take, or the state that stops them. Every open
    lease counts against the budget (the annotator's own too), so prefetching never lets the
    project promise more items than it may pay for; the daily cap counts held items."""
    room = MAX_HOLD
    if project.budget is not None:
        # Under the project's row lock (submits take it too): two annotators topping up at
        # the same moment cannot both take the budget's last item.
        spent = Project.objects.select_for_update().values_list("n_annotations", flat=True)
        room = project.budget - spent.get(pk=project.pk) - _open_leases(project, now, None)
        if room <= 0 and not held:
            return _budget_spent(project)
    if project.daily_cap is not None:
        today = labels_today(project=project, annotator=annotator, now=now)
        if today >= project.daily_cap and not held:
            return _daily_cap_reached(project)
        room = min(room, project.daily_cap - today - held)
    return max(room, 0)


def items_lease(*, project: Project, annotator: AbstractBaseUser, hold: int = 1) -> LeasedItems:
    """The items this annotator should label next, up to ``hold`` of them, leased to them:
    the ones they already hold first (a reload never burns items), topped up from the queue.

    An expired lease is simply free again for anyone; holding renews the leases held.
    """
    hold = max(1, min(int(hold), MAX_HOLD))
    now = timezone.now()
    lease_until = now + dt.timedelta(seconds=project.lease_seconds)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # A lease is cheap to lose (it simply expires): skip the fsync wait on commit.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        held = list(
            QueueEntry.objects.select_for_update(of=("self",))
            .filter(project=project, leased_by=annotator, done=False, lease_expires_at__gt=now)
            .select_related("item", "round", "predicted_label")
            .order_by("rank", "id")[:hold]
        )
        wanted = hold - len(held)
        if wanted > 0:
            room = _leasable(project, annotator, now, len(held))
            if isinstance(room, NextItem):
                return LeasedItems(room.state, [], room.message)
            wanted = min(wanted, room)
        taken: list[QueueEntry] = []
        if wanted > 0:
            items = {entry.item_id for entry in held}
            # With overlap an item's copies are adjacent: read enough rows to find distinct
            # items, lease one entry of each.
            for entry in _free_entries(project, annotator, now, items)[
                : wanted * max(project.overlap, 1)
            ]:
                if entry.item_id not in items and len(taken) < wanted:
                    items.add(entry.item_id)
                    taken.append(entry)
        renewed = held + taken
        if renewed:
            QueueEntry.objects.filter(pk__in=[entry.pk for entry in renewed]).update(
                leased_by=annotator, lease_expires_at=lease_until
            )
            for entry in renewed:
                entry.leased_by, entry.lease_expires_at = annotator, lease_until
            return LeasedItems("ready", renewed, "")
    empty = _empty_queue_state(project)
    return LeasedItems(empty.state, [], empty.message)


def next_item_lease(*, project: Project, annotator: AbstractBaseUser) -> NextItem:
    """The item this annotator should label now, leased to them (see ``items_lease``)."""
    leased = items_lease(project=project, annotator=annotator, hold=1)
    return NextItem(leased.state, leased.entries[0] if leased.entries else None, leased.message)


def _empty_queue_state(project: Project) -> NextItem:
    from labeler.services.training import retrain_request

    active = ModelRun.objects.filter(
        project=project, status__in=[ModelRun.Status.QUEUED, ModelRun.Status.RUNNING]
    ).exists()
    if active:
        return NextItem("updating", None, _("The model is updating; new items arrive in a moment."))
    has_pool = (
        Item.objects.filter(project=project, status=Item.Status.UNLABELED)
        .exclude(skips__isnull=False)
        .exists()
    )
    if has_pool:
        # Nothing queued, nothing running, items left: ask for a round (self-healing after a
        # failed run or an import) and let the page poll.
        retrain_request(project=project)
        return NextItem("updating", None, _("Choosing the next items; they arrive in a moment."))
    return NextItem("done", None, _("Every item in this project is labeled or skipped."))


def _refill_threshold(project: Project) -> int:
    # Ask for the next round while a quarter of this one is still open, so annotators keep
    # labeling during the retrain instead of waiting for it.
    return max(1, project.round_size // 4)


def _after_queue_progress(project: Project, round_id: int | None, *, is_reserve: bool) -> None:
    from labeler.services.training import retrain_request

    # Reserve entries are not part of their round's size: they do not advance it.
    if round_id is not None and not is_reserve:
        QueryRound.objects.filter(pk=round_id).update(
            n_done=F("n_done") + 1,
            completed_at=Case(
                When(completed_at__isnull=True, n_done__gte=F("size") - 1, then=timezone.now()),
                default=F("completed_at"),
            ),
        )
    # The reserve is what annotators label while the next round trains: the retrain is asked
    # for when the round itself runs low, not when the reserve does.
    open_entries = QueueEntry.objects.filter(project=project, done=False, is_reserve=False).count()
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


def _submit(project, annotator, item_id, label, client_key, seconds_spent, note, is_unsure):
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
        is_unsure=is_unsure,
        replaces=previous,
    )
    QueueEntry.objects.filter(pk=entry.pk).update(done=True)
    item_resolve(item=item, project=project, annotations_added=1)
    _after_queue_progress(project, entry.round_id, is_reserve=entry.is_reserve)
    return annotation, True


def _entry_for_submit(project, item, annotator, now) -> QueueEntry:
    """The queue entry this submit answers: the one the annotator holds, else a free one
    (a lease that expired while nobody else took the item still counts)."""
    entries = QueueEntry.objects.select_for_update().filter(project=project, item=item, done=False)
    mine = entries.filter(leased_by=annotator).order_by("rank", "id").first()
    if mine is not None:
        return mine
    free = (
        entries.filter(Q(leased_by__isnull=True) | Q(lease_expires_at__lte=now))
        .order_by("rank", "id")
        .first()
    )
    if free is not None:
        return free
    if entries.exists():
        raise SubmitRejected(
            "lease_expired",
            "your hold on this item expired and another annotator is labeling it now",
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
    leaves the pool, as Prodigy's "ignore" does, and the skip is kept for the record (until
    the annotator takes it back). Skipping an item twice is one skip: a retried request
    changes nothing."""
    with transaction.atomic():
        item = _locked_item(project, item_id)
        if Skip.objects.filter(item=item, annotator=annotator).exists():
            return
        entry = (
            QueueEntry.objects.select_for_update()
            .filter(project=project, item=item, done=False)
            .filter(Q(leased_by=annotator) | Q(leased_by__isnull=True))
            .first()
        )
        Skip.objects.create(project=project, item=item, annotator=annotator)
        if item.status == Item.Status.UNLABELED:
            Item.objects.filter(pk=item.pk).update(status=Item.Status.SKIPPED)
        if entry is not None:
            QueueEntry.objects.filter(pk=entry.pk).update(done=True)
            _after_queue_progress(project, entry.round_id, is_reserve=entry.is_reserve)


def _entry_reopen(project: Project, annotator: AbstractBaseUser, item: Item) -> None:
    """Put an item back at the front of this annotator's queue, held for them: the entry it
    was served from if there is one, else a new entry in the latest round."""
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
        )
        return
    was_done = entry.done
    QueueEntry.objects.filter(pk=entry.pk).update(
        done=False, rank=0, leased_by=annotator, lease_expires_at=lease_until
    )
    if was_done and not entry.is_reserve:
        QueryRound.objects.filter(pk=entry.round_id, n_done__gt=0).update(
            n_done=F("n_done") - 1, completed_at=None
        )


def skip_undo(*, project: Project, annotator: AbstractBaseUser, item_id: int) -> Item:
    """Take back a skip: the item returns to the front of this annotator's queue."""
    with transaction.atomic():
        item = _locked_item(project, item_id)
        skips = Skip.objects.filter(item=item, annotator=annotator)
        if not skips.exists():
            raise SubmitRejected("not_skipped", _("you have not skipped this item"))
        skips.delete()
        if item.status == Item.Status.SKIPPED and not Skip.objects.filter(item=item).exists():
            Item.objects.filter(pk=item.pk).update(status=Item.Status.UNLABELED)
            item.status = Item.Status.UNLABELED
        _entry_reopen(project, annotator, item)
    return item


def annotation_correct(
    *, annotation: Annotation, annotator: AbstractBaseUser, label: str
) -> Annotation:
    """Change a label. The old annotation stays in the history; a new one replaces it."""
    with transaction.atomic():
        current = Annotation.objects.select_for_update().get(pk=annotation.pk)
        if not current.is_current:
            raise SubmitRejected(
                "not_current", "this annotation was already corrected; correct the newest one"
            )
        project = Project.objects.select_for_update().get(pk=current.project_id)
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
        item = Item.objects.select_for_update().get(pk=current.item_id)
        item_resolve(item=item, project=project, annotations_added=1)
    return corrected


def last_action_undo(*, project: Project, annotator: AbstractBaseUser) -> Undone | None:
    """Take back this annotator's latest action in the project, a label or a skip, whichever
    came last. A label: the item's previous label (if any) is current again and the withdrawn
    annotation stays in the history. Either way the item returns to the front of their queue,
    held for them. Returns what was undone, or None when there is nothing to undo."""
    with transaction.atomic():
        last = (
            Annotation.objects.select_for_update()
            .filter(project=project, annotator=annotator, is_current=True, is_adjudication=False)
            .select_related("label")
            .order_by("-created_at", "-id")
            .first()
        )
        skip = (
            Skip.objects.filter(project=project, annotator=annotator)
            .order_by("-created_at", "-id")
            .first()
        )
        if skip is not None and (last is None or skip.created_at > last.created_at):
            item = skip_undo(project=project, annotator=annotator, item_id=skip.item_id)
            return Undone(
                item,
                "",
                _("Brought back item %(item)s, which you skipped.") % {"item": item.pk},
            )
        if last is None:
            return None
        Annotation.objects.filter(pk=last.pk).update(is_current=False)
        previous = last.replaces
        if previous is not None:
            Annotation.objects.filter(pk=previous.pk).update(is_current=True)
        item = Item.objects.select_for_update().get(pk=last.item_id)
        item_resolve(item=item, project=project)
        if previous is None:
            _entry_reopen(project, annotator, item)
        return Undone(
            item,
            last.label.name,
            _("Took back your label “%(label)s” for item %(item)s.")
            % {"label": last.label.name, "item": item.pk},
        )


def last_annotation_undo(*, project: Project, annotator: AbstractBaseUser) -> Item | None:
    """Take back the latest label or skip (see ``last_action_undo``); returns its item."""
    undone = last_action_undo(project=project, annotator=annotator)
    return undone.item if undone else None
