"""The ranking beyond the reserve: when the round and its reserve are used up and the next
round is late, leases read on down the latest scoring's ranking instead of taking random items.

A retrain scores the whole pool anyway (its spares are the next most uncertain items of that
pass). The rest of that ranking, up to RANKING_DEPTH items, is written with the round as a few
rows of item ids (``QueueRanking``: 8 bytes an item, a thousand a row), not as queue entries:
writing and replacing tens of thousands of entries per round would cost every retrain, and
every submit counts the open entries. A lease that finds nothing free reads one stretch from
the round's cursor (``QueryRound.ranked_served``), takes the first items still unqueued, and
moves the cursor past them, under the queue writers' lock that exploration already took: the
cost of a lease does not grow with the pool or the depth.

Why: the retrain runs on CPU that serving leaves idle (SCHED_IDLE). Beside a CPU-bound
process at normal priority it gets none, so no reserve sized from past retrains lasts, and
before this 14-64% of the labels of a 3-minute run came from random exploration."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labeler.models import Project, QueryRound, QueueEntry, QueueRanking

# How far down the ranking leases may read before a new round: at 70 labels a second (16
# annotators without think time on 2 cores) twelve minutes of labels, written as 50 rows of
# 8 KB per round whatever the pool's size.
RANKING_DEPTH = 50_000
STRETCH = 1_000
# Entries leased from the ranking sort after every round and reserve entry (ranks from 1) and
# before exploration's (queue.leasing.EXPLORATION_RANK); their rank keeps their place in it.
RANKED_RANK = 1_000_000_000
_DTYPE = np.dtype("<i8")


def ranking_write(*, project: Project, query_round: QueryRound, item_ids: Sequence[int]) -> None:
    """Replace the project's ranking beyond the reserve with ``item_ids`` (most uncertain
    first, up to RANKING_DEPTH), the ranking of ``query_round``. The caller writes the round
    in the same transaction, holding the queue writers' lock."""
    QueueRanking.objects.filter(project=project).delete()
    ids = np.asarray(list(item_ids)[:RANKING_DEPTH], dtype=_DTYPE)
    QueueRanking.objects.bulk_create(
        QueueRanking(
            project=project,
            round=query_round,
            number=number,
            item_ids=ids[start : start + STRETCH].tobytes(),
        )
        for number, start in enumerate(range(0, len(ids), STRETCH))
    )


def _stretch_read(query_round: QueryRound, start: int, length: int) -> list[int]:
    """The ranking's item ids at positions ``start`` to ``start + length`` (fewer at its end)."""
    first, last = start // STRETCH, (start + length - 1) // STRETCH
    rows = (
        QueueRanking.objects.filter(round=query_round, number__range=(first, last))
        .order_by("number")
        .values_list("item_ids", flat=True)
    )
    ids = np.concatenate([np.frombuffer(bytes(row), dtype=_DTYPE) for row in rows] or [[]])
    offset = start - first * STRETCH
    return [int(item_id) for item_id in ids[offset : offset + length]]


def ranked_take(
    *, project: Project, latest: QueryRound, unqueued, wanted: int
) -> list[tuple[int, object]]:
    """Up to ``wanted`` (position, item) of ``latest``'s ranking, in its order, from its
    cursor on: the items of ``unqueued`` (a query of the items a lease may queue, locked
    passing over held rows). Moves the cursor past them. The caller holds the queue writers'
    lock: no two leases read the same stretch at once."""
    served = QueryRound.objects.filter(pk=latest.pk).values_list("ranked_served", flat=True).first()
    if served is None:
        return []
    position, taken = served, []
    while len(taken) < wanted:
        stretch = _stretch_read(latest, position, 4 * wanted + 16)
        if not stretch:
            break
        found = {item.pk: item for item in unqueued.filter(pk__in=stretch)}
        for offset, item_id in enumerate(stretch):
            item = found.get(item_id)
            if item is not None and len(taken) < wanted:
                taken.append((position + offset, item))
        # Past the last item taken, or the whole stretch if it held too few: the items passed
        # over were answered, queued or skipped since the ranking was written.
        position = taken[-1][0] + 1 if len(taken) == wanted else position + len(stretch)
    if position != served:
        QueryRound.objects.filter(pk=latest.pk).update(ranked_served=position)
    return taken


def ranked_entries(
    *,
    project: Project,
    latest: QueryRound,
    taken: list[tuple[int, object]],
    annotator,
    until,
    tab: str = "",
) -> list[QueueEntry]:
    """Queue entries for the items ``ranked_take`` took, leased to ``annotator``'s ``tab``."""
    entries = QueueEntry.objects.bulk_create(
        QueueEntry(
            project=project,
            round=latest,
            item=item,
            rank=RANKED_RANK + position,
            kind=QueueEntry.Kind.STRATEGY,
            is_reserve=True,
            leased_by=annotator,
            lease_expires_at=until,
            lease_tab=tab,
        )
        for position, item in taken
    )
    for entry, (_, item) in zip(entries, taken, strict=True):
        entry.item, entry.round = item, latest
    return entries
