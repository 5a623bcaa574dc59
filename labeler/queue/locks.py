"""The locks the queue's writers share, and the one order every transaction takes them in.

``Lock`` is that order, written as code: a transaction that holds one of these locks only ever
goes on to take locks further down the list, never one above it, so no two transactions can
each hold what the other waits for. Row locks that a statement takes itself (an item, its
entries, its annotations, a round's counter) are listed where they fall; the three locks that
are not a row of the statement's own (the annotator's leases, the queue writers, the project
row) are taken only through ``locks_take``, which takes them in this order whatever order a
caller names them in.

Who takes what, in order:

- a lease: ANNOTATOR_LEASES, then its entries (SKIP LOCKED: never waits), then for a budget or
  daily cap QUEUE_WRITERS and PROJECT_ROW; with nothing free, QUEUE_WRITERS before it explores
  (locking items with SKIP LOCKED after it);
- a submit: ITEM, its ENTRIES, PROJECT_ROW (a budget, the counters), ANNOTATIONS, ROUND;
- a skip: ITEM, its ENTRIES, ROUND; a correction: ITEM, PROJECT_ROW, ANNOTATIONS;
- an undo: ITEM, then the item's ANNOTATIONS, the PROJECT_ROW's counters and its ENTRIES in
  that order (as before this package; not forced by a test). Out of the list's order, it
  holds because a submit, a skip or a correction takes the ITEM first and queues there, and
  the one other holder of entries that waits for the project row, a budget's lease, holds
  only open entries leased to its annotator, while the entry an undo reopens is the item's
  answered (done) one;
- a manager's requeue: the ITEMs (in id order), then the ROUND the entries join;
- the worker writing a round: the ENTRIES it replaces (SKIP LOCKED), then QUEUE_WRITERS, and
  never the project row: submits do not wait for a round being written.

``tests/labeler/queue/test_lock_order.py`` forces each would-be cycle on PostgreSQL."""

from __future__ import annotations

import enum

from django.contrib.auth.models import AbstractBaseUser
from django.db import OperationalError, connection, transaction
from django.db.models import QuerySet

from labeler.models import Project

# pg_advisory_xact_lock's two keys are 32-bit signed integers.
_ADVISORY_KEYS = 2**31


class Lock(enum.IntEnum):
    """Every lock a queue writer may hold, in the order a transaction takes them."""

    # Advisory (project, annotator): one annotator's leases queue on each other.
    ANNOTATOR_LEASES = 1
    # The item's row: two transactions on one item queue here first.
    ITEM = 2
    # Queue entries: the item's (a submit, a skip) or the ones a lease or a round write takes.
    ENTRIES = 3
    # Advisory (project): the round writer and the leases that explore or count a budget.
    QUEUE_WRITERS = 4
    # The project's row, FOR NO KEY UPDATE: a budget's count, the counters.
    PROJECT_ROW = 5
    ANNOTATIONS = 6
    # A round's counter, updated last by a submit.
    ROUND = 7


# The locks ``locks_take`` takes; the others are taken by the statements that read the rows.
_TAKEN_HERE = (Lock.ANNOTATOR_LEASES, Lock.QUEUE_WRITERS, Lock.PROJECT_ROW)


class QueueWritersBusy(Exception):
    """The queue writers' lock was not free within the wait a lease allows."""


def locks_take(
    project: Project,
    *locks: Lock,
    annotator: AbstractBaseUser | None = None,
    writers_wait: float | None = None,
) -> int | None:
    """Take ``locks`` (of ANNOTATOR_LEASES, QUEUE_WRITERS, PROJECT_ROW) until the transaction
    ends, in ``Lock``'s order. Returns the project's label count when PROJECT_ROW is among
    them (what a budget counts), else None. ANNOTATOR_LEASES needs ``annotator``.
    ``writers_wait``: seconds to wait at most for QUEUE_WRITERS (``QueueWritersBusy`` after
    them, the transaction still usable); None waits as long as it takes."""
    spent = None
    for lock in sorted(set(locks)):
        if lock not in _TAKEN_HERE:
            raise ValueError(f"{lock.name} is taken by the statement that reads its rows")
        if lock is Lock.ANNOTATOR_LEASES:
            _annotator_leases_lock(project, annotator)
        elif lock is Lock.QUEUE_WRITERS:
            _queue_writers_lock(project, writers_wait)
        else:
            spent = _project_row_lock(project)
    return spent


def _annotator_leases_lock(project: Project, annotator: AbstractBaseUser | None) -> None:
    """PostgreSQL: queue this lease behind any other lease of the same annotator in the same
    project, and skip the fsync wait on commit (a lease is cheap to lose: it simply expires).

    One annotator's leases can overlap: a reload races the page's last answer, which tops the
    page's items up. Without the queueing the second lease's held read passed over the entries
    the first had locked to renew them, found nothing held, and leased fresh items, which the
    reloaded page showed instead of the one on screen. The advisory lock (transaction-scoped,
    on (project, annotator), taken first and only by leases) serialises only those; leases of
    different annotators never wait for it. One statement, as the SET LOCAL it replaces."""
    if annotator is None:
        raise ValueError("ANNOTATOR_LEASES is a lock per annotator")
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('synchronous_commit', 'off', true),"
            " pg_advisory_xact_lock(%s::integer, %s::integer)",
            # Folded into the integer keys' range: a rare collision only makes two
            # annotators' leases take turns.
            [project.pk % _ADVISORY_KEYS, annotator.pk % _ADVISORY_KEYS],
        )


def _queue_writers_lock(project: Project, wait: float | None = None) -> None:
    """Take turns, until the transaction ends, with the other writers that add queue entries
    to this project for items not queued yet: the worker writing a round and a lease that
    explores. Neither then gives out an item the other has just queued.

    A PostgreSQL advisory lock on the project's id (the one-key form, which shares no keys
    with the two-key annotator locks), not the project's row: every submit updates that row's
    counters, and a round write holding it kept every submit waiting until the round was
    committed (the bursts of slow submits and next-items of the load benchmark, each at a
    round's write). SQLite (the demo) serialises writers anyway.

    A lease waits at most ``wait`` seconds: a round write takes well under one, but a worker
    stopped in the middle of one (starved of CPU under SCHED_IDLE beside another busy program,
    or paused) held every lease that found nothing free until gunicorn killed the request (a
    500; found by bench/load.py's --stall-worker). The lease then says "updating" instead."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if wait is None:
            cursor.execute("SELECT pg_advisory_xact_lock(%s::bigint)", [project.pk])
            return
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s::bigint)", [project.pk])
        if cursor.fetchone()[0]:
            return
        # Busy: wait, bounded, in a savepoint that a timeout rolls back alone (lock_timeout
        # bounds an advisory lock's wait too; it is put back as it was once the lock is had).
        cursor.execute("SELECT current_setting('lock_timeout')")
        previous = cursor.fetchone()[0]
        try:
            with transaction.atomic():
                cursor.execute(
                    "SELECT set_config('lock_timeout', %s, true),"
                    " pg_advisory_xact_lock(%s::bigint)",
                    [f"{max(1, round(wait * 1000))}ms", project.pk],
                )
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            raise QueueWritersBusy from error
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def _project_row_lock(project: Project) -> int:
    """Lock the project's row until the transaction ends; returns its label count.

    FOR NO KEY UPDATE, the lock a submit's counter update takes anyway: it queues behind and
    ahead of those, as a budget's count needs, but not the inserts that merely reference the
    project (an annotation, a round, an entry), which a plain FOR UPDATE would hold back."""
    rows = Project.objects.select_for_update(no_key=True).values_list("n_annotations", flat=True)
    return rows.get(pk=project.pk)


def skipping_locked(rows: QuerySet) -> QuerySet:
    """``rows`` locked for update (their own table's rows, not the joined ones), passing over
    the rows another transaction holds: never waits. SQLite (the demo) has no row locks and
    serialises writers anyway, so there it is ``rows`` as they are."""
    if connection.features.has_select_for_update_skip_locked:
        return rows.select_for_update(skip_locked=True, of=("self",))
    return rows


def lock_clause(alias: str, *, skip_locked: bool = False) -> str:
    """The same locks for plain SQL over table alias ``alias``: its rows only, passing over
    held ones with ``skip_locked``. Empty on databases without row locks (SQLite), as above."""
    features = connection.features
    if skip_locked and not features.has_select_for_update_skip_locked:
        return ""
    if not features.has_select_for_update:
        return ""
    clause = f" FOR UPDATE OF {alias}" if features.has_select_for_update_of else " FOR UPDATE"
    return clause + (" SKIP LOCKED" if skip_locked else "")
