"""Leasing: which items an annotator holds, first to label first. Serving reads the
precomputed queue (see DESIGN.md): no score is computed here, and every lease is taken in one
short transaction with ``SELECT … FOR UPDATE SKIP LOCKED``."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from labeler.models import Annotation, Item, ModelRun, Project, QueryRound, QueueEntry, Skip
from labeler.selectors import labels_today
from labeler.services.locks import (
    lock_clause,
    project_row_lock,
    queue_writers_lock,
    skipping_locked,
)
from labeler.services.queue_rows import entries_by_id


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


MAX_HOLD = 10
# Exploration entries sort after every ranked entry.
EXPLORATION_RANK = 2_000_000_000
# pg_advisory_xact_lock's two keys are 32-bit signed integers.
_ADVISORY_KEYS = 2**31


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


def _entry_ids(sql: str, params: list, *, lock: bool) -> list[tuple[int, int]]:
    """(entry id, item id) of the queue entries ``sql`` selects, in its order; with ``lock``,
    locked for update and passing over rows another transaction holds (never waits).

    Plain SQL rather than the ORM: these two reads run on every next-item request, and the
    ORM spent longer composing them than PostgreSQL spent running them (docs/benchmarks.md,
    "Load"). SQLite (the demo) has no row locks and serialises writers anyway."""
    if lock:
        sql += lock_clause("q", skip_locked=True)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(entry_id, item_id) for entry_id, item_id in cursor.fetchall()]


def _held_entry_ids(project: Project, annotator, now: dt.datetime, hold: int):
    """The entries this annotator holds (lease not expired), first to label first."""
    return _entry_ids(
        f"SELECT q.id, q.item_id FROM {QueueEntry._meta.db_table} q"
        " WHERE q.project_id = %s AND q.leased_by_id = %s AND NOT q.done"
        " AND q.lease_expires_at > %s ORDER BY q.rank, q.id LIMIT %s",
        [project.pk, annotator.pk, _db_time(now), hold],
        lock=True,
    )


def _free_entry_ids(project: Project, annotator, now: dt.datetime, held_items, limit: int):
    """Entries nobody holds, first to label first, passing over items this annotator skipped
    (and, with overlap, items they answered) and the items they already hold."""
    sql = (
        f"SELECT q.id, q.item_id FROM {QueueEntry._meta.db_table} q"
        " WHERE q.project_id = %s AND NOT q.done"
        " AND (q.lease_expires_at IS NULL OR q.lease_expires_at <= %s)"
        f" AND NOT EXISTS (SELECT 1 FROM {Skip._meta.db_table} s"
        " WHERE s.item_id = q.item_id AND s.annotator_id = %s)"
    )
    params: list = [project.pk, _db_time(now), annotator.pk]
    if project.overlap > 1:
        # Each of an item's N entries goes to a different annotator.
        sql += (
            f" AND NOT EXISTS (SELECT 1 FROM {Annotation._meta.db_table} a"
            " WHERE a.item_id = q.item_id AND a.annotator_id = %s)"
        )
        params.append(annotator.pk)
    if held_items:
        sql += f" AND q.item_id NOT IN ({', '.join(['%s'] * len(held_items))})"
        params.extend(sorted(held_items))
    sql += " ORDER BY q.rank, q.id LIMIT %s"
    params.append(limit)
    # SKIP LOCKED lets concurrent annotators take the next free row instead of queueing
    # behind each other.
    return _entry_ids(sql, params, lock=True)


def _free_entries_take(
    project: Project, annotator, now: dt.datetime, items: set, wanted: int
) -> list[tuple[int, int]]:
    """Up to ``wanted`` free entries for items not in ``items`` (added to it), locked."""
    taken: list[tuple[int, int]] = []
    if wanted <= 0:
        return taken
    # With overlap an item's copies are adjacent: read enough rows to find distinct items,
    # lease one entry of each.
    for entry_id, item_id in _free_entry_ids(
        project, annotator, now, items, wanted * max(project.overlap, 1)
    ):
        if item_id not in items and len(taken) < wanted:
            items.add(item_id)
            taken.append((entry_id, item_id))
    return taken


def _lease_write(entry_ids: list[int], annotator, lease_until: dt.datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {QueueEntry._meta.db_table} SET leased_by_id = %s, lease_expires_at = %s"
            f" WHERE id IN ({', '.join(['%s'] * len(entry_ids))})",
            [annotator.pk, _db_time(lease_until), *entry_ids],
        )


def _db_time(moment: dt.datetime):
    return connection.ops.adapt_datetimefield_value(moment)


def _leasable(
    project: Project, annotator: AbstractBaseUser, now: dt.datetime, held: int, spent: int
):
    """How many more leases this annotator may take, or the state that stops them. Every open
    lease counts against the budget (the annotator's own too), so prefetching never lets the
    project promise more items than it may pay for; the daily cap counts held items."""
    room = MAX_HOLD
    if project.budget is not None:
        room = project.budget - spent - _open_leases(project, now, None)
        if room <= 0 and not held:
            return _budget_spent(project)
    if project.daily_cap is not None:
        today = labels_today(project=project, annotator=annotator, now=now)
        if today >= project.daily_cap and not held:
            return _daily_cap_reached(project)
        room = min(room, project.daily_cap - today - held)
    return max(room, 0)


def _lease_begin(project: Project, annotator: AbstractBaseUser) -> None:
    """PostgreSQL: queue this lease behind any other lease of the same annotator in the same
    project, and skip the fsync wait on commit (a lease is cheap to lose: it simply expires).

    One annotator's leases can overlap: a reload races the page's last answer, which tops the
    page's items up. Without the queueing the second lease's held read passed over the entries
    the first had locked to renew them, found nothing held, and leased fresh items, which the
    reloaded page showed instead of the one on screen. The advisory lock (transaction-scoped,
    on (project, annotator), taken first and by nothing else) serialises only those; leases of
    different annotators never wait for it. One statement, as the SET LOCAL it replaces."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('synchronous_commit', 'off', true),"
            " pg_advisory_xact_lock(%s::integer, %s::integer)",
            # Folded into the integer keys' range: a rare collision only makes two
            # annotators' leases take turns.
            [project.pk % _ADVISORY_KEYS, annotator.pk % _ADVISORY_KEYS],
        )


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
            _lease_begin(project, annotator)
        # Skip, never wait for, an entry another transaction has locked: that is this
        # annotator's own submit, skip or undo of it (which go on to the project row). Their
        # own other lease cannot be running: _lease_begin queued this one behind it.
        held = _held_entry_ids(project, annotator, now, hold)
        wanted = hold - len(held)
        # The project's row is locked only where a count across annotators must hold: a
        # budget or daily cap (two annotators topping up at once cannot both take the last
        # item). A plain lease takes free entries with SKIP LOCKED and waits for nobody:
        # every submit updates the project's counters, and leases queueing behind them on
        # that row were the tail of next-item latency.
        if wanted > 0 and (project.budget is not None or project.daily_cap is not None):
            # The queue writers' lock first, as the round writer takes it before its commit
            # touches the project row: a lease holding the project row and only then waiting
            # for a round being written deadlocked with it and a submit queued on that row
            # (seen once in test_reserve_concurrency). The row lock already made these leases
            # take turns with each other, so the extra lock costs them nothing.
            queue_writers_lock(project)
            spent = project_row_lock(project)
            room = _leasable(project, annotator, now, len(held), spent)
            if isinstance(room, NextItem):
                return LeasedItems(room.state, [], room.message)
            wanted = min(wanted, room)
        items = {item_id for _, item_id in held}
        taken = _free_entries_take(project, annotator, now, items, wanted)
        explored: list[QueueEntry] = []
        if wanted > len(taken):
            # Nothing free: the round and its reserve are used up, or a round is being
            # written (its writer holds the old entries locked until it commits). Wait for
            # any round write, then look again before exploring: its entries come first.
            queue_writers_lock(project)
            taken += _free_entries_take(project, annotator, now, items, wanted - len(taken))
        if wanted > len(taken):
            explored = _exploration_lease(
                project, annotator, lease_until, wanted - len(taken), items
            )
        renewed = [entry_id for entry_id, _ in held + taken]
        if renewed or explored:
            if renewed:
                _lease_write(renewed, annotator, lease_until)
            entries = entries_by_id(renewed) + explored
            for entry in entries:
                entry.leased_by, entry.lease_expires_at = annotator, lease_until
            return LeasedItems("ready", entries, "")
    empty = _empty_queue_state(project)
    return LeasedItems(empty.state, [], empty.message)


def _exploration_lease(
    project: Project, annotator: AbstractBaseUser, lease_until, wanted: int, held_items: set
) -> list[QueueEntry]:
    """When the round and its reserve are both used up (the retrain is late), lease random
    unqueued items from the pool rather than keep an expert waiting: exploration, which the
    default strategy spends a tenth of every round on anyway. Only after the first round (a
    cold start waits for its round), and only with one annotator per item."""
    from labeler.services.training import retrain_request

    if project.overlap > 1:
        return []
    # The caller holds the queue writers' lock, as the worker writing a round does: neither
    # creates an entry for an item the other just gave out.
    latest = QueryRound.objects.filter(project=project).order_by("-number").first()
    if latest is None:
        return []
    pool = (
        Item.objects.filter(project=project, status=Item.Status.UNLABELED, is_evaluation=False)
        .exclude(queue_entries__done=False)
        .exclude(queue_entries__round=latest)
        .exclude(skips__isnull=False)
        .exclude(pk__in=held_items)
        .order_by("pk")
    )
    # Two annotators exploring the same stretch each take other items.
    pool = skipping_locked(pool)
    ids = Item.objects.filter(project=project).order_by("pk").values_list("pk", flat=True)
    first, last = ids.first(), ids.order_by("-pk").first()
    if first is None:
        return []
    # A random starting point, then the next items by id: no ORDER BY random() over the pool.
    start = random.randint(first, last)
    items = list(pool.filter(pk__gte=start)[:wanted])
    if len(items) < wanted:
        items += list(pool.filter(pk__lt=start)[: wanted - len(items)])
    if not items:
        return []
    entries = QueueEntry.objects.bulk_create(
        QueueEntry(
            project=project,
            round=latest,
            item=item,
            rank=EXPLORATION_RANK,
            kind=QueueEntry.Kind.STRATEGY,
            is_reserve=True,
            leased_by=annotator,
            lease_expires_at=lease_until,
        )
        for item in items
    )
    for entry, item in zip(entries, items, strict=True):
        entry.item, entry.round = item, latest
    retrain_request(project=project)  # at once if none is on its way (e.g. after a failure)
    return entries


def next_item_lease(*, project: Project, annotator: AbstractBaseUser) -> NextItem:
    """The item this annotator should label now, leased to them (see ``items_lease``)."""
    leased = items_lease(project=project, annotator=annotator, hold=1)
    return NextItem(leased.state, leased.entries[0] if leased.entries else None, leased.message)


def _empty_queue_state(project: Project) -> NextItem:
    from labeler.services.training import retrain_request

    active = ModelRun.objects.filter(project=project, status__in=ModelRun.ACTIVE).exists()
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
