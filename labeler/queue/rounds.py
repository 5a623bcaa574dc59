"""Writing rounds: the queue entries a retrain's choice becomes — the round, its reserve
behind it, evaluation items spread through both — replacing the previous round's unheld
entries; how large the reserve should be; and the manual round that requeued items join."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Protocol

from django.db import transaction
from django.db.models import Max, Q
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
)
from labeler.queue.locks import Lock, locks_take, skipping_locked
from labeler.queue.ranking import ranking_write

# The reserve covers the labels annotators give while the next round trains (see
# reserve_size). Its first rounds' worth is chosen with the round, by the same strategy, and the
# default strategy's diverse selection costs about linearly in the number chosen (k-means with
# k = n: measured 1 s for 20 items, 9 s for 140, 19 s for 260 on a 10,000-item pool on the
# loaded 2-core machine), so that part is at most RESERVE_MAX_ROUNDS rounds. Beyond it the
# reserve's spares are the next most uncertain items of one scoring pass (labeler.engine), whose
# cost does not grow with their number: at 16 annotators answering without pause the retrain
# fell 15-20 s behind and a reserve of a few rounds ran out, so 30-60% of the labels came from
# exploration leases (random items, queue.leasing).
RESERVE_MAX_ROUNDS = 4
RESERVE_MAX = 2000
MAX_PLANNED_ANNOTATORS = 32
RESERVE_SAFETY = 1.5
ACTIVE_WINDOW = dt.timedelta(minutes=5)
# The answer rate the reserve is sized for: the team's answers in the last minute.
RATE_WINDOW = dt.timedelta(minutes=1)
DEFAULT_RETRAIN_SECONDS = 30.0
DEFAULT_SECONDS_PER_LABEL = 3.0

# (kind, item id, is_reserve) in the order annotators get them.
Placed = tuple[str, int, bool]


class Pick(Protocol):
    """One item a strategy chose (``labeler.engine.Pick``), most informative first."""

    item_id: int
    score: float
    predicted_label: str | None
    predicted_confidence: float | None


def _active_annotators(project: Project, recent) -> int:
    active = recent.values("annotator").distinct().count()
    if not active:
        # Nobody labeled lately (a new project): plan for the team that may.
        active = Membership.objects.filter(
            project=project, role__in=[Membership.Role.MANAGER, Membership.Role.ANNOTATOR]
        ).count()
    return min(max(active, 1), MAX_PLANNED_ANNOTATORS)


def _retrain_seconds(project: Project) -> tuple[float, float]:
    """A retrain's own compute and the time from one round written to the next (runs finished
    one after another: their queueing behind a busy worker counts too, and it is never less
    than the compute), the medians of recent runs."""
    runs = list(
        ModelRun.objects.filter(
            project=project, status=ModelRun.Status.SUCCEEDED, started_at__isnull=False
        )
        .exclude(finished_at=None)
        .order_by("-created_at")
        .values_list("started_at", "finished_at")[:6]
    )
    if not runs:
        return DEFAULT_RETRAIN_SECONDS, DEFAULT_RETRAIN_SECONDS
    computes = sorted((finished - started).total_seconds() for started, finished in runs[:5])
    compute = computes[len(computes) // 2]
    finishes = sorted(finished for _, finished in runs)
    gaps = sorted((b - a).total_seconds() for a, b in zip(finishes, finishes[1:], strict=False))
    return compute, max(compute, gaps[len(gaps) // 2]) if gaps else compute


def _answer_rates(project: Project) -> tuple[float, float]:
    """Answers per second: the annotators active in the last minutes at the pace they report,
    and the team's answers in the last minute (a team answering faster than it says)."""
    now = timezone.now()
    recent = Annotation.objects.filter(
        project=project, created_at__gte=now - ACTIVE_WINDOW, is_adjudication=False
    )
    active = _active_annotators(project, recent)
    paces = sorted(
        s
        for s in recent.order_by("-created_at").values_list("seconds_spent", flat=True)[:200]
        if s is not None
    )
    seconds_per_label = max(paces[len(paces) // 2], 0.5) if paces else DEFAULT_SECONDS_PER_LABEL
    answered_lately = recent.filter(created_at__gte=now - RATE_WINDOW).count()
    return active / seconds_per_label, answered_lately / RATE_WINDOW.total_seconds()


def reserve_size(*, project: Project) -> int:
    """How many next-best items to keep behind the round: enough for the labels annotators
    give until the next round is written, at the larger of their two rates
    (``_answer_rates``), with a margin."""
    paced, observed = _answer_rates(project)
    _, between_rounds = _retrain_seconds(project)
    wanted = math.ceil(RESERVE_SAFETY * max(paced, observed) * between_rounds)
    return max(project.round_size, min(wanted, RESERVE_MAX))


def reserve_strategy_share(*, project: Project, reserve: int) -> int:
    """Of a reserve of ``reserve`` items, how many the project's strategy chooses with the
    round: what the annotators' own pace uses during a retrain's compute (the whole reserve
    before spares existed, so a team at its usual pace costs the retrain no more), at most
    RESERVE_MAX_ROUNDS rounds. The rest are spares, the next most uncertain items."""
    paced, _ = _answer_rates(project)
    compute, _ = _retrain_seconds(project)
    wanted = math.ceil(RESERVE_SAFETY * paced * compute)
    return min(reserve, project.round_size * RESERVE_MAX_ROUNDS, max(project.round_size, wanted))


def _interleave(strategy_ids: list, evaluation_ids: list) -> list[tuple[str, object]]:
    # Spread evaluation items evenly through the round so annotators cannot tell them apart
    # by position.
    total = len(strategy_ids) + len(evaluation_ids)
    slots = set()
    if evaluation_ids:
        step = total / len(evaluation_ids)
        slots = {min(total - 1, int(step * i + step / 2)) for i in range(len(evaluation_ids))}
    strategy_iter, evaluation_iter = iter(strategy_ids), iter(evaluation_ids)
    ordered = []
    for slot in range(total):
        if slot in slots:
            value = next(evaluation_iter, None)
            if value is not None:
                ordered.append((QueueEntry.Kind.EVALUATION, value))
                continue
        value = next(strategy_iter, None)
        if value is None:
            value = next(evaluation_iter)
            ordered.append((QueueEntry.Kind.EVALUATION, value))
        else:
            ordered.append((QueueEntry.Kind.STRATEGY, value))
    return ordered


def _old_entries_replace(project: Project) -> None:
    """Delete the previous round's and reserve's entries nobody holds (Lock.ENTRIES with SKIP
    LOCKED), then take the queue writers' lock. Entries someone holds right now stay valid
    until answered or expired; items some annotators already answered (overlap) and requeued
    items keep their entries."""
    replaceable = (
        QueueEntry.objects.filter(project=project, done=False)
        .exclude(item__status=Item.Status.PENDING)
        .exclude(kind=QueueEntry.Kind.REQUEUED)
    )
    # Locked with SKIP LOCKED, then deleted by id: an entry a lease or a submit holds locked
    # right now is being given out or answered, and stays. (A plain DELETE would wait for it
    # and then delete it anyway: PostgreSQL rechecks only the id against the IN-subquery
    # Django writes for it, not "not leased".)
    unheld = Q(leased_by__isnull=True) | Q(lease_expires_at__lte=timezone.now())
    stale = skipping_locked(replaceable.filter(unheld))
    QueueEntry.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()
    # Exploration (queue.leasing) creates entries under the same lock: taken here, after the
    # deletes, it orders this write with it, so an item explored a moment ago is seen as
    # held. A plain lease creates nothing: the entries it takes survive the deletes above and
    # are in the set read after this.
    locks_take(project, Lock.QUEUE_WRITERS)


def _still_to_label(project: Project, placed: list[Placed]) -> list[Placed]:
    """``placed`` without the items queued meanwhile or answered since the strategy read the
    pool (their entry is done): read after the queued ones, this sees every submit that
    committed too late for the strategy."""
    held = set(
        QueueEntry.objects.filter(project=project, done=False).values_list("item_id", flat=True)
    )
    unlabeled = set(
        Item.objects.filter(
            pk__in=[item_id for _, item_id, _ in placed], status=Item.Status.UNLABELED
        ).values_list("pk", flat=True)
    )
    keep = unlabeled - held
    return [place for place in placed if place[1] in keep]


def _round_create(project: Project, run: ModelRun, size: int) -> QueryRound:
    last = QueryRound.objects.filter(project=project).aggregate(m=Max("number"))["m"] or 0
    return QueryRound.objects.create(
        project=project,
        number=last + 1,
        model_run=run if run.artifact_path else None,
        strategy=project.strategy if run.artifact_path else "cold_start",
        size=size,
    )


def _entries_create(
    project: Project, query_round: QueryRound, placed: list[Placed], scores: dict, guesses: dict
) -> None:
    classes = {c.name: c.pk for c in LabelClass.objects.filter(project=project)}
    overlap = max(project.overlap, 1)
    entries = []
    for position, (kind, item_id, is_reserve) in enumerate(placed):
        label_name, confidence = guesses.get(item_id, (None, None))
        # With overlap N, the N copies sit next to each other, one per annotator.
        entries.extend(
            QueueEntry(
                project=project,
                round=query_round,
                item_id=item_id,
                rank=position * overlap + slot + 1,
                slot=slot,
                kind=kind,
                is_reserve=is_reserve,
                score=scores.get(item_id),
                predicted_label_id=classes.get(label_name) if label_name else None,
                predicted_confidence=confidence,
            )
            for slot in range(overlap)
        )
    QueueEntry.objects.bulk_create(entries, batch_size=1000)


def round_replace(
    *,
    project: Project,
    run: ModelRun,
    picks: Sequence[Pick],
    eval_ids: list[int],
    eval_guesses: dict[int, tuple[str, float]],
    n_round_picks: int,
    n_round_eval: int,
    ranking: Sequence[int] = (),
) -> QueryRound:
    """Write the round (the first ``n_round_picks`` picks and ``n_round_eval`` evaluation
    items) and, ranked after it, the reserve (the remaining picks of the same scoring, with
    the remaining evaluation items) in one transaction that replaces the previous round's
    unheld entries, and ``ranking`` (the item ids the same scoring ranked next, most
    uncertain first) as the round's ranking beyond the reserve (``queue.ranking``).
    ``eval_guesses``: the run's guess (label name, confidence) per evaluation item, shown as
    the model's guess where the project shows one."""
    guesses = {pick.item_id: (pick.predicted_label, pick.predicted_confidence) for pick in picks}
    guesses.update(eval_guesses)
    scores = {pick.item_id: pick.score for pick in picks}
    pick_ids = [pick.item_id for pick in picks]
    round_part = _interleave(pick_ids[:n_round_picks], eval_ids[:n_round_eval])
    reserve_part = _interleave(pick_ids[n_round_picks:], eval_ids[n_round_eval:])
    placed = [(kind, item_id, False) for kind, item_id in round_part] + [
        (kind, item_id, True) for kind, item_id in reserve_part
    ]
    with transaction.atomic():
        _old_entries_replace(project)
        placed = _still_to_label(project, placed)
        in_round = sum(1 for _, _, is_reserve in placed if not is_reserve)
        query_round = _round_create(project, run, in_round * max(project.overlap, 1))
        _entries_create(project, query_round, placed, scores, guesses)
        ranking_write(project=project, query_round=query_round, item_ids=ranking)
    return query_round


def _manual_round(project: Project) -> QueryRound:
    """The round requeued entries join: the newest one, or a first round if none exists."""
    latest = QueryRound.objects.select_for_update().filter(project=project).order_by("-number")
    found = latest.first()
    if found is not None:
        return found
    number = QueryRound.objects.filter(project=project).aggregate(m=Max("number"))["m"] or 0
    return QueryRound.objects.create(project=project, number=number + 1, strategy="manual")


def requeue(*, project: Project, items: list[Item]) -> None:
    """Put ``items`` (locked by the caller, not queued) at the front of the queue, ahead of the
    strategy's picks and kept when a new round replaces the old one, in the newest round."""
    query_round = _manual_round(project)
    entries = [
        QueueEntry(
            project=project,
            round=query_round,
            item=item,
            rank=0,
            slot=slot,
            kind=QueueEntry.Kind.REQUEUED,
            predicted_label_id=item.model_label_id,
            predicted_confidence=item.model_confidence,
        )
        for item in items
        for slot in range(max(project.overlap, 1))
    ]
    QueueEntry.objects.bulk_create(entries)
    if entries:
        QueryRound.objects.filter(pk=query_round.pk).update(
            size=query_round.size + len(entries), completed_at=None
        )
