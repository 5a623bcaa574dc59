"""Train, measure and choose for a findings (multi-label) project: the findings counterpart of
:mod:`labeler.engine.training`. The answers come in as matrices (the service reads them with
``selectors_findings.findings_label_matrix``); nothing here writes the database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labeler.engine.store import FeatureRows, feature_rows_open, serving_feature_set
from labeler.engine.training import (
    CURVE_RUNS,
    Pick,
    RunOutcome,
    artifact_dir,
    cold_draw,
    ineligible_ids,
    stop_rows,
)
from labeler.engine.versus_random import versus_random_metrics
from labeler.models import FeatureSet, ModelRun, Project

FINDINGS_MODEL = "findings_logreg"


@dataclass(frozen=True)
class FindingsAnswers:
    """Resolved answers: ``item_ids`` (n,), ``Y`` (n, k) int8 1 / 0 / -1, ``names`` (k)."""

    item_ids: list[int]
    Y: np.ndarray
    names: list[str]


def _rows_and_answers(answers: FindingsAnswers, features: FeatureRows):
    """Rows (ascending) and answers of the items that have a row in ``features``."""
    rows = features.rows_of(answers.item_ids)
    keep = rows >= 0
    order = np.argsort(rows[keep], kind="stable")
    return rows[keep][order], np.asarray(answers.Y)[keep][order]


def findings_strategy(name: str):
    """The project's strategy from the findings registry; its default for a name the registry
    lacks (a single-label strategy name a project was created with)."""
    from learning.findings.strategies import (
        DEFAULT_FINDINGS_STRATEGY,
        FINDINGS_STRATEGIES,
        get_findings_strategy,
    )

    return get_findings_strategy(name if name in FINDINGS_STRATEGIES else DEFAULT_FINDINGS_STRATEGY)


ARMS_FILE = "arms.npz"
# How many earlier runs' choices are read for the arms' evidence (a run's choice is the round
# and its reserve; older runs' items have long been labeled or passed over).
ARM_EVIDENCE_RUNS = 200


def arms_store(directory: Path, item_ids: np.ndarray, choice) -> None:
    """Keep what a run's arms chose (``learning.findings.arms.ArmsChoice``): each item's arm
    and the model's P(present) for it, the evidence once the items are labeled."""
    np.savez(directory / ARMS_FILE, item_ids=np.asarray(item_ids, dtype=np.int64),
             arms=choice.arms, proba=choice.proba)  # fmt: skip


def arm_evidence(project: Project, train: FindingsAnswers):
    """``(arms, proba, Y)`` of the labeled items that earlier runs' arms chose: the arm and
    P(present) of the latest run that chose each, and its answers in ``train``."""
    paths = (
        ModelRun.objects.filter(
            project=project, status=ModelRun.Status.SUCCEEDED, model_name=FINDINGS_MODEL
        )
        .exclude(artifact_path="")
        .order_by("-created_at", "-id")
        .values_list("artifact_path", flat=True)[:ARM_EVIDENCE_RUNS]
    )
    n_findings = len(train.names)
    chosen: dict[int, tuple[int, np.ndarray]] = {}
    for path in reversed(list(paths)):  # oldest first: a later choice of an item wins
        try:
            with np.load(Path(path) / ARMS_FILE, allow_pickle=False) as saved:
                item_ids, arms, proba = saved["item_ids"], saved["arms"], saved["proba"]
        except (OSError, KeyError, ValueError):
            continue
        if proba.ndim != 2 or proba.shape[1] != n_findings:
            continue  # findings were added or removed since
        for item_id, arm, row in zip(item_ids.tolist(), arms.tolist(), proba, strict=True):
            chosen[item_id] = (arm, row)
    row_of = {item_id: i for i, item_id in enumerate(train.item_ids)}
    labeled = [item_id for item_id in chosen if item_id in row_of]
    arms = np.asarray([chosen[i][0] for i in labeled], dtype=np.int8)
    proba = np.asarray([chosen[i][1] for i in labeled], dtype=np.float32).reshape(-1, n_findings)
    Y = np.asarray(train.Y)[[row_of[i] for i in labeled]].reshape(-1, n_findings)
    return arms, proba, Y


def _previous_model(project: Project, feature_set: FeatureSet, names: list[str]):
    """The latest findings model on these features with the same findings, or None."""
    from learning.models import load_model

    path = (
        ModelRun.objects.filter(
            project=project,
            status=ModelRun.Status.SUCCEEDED,
            feature_set=feature_set,
            model_name=FINDINGS_MODEL,
        )  # fmt: skip
        .exclude(artifact_path="")
        .order_by("-created_at")
        .values_list("artifact_path", flat=True)
        .first()
    )
    try:
        model = load_model(path) if path else None
    except (OSError, ValueError):
        return None
    if model is None or [str(c) for c in model.classes_] != names:
        return None  # findings were added or renamed: start afresh
    return model


def _evaluate(model, X_eval: np.ndarray, Y_eval: np.ndarray, names: list[str], seed: int):
    from learning.findings.metrics import evaluate_findings

    return evaluate_findings(Y_eval, model.predict_proba(X_eval), names, interval_seed=seed)


CURVE_KEYS = ("macro_auc", "macro_auc_low", "macro_auc_high", "micro_f1", "macro_f1")


def _curve(project, run, feature_set, metrics, X_eval, Y_eval, names) -> list[dict]:
    """Recent findings runs on these features re-measured on today's evaluation set (as the
    single-label curve is), then this run."""
    from learning.models import load_model

    previous = (
        ModelRun.objects.filter(
            project=project,
            status=ModelRun.Status.SUCCEEDED,
            feature_set=feature_set,
            model_name=FINDINGS_MODEL,
        )  # fmt: skip
        .exclude(artifact_path="")
        .order_by("-created_at")[: CURVE_RUNS - 1]
    )
    points = []
    for past in reversed(list(previous)):
        try:
            past_model = load_model(past.artifact_path)
        except (OSError, ValueError):
            continue
        if [str(c) for c in past_model.classes_] != names:
            continue
        past_metrics = _evaluate(past_model, X_eval, Y_eval, names, project.random_seed)
        points.append({"run": past.pk, "n_labels": past.n_labels,
                       **{key: past_metrics[key] for key in CURVE_KEYS}})  # fmt: skip
    points.append({"run": run.pk, "n_labels": None, **{key: metrics[key] for key in CURVE_KEYS}})
    return points


def _versus_random(project, run, serving, model, X_eval, Y_eval, n_labels, metrics) -> dict:
    """What as many random labels would reach in macro AUC, cross-fitted on the evaluation
    answers with a fresh findings model per draw (the run's, its strength fixed), beside the
    run's own macro AUC; the curve's points gain the estimate at their label counts."""
    from learning.versus_random import macro_auc_scorer

    return versus_random_metrics(
        project=project, run=run, feature_set_id=serving.pk, model=model,
        model_name=FINDINGS_MODEL, X_eval=X_eval, y_eval=Y_eval, n_labels=n_labels,
        accuracy=metrics["macro_auc"], curve=metrics["curve"], scorer=macro_auc_scorer,
        measure="macro_auc", trained_as=f"uncertain={model.uncertain}",
    )  # fmt: skip


def _stop_signal(project: Project, model, pool, directory: Path, metrics: dict) -> None:
    """Stabilising predictions over every (item, finding) of the stop set: Cohen's kappa
    between this model's present/absent calls and the previous findings model's."""
    from learning.pool import take_rows
    from learning.stopping import cohens_kappa, stopping_signal

    rows = stop_rows(project, len(pool))
    predictions = np.asarray(model.predict(take_rows(pool, rows))).astype(np.int8)
    np.save(directory / "stop_predictions.npy", predictions)
    np.save(directory / "stop_rows.npy", rows)
    previous = (
        ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED)
        .exclude(artifact_path="")
        .order_by("-created_at")
        .first()
    )
    kappa, history = None, []
    if previous is not None:
        path = Path(previous.artifact_path) / "stop_predictions.npy"
        rows_path = path.with_name("stop_rows.npy")
        if path.exists() and rows_path.exists() and np.array_equal(np.load(rows_path), rows):
            before = np.load(path, allow_pickle=False)
            if before.shape == predictions.shape:
                kappa = float(cohens_kappa(before.ravel(), predictions.ravel()))
        history = list(previous.metrics.get("kappa_history", []))
    if kappa is not None:
        history.append(kappa)
    metrics["kappa_previous"] = kappa
    metrics["kappa_history"] = history[-10:]
    signal = stopping_signal(
        history,
        metric=metrics.get(project.target_metric),
        target=project.target_value,
        labels_spent=project.n_annotations,
        budget=project.budget,
    )
    metrics["stop"] = {"should_stop": bool(signal.should_stop), "reason": signal.reason}


def findings_train_and_choose(
    *, project: Project, run: ModelRun, n_choose: int, held_item_ids,
    train: FindingsAnswers, evaluation: FindingsAnswers, uncertain: str = "ignore",
) -> RunOutcome:  # fmt: skip
    """Train the findings model on ``train``'s answers, measure it on ``evaluation``'s, and
    choose the next ``n_choose`` items with the project's findings strategy on the serving
    features (a seeded random draw while none are ready). ``uncertain``: how uncertain
    answers train (``learning.findings.model.UNCERTAIN_POLICIES``)."""
    serving = serving_feature_set(project)
    features = feature_rows_open(serving) if serving is not None else None
    if features is None:
        return cold_draw(project, run, n_choose, held_item_ids)
    from learning.findings.model import FindingsClassifier
    from learning.models import save_model
    from learning.pool import take_rows

    pool, names = features.pool, list(train.names)
    rng = np.random.default_rng([project.random_seed, project.pk, run.pk])
    train_rows, Y_train = _rows_and_answers(train, features)
    eval_rows, Y_eval = _rows_and_answers(evaluation, features)
    outcome = RunOutcome(FINDINGS_MODEL, n_labels=len(train_rows), feature_set_id=serving.pk)
    started = time.perf_counter()
    X_train = take_rows(pool, train_rows) if len(train_rows) else None
    model = None
    if len(train_rows) and names:
        previous = _previous_model(project, serving, names)
        fresh = (
            previous.next_round().set_params(uncertain=uncertain)
            if previous is not None
            else FindingsClassifier(
                uncertain=uncertain, findings=tuple(names), random_state=project.random_seed
            )  # fmt: skip
        )
        model = fresh.fit(X_train, Y_train)
        directory = artifact_dir(run)
        save_model(model, directory)
        outcome.artifact_path = str(directory)
        metrics = outcome.metrics
        if len(eval_rows):
            X_eval = take_rows(pool, eval_rows)
            metrics.update(_evaluate(model, X_eval, Y_eval, names, project.random_seed))
            metrics["curve"] = _curve(project, run, serving, metrics, X_eval, Y_eval, names)
            metrics["versus_random"] = _versus_random(
                project, run, serving, model, X_eval, Y_eval, len(train_rows), metrics
            )
        metrics["task"] = "findings"
        metrics["n_evaluation"] = int(len(eval_rows))
        metrics["uncertain"] = uncertain
        metrics["training_positives"] = dict(zip(names, map(int, model.positives_), strict=True))
        metrics["representation"] = serving.representation
        metrics["feature_version"] = serving.version
        _stop_signal(project, model, pool, directory, metrics)
    outcome.train_seconds = time.perf_counter() - started

    started = time.perf_counter()
    allowed = np.ones(len(pool), dtype=bool)
    ineligible = features.rows_of(ineligible_ids(project, held_item_ids))
    allowed[ineligible[ineligible >= 0]] = False
    positions = np.empty(0, dtype=np.int64)
    if n_choose > 0 and allowed.any():
        strategy = findings_strategy(project.strategy)
        query = {
            "rng": rng, "X_labeled": X_train, "y_labeled": Y_train,
            "exclude": np.flatnonzero(~allowed),
        }  # fmt: skip
        if hasattr(strategy, "choose"):
            # Learns its arms' split from the labeled items earlier runs' arms chose
            # (learning.findings.arms), exactly as bench/label_efficiency.py --findings runs it.
            strategy = strategy.with_evidence(*arm_evidence(project, train))
            choice = strategy.choose(model, pool, n_choose, **query)
            result = choice.result
            if outcome.artifact_path:
                arms_store(Path(outcome.artifact_path), features.item_ids[result.positions],
                           choice)  # fmt: skip
                shares = zip(strategy.arms, strategy.current_shares(), strict=True)
                outcome.metrics["arm_shares"] = {arm: float(share) for arm, share in shares}
        else:
            result = strategy.query(model, pool, n_choose, **query)
        positions, scores = result.positions, result.scores
        outcome.picks = [
            Pick(int(pk), float(s), None, None)
            for pk, s in zip(features.item_ids[positions], scores, strict=True)
        ]
    outcome.query_seconds = time.perf_counter() - started
    return outcome
