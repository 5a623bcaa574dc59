"""Writing a round: the queue entries a retrain's choice becomes — the round, its reserve
behind it, evaluation items spread through both — replacing the previous round's unheld
entries, and how large the reserve should be."""

from __future__ import annotations

import datetime as dt
import math

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from labeler import engine
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
from labeler.services.locks import queue_writers_lock, skipping_locked

# The reserve covers the labels annotators give while the next round trains (see
# reserve_size). It is chosen with the round, by the same strategy, and the default strategy's
# diverse selection costs about linearly in the number chosen (k-means with k = n: measured
# 1 s for 20 items, 9 s for 140, 19 s for 260 on a 10,000-item pool on the loaded 2-core
# machine). A reserve that slows the retrain it waits for defeats itself, so it is at most a
# few rounds; when a retrain is later still, exploration leases (services.leasing) fill in.
RESERVE_MAX_ROUNDS = 4
RESERVE_MAX = 400
MAX_PLANNED_ANNOTATORS = 32
RESERVE_SAFETY = 1.5
ACTIVE_WINDOW = dt.timedelta(minutes=5)
DEFAULT_RETRAIN_SECONDS = 30.0
DEFAULT_SECONDS_PER_LABEL = 3.0


def reserve_size(*, project: Project) -> int:
    """How many next-best items to keep behind the round: enough for the annotators active in
    the last minutes to keep labeling for as long as a retrain takes, at their own pace."""
    now = timezone.now()
    recent = Annotation.objects.filter(
        project=project, created_at__gte=now - ACTIVE_WINDOW, is_adjudication=False
    )
    active = recent.values("annotator").distinct().count()
    if not active:
        # Nobody labeled lately (a new project): plan for the team that may.
        active = Membership.objects.filter(
            project=project, role__in=[Membership.Role.MANAGER, Membership.Role.ANNOTATOR]
        ).count()
    active = min(max(active, 1), MAX_PLANNED_ANNOTATORS)
    paces = sorted(
        s
        for s in recent.order_by("-created_at").values_list("seconds_spent", flat=True)[:200]
        if s is not None
    )
    seconds_per_label = max(paces[len(paces) // 2], 0.5) if paces else DEFAULT_SECONDS_PER_LABEL
    durations = sorted(
        (finished - started).total_seconds()
        for started, finished in ModelRun.objects.filter(
            project=project, status=ModelRun.Status.SUCCEEDED, started_at__isnull=False
        )
        .order_by("-created_at")
        .values_list("started_at", "finished_at")[:5]
        if finished is not None
    )
    retrain_seconds = durations[len(durations) // 2] if durations else DEFAULT_RETRAIN_SECONDS
    wanted = math.ceil(RESERVE_SAFETY * active * retrain_seconds / seconds_per_label)
    return max(
        project.round_size, min(wanted, RESERVE_MAX_ROUNDS * project.round_size, RESERVE_MAX)
    )


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


def round_write(
    *,
    project: Project,
    run: ModelRun,
    outcome: engine.RunOutcome,
    eval_ids: list[int],
    n_round_picks: int,
    n_round_eval: int,
) -> QueryRound:
    """Write the round (the first picks and evaluation items) and, ranked after it, the
    reserve (the remaining picks of the same scoring, with evaluation items at the same
    share) in one transaction that replaces the previous round's unheld entries."""
    classes = {c.name: c.pk for c in LabelClass.objects.filter(project=project)}
    guesses = {
        pick.item_id: (pick.predicted_label, pick.predicted_confidence) for pick in outcome.picks
    }
    guesses.update(engine.predict_items(run=run, item_ids=eval_ids))
    scores = {pick.item_id: pick.score for pick in outcome.picks}
    pick_ids = [pick.item_id for pick in outcome.picks]
    round_part = _interleave(pick_ids[:n_round_picks], eval_ids[:n_round_eval])
    reserve_part = _interleave(pick_ids[n_round_picks:], eval_ids[n_round_eval:])
    with transaction.atomic():
        # Entries someone holds right now stay valid until answered or expired; the rest of
        # the old round and its reserve are replaced by the new choice.
        # Items some annotators already answered (overlap) keep their remaining entries.
        replaceable = (
            QueueEntry.objects.filter(project=project, done=False)
            .exclude(item__status=Item.Status.PENDING)
            .exclude(kind=QueueEntry.Kind.REQUEUED)
        )
        # Locked with SKIP LOCKED, then deleted by id: an entry a lease or a submit holds
        # locked right now is being given out or answered, and stays. (A plain DELETE would
        # wait for it and then delete it anyway: PostgreSQL rechecks only the id against the
        # IN-subquery Django writes for it, not "not leased".)
        unheld = Q(leased_by__isnull=True) | Q(lease_expires_at__lte=timezone.now())
        stale = skipping_locked(replaceable.filter(unheld))
        QueueEntry.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()
        # Exploration (services.leasing) creates entries under the same lock: taken here,
        # after the deletes, it orders this write with it, so an item explored a moment ago
        # is seen as held. A plain lease creates nothing: the entries it takes survive the
        # deletes above and are in the set read below.
        queue_writers_lock(project)
        held = set(
            QueueEntry.objects.filter(project=project, done=False).values_list("item_id", flat=True)
        )
        # Items answered since the strategy read the pool are not held (their entry is done):
        # read after ``held``, this sees every submit that committed too late for it.
        unlabeled = set(
            Item.objects.filter(
                pk__in=[item_id for _, item_id in round_part + reserve_part],
                status=Item.Status.UNLABELED,
            ).values_list("pk", flat=True)
        )
        keep = unlabeled - held
        round_part = [(kind, item_id) for kind, item_id in round_part if item_id in keep]
        reserve_part = [(kind, item_id) for kind, item_id in reserve_part if item_id in keep]
        last = QueryRound.objects.filter(project=project).aggregate(m=Max("number"))["m"] or 0
        overlap = max(project.overlap, 1)
        query_round = QueryRound.objects.create(
            project=project,
            number=last + 1,
            model_run=run if run.artifact_path else None,
            strategy=project.strategy if run.artifact_path else "cold_start",
            size=len(round_part) * overlap,
        )
        entries = []
        ordered = [(kind, item_id, False) for kind, item_id in round_part] + [
            (kind, item_id, True) for kind, item_id in reserve_part
        ]
        for position, (kind, item_id, is_reserve) in enumerate(ordered):
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
    return query_round
