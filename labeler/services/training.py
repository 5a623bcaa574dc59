"""The model's side of the loop: request a retrain, run it idempotently, write the next round.

A ``ModelRun`` row is both the job and its outbox: it is inserted as ``queued`` in the
transaction that made it necessary, enqueued after commit, and a periodic sweep re-enqueues
queued runs the broker never delivered. The database allows one queued-or-running run per
project.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import traceback
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from labeler import engine, jobs, queue
from labeler.models import (
    Item,
    ModelRun,
    Project,
    QueueEntry,
)
from labeler.services import webhooks
from labeler.services.features import feature_set_request, superseded_feature_sets_remove
from labeler.services.items import (
    REQUEUABLE,
    item_finding_probabilities_store,
    item_predictions_store,
)
from labeler.services.projects import project_auto_representation_set
from labeler.transient import TRANSIENT_ERRORS

logger = logging.getLogger(__name__)

# A run stuck in "running" this long (its worker died without the broker redelivering) is
# queued again by the sweep. Matches the retrain task's hard time limit.
RUN_STALE_AFTER = dt.timedelta(minutes=35)
MIN_EVALUATION_LABELS = 20
MAX_EVALUATION_ITEMS_WITHOUT_BUDGET = 1000
MAX_CONSECUTIVE_FAILURES = 3
# A run whose worker dies on every attempt (out of memory on a big pool, past the hard time
# limit) is given up after this many: late acknowledgement would redeliver it forever, and
# while it is active no other retrain of its project can start.
MAX_RUN_ATTEMPTS = 3


def _enqueue(run_id: int) -> None:
    # The queued row is the outbox: with the broker down, the sweep sends it once it is back.
    jobs.job_send_or_wait(jobs.RETRAIN, run_id)


def retrain_request(*, project: Project) -> ModelRun | None:
    """Queue a retrain unless one is already queued or running. Safe to call from inside a
    larger transaction: the task is enqueued only after it commits."""
    recent = list(
        ModelRun.objects.filter(project=project)
        .order_by("-created_at")
        .values_list("status", flat=True)[:MAX_CONSECUTIVE_FAILURES]
    )
    # No run can be created while one is active, so an active run is always the newest.
    if recent and recent[0] in ModelRun.ACTIVE:
        return None
    if len(recent) == MAX_CONSECUTIVE_FAILURES and all(
        status == ModelRun.Status.FAILED for status in recent
    ):
        # Stop hammering a deterministic failure; a manager's retrain clears it.
        return None
    return _run_create(project)


def retrain_force(*, project: Project) -> ModelRun | None:
    """A manager's explicit retrain: ignores the failure back-off, and retries features whose
    computation failed."""
    feature_set_request(project=project, retry_failed=True)
    return _run_create(project)


def _run_create(project: Project) -> ModelRun | None:
    try:
        with transaction.atomic():
            run = ModelRun.objects.create(project=project, strategy=project.strategy)
    except IntegrityError:
        return None  # one is already queued or running; it will see these labels or the next
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def evaluation_draw(*, project: Project) -> int:
    """Grow the project's evaluation set to its target: a seeded random sample of the pool,
    drawn before the strategy can bias it. Returns the number of items added."""
    if project.evaluation_share <= 0:
        return 0
    if project.budget is not None:
        target = math.ceil(project.evaluation_share * project.budget)
    else:
        target = min(
            math.ceil(project.evaluation_share * project.n_items),
            MAX_EVALUATION_ITEMS_WITHOUT_BUDGET,
        )
    items = Item.objects.filter(project=project)
    current = items.filter(is_evaluation=True).count()
    if current >= target:
        return 0
    candidates = np.array(
        items.filter(is_evaluation=False, status=Item.Status.UNLABELED)
        .order_by("id")
        .values_list("id", flat=True),
        dtype=np.int64,
    )
    size = min(target - current, len(candidates))
    if size <= 0:
        return 0
    rng = np.random.default_rng([project.random_seed, project.pk, current])
    chosen = rng.choice(candidates, size=size, replace=False)
    last_order = items.aggregate(m=Max("evaluation_order"))["m"]
    start = 0 if last_order is None else last_order + 1
    with transaction.atomic():
        Item.objects.bulk_update(
            [
                Item(pk=int(pk), is_evaluation=True, evaluation_order=start + i)
                for i, pk in enumerate(chosen)
            ],
            ["is_evaluation", "evaluation_order"],
            batch_size=1000,
        )
    return size


def evaluation_slots(*, project: Project) -> int:
    """How many evaluation items the next round carries: half the round until the set has
    enough labels to mean something, then the project's evaluation share."""
    if project.evaluation_share <= 0:
        return 0
    items = Item.objects.filter(project=project, is_evaluation=True)
    labeled = items.filter(status=Item.Status.LABELED).count()
    unlabeled = items.filter(status=Item.Status.UNLABELED).count()
    if labeled < MIN_EVALUATION_LABELS:
        wanted = min(project.round_size // 2, MIN_EVALUATION_LABELS - labeled)
    else:
        wanted = round(project.round_size * project.evaluation_share)
    return max(0, min(wanted, unlabeled))


@dataclass(frozen=True)
class RoundPlan:
    """How a retrain's choice is shared out: the round's picks and evaluation items, and the
    reserve's evaluation items (at the round's own share, so labels given during a retrain
    keep measuring the model as often as the round's do)."""

    n_round_picks: int
    n_round_eval: int
    n_reserve_eval: int
    n_choose: int  # the picks the strategy chooses: the round's and the reserve's first part
    n_spare: int = 0  # the reserve's rest: the next most uncertain items of the same scoring


def model_run_execute(*, run_id: int, task_id: str = "") -> ModelRun | None:
    """Run a queued retrain: evaluation draw, train, evaluate, choose on the serving features
    (asking for the project's current ones in the background), write the round. Returns the
    run, or None if it was not queued (already taken: idempotent).

    A run still marked running is taken over only by a redelivery of the message that
    claimed it (``task_id``): late acknowledgement redelivers it when its worker died, and it
    fails once its worker died on ``MAX_RUN_ATTEMPTS`` attempts."""
    run = _run_claim(run_id, task_id)
    if run is None:
        return None
    project = Project.objects.get(pk=run.project_id)
    try:
        _run_steps(project, run)
    except TRANSIENT_ERRORS:
        # A database or broker blip: back to queued so the task's retry takes it again, and
        # it does not count as one of the failures that stop automatic retrains.
        logger.warning("retrain run %s hit a transient error; queued again", run.pk, exc_info=True)
        # Still down: the sweep requeues a run stuck in running.
        with contextlib.suppress(*TRANSIENT_ERRORS):
            ModelRun.objects.filter(pk=run.pk).update(status=ModelRun.Status.QUEUED)
        raise
    except Exception:
        # The previous model and queue keep serving; the error is kept on the run.
        logger.exception("retrain run %s of project %s failed", run.pk, project.pk)
        ModelRun.objects.filter(pk=run.pk).update(
            status=ModelRun.Status.FAILED,
            error=traceback.format_exc()[-4000:],
            finished_at=timezone.now(),
        )
        raise
    _run_succeeded(project, run)
    return run


def _run_claim(run_id: int, task_id: str) -> ModelRun | None:
    """The run, moved queued -> running under its row lock; None if it is not this task's to
    run (or it failed now, its worker lost on every attempt)."""
    with transaction.atomic():
        run = ModelRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return None
        resumed = run.status == ModelRun.Status.RUNNING and task_id and run.task_id == task_id
        if run.status != ModelRun.Status.QUEUED and not resumed:
            return None
        if resumed and run.attempts >= MAX_RUN_ATTEMPTS:
            logger.error("run %s: its worker was lost on %s attempts; failed", run.pk, run.attempts)
            run.status, run.finished_at = ModelRun.Status.FAILED, timezone.now()
            run.error = f"its worker was lost on each of {run.attempts} attempts (out of memory?)"
            run.save(update_fields=["status", "finished_at", "error"])
            return None
        if resumed:
            logger.warning("run %s: its worker was lost mid-run; taking it over", run.pk)
        run.status = ModelRun.Status.RUNNING
        run.started_at = timezone.now()
        run.attempts += 1
        run.task_id = task_id
        run.save(update_fields=["status", "started_at", "attempts", "task_id"])
    return run


def _run_steps(project: Project, run: ModelRun) -> None:
    """The run's work, from the evaluation draw to the round written and the guesses kept."""
    # Never waits for embedding: it runs on its own queue; this run uses what is ready.
    feature_set_request(project=project)
    evaluation_draw(project=project)
    project.refresh_from_db()
    plan = _round_plan(project)
    evidence = None if project.is_findings else _representation_decide(project)
    if project.is_findings:
        outcome = _findings_train_and_choose(project, run, plan)
    else:
        outcome = engine.train_and_choose(
            project=project,
            run=run,
            n_choose=plan.n_choose,
            n_spare=plan.n_spare,
            n_ranked=queue.RANKING_DEPTH,
            held_item_ids=queue.held_item_ids(project=project),
        )
    if evidence is not None and outcome.metrics:
        # Which representation serves and why, on every run that trained a model: this
        # run's comparison, else the latest one (the dashboard and the API read it here).
        outcome.metrics[engine.REPRESENTATION_EVIDENCE] = evidence
    run.feature_set_id = outcome.feature_set_id
    run.model_name = outcome.model_name
    run.n_labels = outcome.n_labels
    run.metrics = outcome.metrics
    run.artifact_path = outcome.artifact_path
    run.train_seconds = outcome.train_seconds
    run.query_seconds = outcome.query_seconds
    _round_write(project, run, outcome, plan)
    if project.is_findings:
        _finding_probabilities_store(project, run)
    else:
        item_predictions_store(run=run)


def _representation_decide(project: Project) -> dict | None:
    """An "auto" image project's representation, re-decided by evidence once the labels have
    grown enough: when another ready candidate wins the cross-validation, this run already
    trains on it (its features are complete; labeling never waited for them). Returns the
    evidence to record: this run's comparison, else the latest one, else None."""
    evidence = engine.representation_evidence(project=project)
    if evidence is None:
        if not engine.auto_candidate_names(project):
            return None
        latest = engine.latest_representation_evidence(project)
        return {**latest, "compared_in_run": False} if latest else None
    evidence = {**evidence, "compared_in_run": True}
    if evidence["chosen"] != evidence["serving"]:
        logger.info(
            "project %s: representation %s -> %s (%s)",
            project.pk, evidence["serving"], evidence["chosen"], evidence["reason"],
        )  # fmt: skip
        project_auto_representation_set(project=project, name=evidence["chosen"])
    return evidence


def _findings_train_and_choose(project: Project, run: ModelRun, plan: RoundPlan):
    """A findings project's run: the findings model on the resolved answers' label matrix."""
    from labeler.selectors_findings import findings_label_matrix

    def answers(evaluation: bool) -> engine.FindingsAnswers:
        item_ids, Y, names = findings_label_matrix(project=project, evaluation=evaluation)
        return engine.FindingsAnswers(item_ids, Y, names)

    return engine.findings_train_and_choose(
        project=project,
        run=run,
        n_choose=plan.n_choose,
        held_item_ids=queue.held_item_ids(project=project),
        train=answers(False),
        evaluation=answers(True),
        uncertain=project.uncertain_policy,
    )


def _finding_probabilities_store(project: Project, run: ModelRun) -> None:
    """The run's P(present) per finding onto the answered items and those its round queued
    (``Item.model_findings``, which the items page shows)."""
    if not run.artifact_path:
        return
    answered = Item.objects.filter(project=project).exclude(status__in=REQUEUABLE)
    queued = QueueEntry.objects.filter(project=project, round__model_run=run)
    item_ids = sorted(
        {*answered.values_list("id", flat=True), *queued.values_list("item_id", flat=True)}
    )
    known, names, proba = engine.predict_proba_items(run=run, item_ids=item_ids)
    if known:
        item_finding_probabilities_store(
            project=project, item_ids=known, finding_names=names, proba=proba
        )


def _round_plan(project: Project) -> RoundPlan:
    n_eval = evaluation_slots(project=project)
    n_round_picks = max(project.round_size - n_eval, 0)
    n_reserve = queue.reserve_size(project=project)
    n_reserve_eval = round(n_reserve * n_eval / project.round_size) if n_eval else 0
    n_reserve_picks = max(n_reserve - n_reserve_eval, 0)
    n_chosen = queue.reserve_strategy_share(project=project, reserve=n_reserve_picks)
    return RoundPlan(
        n_round_picks=n_round_picks,
        n_round_eval=n_eval,
        n_reserve_eval=n_reserve_eval,
        n_choose=n_round_picks + n_chosen,
        n_spare=n_reserve_picks - n_chosen,
    )


def _round_write(
    project: Project, run: ModelRun, outcome: engine.RunOutcome, plan: RoundPlan
) -> None:
    """The run's choice as the next round and its reserve, through the queue."""
    # Evaluation items waiting unheld in the old queue are offered again, in their order.
    eval_ids = list(
        Item.objects.filter(project=project, is_evaluation=True, status=Item.Status.UNLABELED)
        .exclude(pk__in=queue.held_item_ids(project=project, unexpired=True))
        .exclude(skips__isnull=False)
        .order_by("evaluation_order")
        .values_list("id", flat=True)[: plan.n_round_eval + plan.n_reserve_eval]
    )
    queue.round_replace(
        project=project,
        run=run,
        picks=outcome.picks,
        eval_ids=eval_ids,
        # A findings model guesses no single class.
        eval_guesses={}
        if project.is_findings
        else engine.predict_items(run=run, item_ids=eval_ids),
        n_round_picks=plan.n_round_picks,
        n_round_eval=plan.n_round_eval,
        ranking=outcome.ranking,
    )


def _run_succeeded(project: Project, run: ModelRun) -> None:
    run.status = ModelRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()
    webhooks.run_succeeded_emit(run=run)
    # What the project asks for now: a manager may have switched representation meanwhile.
    project.refresh_from_db()
    serving = engine.serving_feature_set(project)
    if serving and serving.pk != run.feature_set_id and serving.ready_at > run.started_at:
        # Features became ready while this run chose on older ones (or none): the retrain
        # they asked for found this run active and was not queued, so ask for it now.
        retrain_request(project=project)
    # This run now serves: the features the previous one trained on may be unused at last.
    try:
        superseded_feature_sets_remove(project)
    except Exception:  # noqa: BLE001 - a clean-up must never fail a run that succeeded
        logger.warning("project %s: superseded features kept for now", project.pk, exc_info=True)


def stale_runs_enqueue() -> int:
    """The outbox sweep: enqueue queued runs the broker never delivered, and requeue running
    runs whose worker died. Returns how many runs it enqueued."""
    now = timezone.now()
    stuck = ModelRun.objects.filter(
        status=ModelRun.Status.RUNNING, started_at__lt=now - RUN_STALE_AFTER
    )
    stuck.filter(attempts__gte=MAX_RUN_ATTEMPTS).update(
        status=ModelRun.Status.FAILED,
        error=f"still running after {RUN_STALE_AFTER} on its last attempt",
        finished_at=now,
    )
    stuck.update(status=ModelRun.Status.QUEUED)
    stale = list(
        ModelRun.objects.filter(
            status=ModelRun.Status.QUEUED,
            created_at__lt=now - dt.timedelta(seconds=settings.TWEEZERS_OUTBOX_GRACE_SECONDS),
        ).values_list("pk", flat=True)
    )
    for run_id in stale:
        _enqueue(run_id)
    return len(stale)
