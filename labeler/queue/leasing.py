"""Leasing: which items an annotator holds, first to label first, and the budget and daily
cap that stop serving. Serving reads the precomputed queue (see DESIGN.md): no score is
computed here, and every lease is taken in one short transaction with
``SELECT … FOR UPDATE SKIP LOCKED``."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from labeler.models import Item, Project, QueryRound, QueueEntry
from labeler.queue import ranking, sql
from labeler.queue.locks import Lock, QueueWritersBusy, locks_take, skipping_locked
from labeler.selectors import labels_today


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
    # The lease took unqueued items from the pool: the round and its reserve are used up,
    # and a retrain should be on its way.
    explored: bool = False


# What ``lease`` answers when the queue has nothing for this annotator and no limit stopped
# them: the caller says why (a retrain on its way, or nothing left to label).
EMPTY = "empty"
# Seconds a lease waits at most for a round being written (normally well under one).
WRITERS_WAIT = 2.0
MAX_HOLD = 10
# Exploration entries sort after every ranked entry.
EXPLORATION_RANK = 2_000_000_000


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


def budget_state(
    *, project: Project, annotator: AbstractBaseUser, now: dt.datetime, leasing: bool
) -> NextItem | None:
    """The budget or daily-cap state that stops serving or answering, or None. When leasing,
    items other annotators hold right now count as spent, so eight experts cannot overshoot
    by eight."""
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


def _held_entries(project: Project, annotator, tab: str, now: dt.datetime, hold: int):
    """What the annotator holds (lease not expired), locked: the entries ``tab`` holds, first
    to label first (up to ``hold``), and the entries their other tabs hold, in the same
    order."""
    rows = sql.entry_ids(sql.HELD_ENTRIES, [project.pk, annotator.pk, sql.db_time(now)], lock=True)
    held = [(entry_id, item_id) for entry_id, item_id, held_in in rows if held_in == tab]
    elsewhere = [(entry_id, item_id) for entry_id, item_id, held_in in rows if held_in != tab]
    return held[:hold], elsewhere


def _free_entry_ids(project: Project, annotator, now: dt.datetime, held_items, limit: int):
    """Entries nobody holds, first to label first, passing over items this annotator skipped
    (and, with overlap, items they answered) and the items they already hold."""
    query = sql.FREE_ENTRIES
    params: list = [project.pk, sql.db_time(now), annotator.pk]
    if project.overlap > 1:
        query += sql.FREE_ENTRIES_NOT_ANSWERED_BY
        params.append(annotator.pk)
    if held_items:
        query += f" AND q.item_id NOT IN {sql.in_list(held_items)}"
        params.extend(sorted(held_items))
    query += " ORDER BY q.rank, q.id LIMIT %s"
    params.append(limit)
    # SKIP LOCKED lets concurrent annotators take the next free row instead of queueing
    # behind each other.
    return sql.entry_ids(query, params, lock=True)


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


def _leasable(
    project: Project,
    annotator: AbstractBaseUser,
    now: dt.datetime,
    held: int,
    held_elsewhere: int,
    spent: int,
):
    """How many more leases this tab may take, or the state that stops it. Every open lease
    counts against the budget (the annotator's own too, in every tab), so prefetching never
    lets the project promise more items than it may pay for; the daily cap counts the items
    held in all of the annotator's tabs."""
    room = MAX_HOLD
    if project.budget is not None:
        room = project.budget - spent - _open_leases(project, now, None)
        if room <= 0 and not held and room + held_elsewhere > 0:
            # Not spent: the annotator's own other pages hold the rest (as for the daily
            # cap below, they are told so rather than given those items here too).
            return NextItem(
                "budget_spent",
                None,
                _(
                    "Your other open pages of this project hold the rest of its budget of "
                    "%(budget)s labels: go on labeling there."
                )
                % {"budget": project.budget},
            )
        if room <= 0 and not held:
            return _budget_spent(project)
    if project.daily_cap is not None:
        today = labels_today(project=project, annotator=annotator, now=now)
        if today >= project.daily_cap and not held:
            return _daily_cap_reached(project)
        left = project.daily_cap - today - held
        if left - held_elsewhere <= 0 and not held and held_elsewhere:
            return NextItem(
                "daily_cap",
                None,
                _(
                    "Your other open pages of this project hold the rest of today's "
                    "%(cap)s labels: go on labeling there."
                )
                % {"cap": project.daily_cap},
            )
        room = min(room, left - held_elsewhere)
    return max(room, 0)


def lease(
    *, project: Project, annotator: AbstractBaseUser, hold: int = 1, tab: str = ""
) -> LeasedItems:
    """The items this annotator should label next in ``tab`` (one of their pages: a browser
    tab, an API client; "" for a client that names none), up to ``hold`` of them, leased to
    that tab: the ones it already holds first (a reload never burns items), topped up from
    the queue, then from the pool when round and reserve are used up (``explored``). Two
    tabs of one annotator hold different items, except when this one would get nothing: then
    it is given the item their other tabs would reach last, still leased to its tab (shared:
    the same person, and either tab may answer it).
    State ``EMPTY`` when there is nothing to give and no limit stopped them.

    An expired lease is simply free again for anyone; holding renews the leases held.
    """
    hold = max(1, min(int(hold), MAX_HOLD))
    now = timezone.now()
    lease_until = now + dt.timedelta(seconds=project.lease_seconds)
    with transaction.atomic():
        locks_take(project, Lock.ANNOTATOR_LEASES, annotator=annotator)
        # Skip, never wait for, an entry another transaction has locked: that is this
        # annotator's own submit, skip or undo of it (which go on to the project row). Their
        # own other lease cannot be running: the annotator's lock queued this one behind it.
        # The annotator's other tabs take their leases under the same lock, so what they
        # hold is read as it is.
        held, elsewhere = _held_entries(project, annotator, tab, now, hold)
        wanted = hold - len(held)
        # The project's row is locked only where a count across annotators must hold: a
        # budget or daily cap (two annotators topping up at once cannot both take the last
        # item). A plain lease takes free entries with SKIP LOCKED and waits for nobody:
        # every submit updates the project's counters, and leases queueing behind them on
        # that row were the tail of next-item latency.
        if wanted > 0 and (project.budget is not None or project.daily_cap is not None):
            # The queue writers' lock comes before the row (Lock's order), as the round
            # writer takes it before its commit touches the project row: a lease holding the
            # project row and only then waiting for a round being written deadlocked with it
            # and a submit queued on that row. The row lock already made these leases take
            # turns with each other, so the extra lock costs them nothing.
            try:
                spent = locks_take(
                    project, Lock.QUEUE_WRITERS, Lock.PROJECT_ROW, writers_wait=WRITERS_WAIT
                )
            except QueueWritersBusy:
                # A round write stalled: renew what is held, lease nothing new ("updating").
                spent, wanted = None, 0
            if spent is not None:
                elsewhere_items = len({item_id for _, item_id in elsewhere})
                room = _leasable(project, annotator, now, len(held), elsewhere_items, spent)
                if isinstance(room, NextItem):
                    return LeasedItems(room.state, [], room.message)
                wanted = min(wanted, room)
        items = {item_id for _, item_id in held + elsewhere}
        taken = _free_entries_take(project, annotator, now, items, wanted)
        explored: list[QueueEntry] = []
        if wanted > len(taken):
            # Nothing free: the round and its reserve are used up, or a round is being
            # written (its writer holds the old entries locked until it commits). Wait for
            # any round write, then look again before exploring: its entries come first.
            try:
                locks_take(project, Lock.QUEUE_WRITERS, writers_wait=WRITERS_WAIT)
            except QueueWritersBusy:
                wanted = len(taken)  # a round write stalled: neither look again nor explore
            taken += _free_entries_take(project, annotator, now, items, wanted - len(taken))
        if wanted > len(taken):
            explored = _exploration_lease(
                project, annotator, tab, lease_until, wanted - len(taken), items
            )
        shared = _shared(elsewhere) if wanted > 0 and not (held or taken or explored) else []
        renewed = [entry_id for entry_id, _ in held + taken]
        if renewed or explored or shared:
            # Explored entries were created leased to this tab; shared ones stay their tab's.
            entries = _leases_write(renewed, annotator, lease_until, tab) + explored
            entries += sql.entries_by_id(shared)
            return LeasedItems("ready", entries, "", explored=bool(explored))
    return LeasedItems(EMPTY, [], "")


def _leases_write(entry_ids: list[int], annotator, lease_until, tab: str) -> list[QueueEntry]:
    """Lease (or renew) the entries to the annotator's ``tab`` until ``lease_until``."""
    if not entry_ids:
        return []
    sql.execute(
        sql.LEASE_WRITE + sql.in_list(entry_ids),
        [annotator.pk, sql.db_time(lease_until), tab, *entry_ids],
    )
    entries = sql.entries_by_id(entry_ids)
    for entry in entries:
        entry.leased_by, entry.lease_expires_at, entry.lease_tab = annotator, lease_until, tab
    return entries


def _shared(elsewhere: list[tuple[int, int]]) -> list[int]:
    """For a tab that would get nothing at all: the entry the annotator's other tabs would
    reach last, rather than nothing. Without it a small project whose every open item sits in
    one page left an API client (or a second page) with "updating" until those leases expired,
    and each of its polls asked for a retrain that could not add an item. Shared, not moved:
    no lease is added or taken away, so budget, daily cap and overlap count as before; the
    tab that answers first ends the other's lease (``entry_for_answer``), and the other's
    answer is taken as the same person's."""
    return [elsewhere[-1][0]] if elsewhere else []


def _unqueued(project: Project, latest: QueryRound, held_items: set):
    """The items a lease may queue: unlabeled strategy items with no open entry and none in the
    latest round, nobody's skip, not held by this annotator; locked passing over the ones
    another transaction holds (two exploring leases each take other items)."""
    pool = (
        Item.objects.filter(project=project, status=Item.Status.UNLABELED, is_evaluation=False)
        .exclude(queue_entries__done=False)
        .exclude(queue_entries__round=latest)
        .exclude(skips__isnull=False)
        .exclude(pk__in=held_items)
    )
    return skipping_locked(pool)


def _exploration_pool(project: Project, latest: QueryRound, held_items: set, wanted: int):
    """Up to ``wanted`` unqueued items (``_unqueued``) from a random point of the pool on (no
    ORDER BY random() over the pool)."""
    pool = _unqueued(project, latest, held_items).order_by("pk")
    ids = Item.objects.filter(project=project).order_by("pk").values_list("pk", flat=True)
    first, last = ids.first(), ids.order_by("-pk").first()
    if first is None:
        return []
    start = random.randint(first, last)
    items = list(pool.filter(pk__gte=start)[:wanted])
    if len(items) < wanted:
        items += list(pool.filter(pk__lt=start)[: wanted - len(items)])
    return items


def _exploration_lease(
    project: Project,
    annotator: AbstractBaseUser,
    tab: str,
    lease_until,
    wanted: int,
    held_items: set,
) -> list[QueueEntry]:
    """When the round and its reserve are both used up (the retrain is late), lease the next
    items of the latest scoring's ranking (``queue.ranking``), and only beyond its depth, or
    without a model, random unqueued items from the pool, rather than keep an expert waiting:
    exploration, which the default strategy spends a tenth of every round on anyway. Only
    after the first round (a cold start waits for its round), and only with one annotator per
    item."""
    if project.overlap > 1:
        return []
    # The caller holds the queue writers' lock, as the worker writing a round does: neither
    # creates an entry for an item the other just gave out.
    latest = QueryRound.objects.filter(project=project).order_by("-number").first()
    if latest is None:
        return []
    unqueued = _unqueued(project, latest, held_items)
    taken = ranking.ranked_take(project=project, latest=latest, unqueued=unqueued, wanted=wanted)
    ranked = ranking.ranked_entries(
        project=project,
        latest=latest,
        taken=taken,
        annotator=annotator,
        until=lease_until,
        tab=tab,
    )
    if len(ranked) == wanted:
        return ranked
    held_items = held_items | {item.pk for _, item in taken}
    items = _exploration_pool(project, latest, held_items, wanted - len(ranked))
    if not items:
        return ranked
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
            lease_tab=tab,
        )
        for item in items
    )
    for entry, item in zip(entries, items, strict=True):
        entry.item, entry.round = item, latest
    return ranked + entries
