"""Train, measure and choose on a project's serving features: querysets become arrays, pool
positions become item ids. The web process never holds the pool in memory: scoring streams
the memory-mapped shards of :mod:`labeler.engine.store`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings

from labeler.engine.scans import run_pool, scan_artifacts_save, scan_pool
from labeler.engine.store import (
    FeatureRows,
    feature_rows_open,
    feature_set_dir,
    serving_feature_set,
)
from labeler.engine.suggestions import strategy_params
from labeler.engine.versus_random import versus_random_metrics
from labeler.models import FeatureSet, Item, ModelRun, Project, Skip

STOP_SET_SIZE = 2000
CURVE_RUNS = 50


def artifact_dir(run: ModelRun) -> Path:
    return Path(settings.TWEEZERS_ARTIFACT_DIR) / f"project_{run.project_id}" / f"run_{run.pk}"


def _ids_array(queryset) -> np.ndarray:
    return np.fromiter(queryset.iterator(chunk_size=50_000), dtype=np.int64)


def _rows_and_labels(queryset, features: FeatureRows) -> tuple[np.ndarray, np.ndarray]:
    """Rows (ascending) and label names of the labeled items that have a row in ``features``;
    items imported after its rows were computed wait for them."""
    pairs = list(queryset.filter(label__isnull=False).values_list("id", "label__name"))
    rows = features.rows_of([pk for pk, _ in pairs])
    labels = np.array([name for _, name in pairs], dtype=object)
    keep = rows >= 0
    order = np.argsort(rows[keep], kind="stable")
    return rows[keep][order], labels[keep][order]


@dataclass
class Pick:
    item_id: int
    score: float
    predicted_label: str | None
    predicted_confidence: float | None


@dataclass
class RunOutcome:
    model_name: str
    n_labels: int
    # The features trained and chosen on; None for a draw before any were ready.
    feature_set_id: int | None = None
    metrics: dict = field(default_factory=dict)
    artifact_path: str = ""
    picks: list[Pick] = field(default_factory=list)
    # The item ids ranked after the picks and spares, most uncertain first (``n_ranked``).
    ranking: list[int] = field(default_factory=list)
    train_seconds: float = 0.0
    query_seconds: float = 0.0


def _evaluate(model, X_eval: np.ndarray, y_eval: np.ndarray, classes: list[str]) -> dict:
    from learning.evaluation import evaluate, wilson_interval

    y_pred = model.predict(X_eval)
    metrics = evaluate(y_eval, y_pred, classes)
    correct = int(round(metrics["accuracy"] * len(y_eval)))
    low, high = wilson_interval(correct, len(y_eval))
    metrics["accuracy_low"], metrics["accuracy_high"] = low, high
    return metrics


def _curve_point(run_id: int, n_labels: int | None, metrics: dict) -> dict:
    keys = ("accuracy", "macro_f1", "accuracy_low", "accuracy_high")
    return {"run": run_id, "n_labels": n_labels, **{key: metrics[key] for key in keys}}


def _learning_curve(
    project: Project,
    run: ModelRun,
    feature_set: FeatureSet,
    metrics: dict,
    X_eval: np.ndarray,
    y_eval: np.ndarray,
    classes,
    *,
    remeasure: bool = True,
) -> list[dict]:
    """Every recent run re-measured on today's evaluation set, so the points compare like with
    like (the set grows as evaluation labels come in). ``metrics`` are this run's, already
    measured on that set. Without ``remeasure`` (scans: each run pooled the slices its own
    way) earlier runs keep the figures they were measured with."""
    from learning.models import load_model

    previous = (
        ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED)
        .exclude(artifact_path="")
        .order_by("-created_at")[: CURVE_RUNS - 1]
    )
    points = []
    for past in reversed(list(previous)):
        if past.feature_set_id != feature_set.pk:
            # Trained on other features (another representation or an earlier fit of the
            # pool): it cannot read these rows, its own metrics stand.
            continue
        if not remeasure:
            if "accuracy_low" in past.metrics:
                points.append(_curve_point(past.pk, past.n_labels, past.metrics))
            continue
        try:
            past_model = load_model(past.artifact_path)
        except (OSError, ValueError):
            continue
        past_metrics = _evaluate(past_model, X_eval, y_eval, classes)
        points.append(_curve_point(past.pk, past.n_labels, past_metrics))
    points.append(_curve_point(run.pk, None, metrics))
    return points


def _previous_model(project: Project, feature_set: FeatureSet, model_name: str):
    """The latest model trained on these features, which the next one starts from (as the
    simulator's loop does: its searched ``C``, a torch model's weights), or None."""
    from learning.models import load_model

    previous = (
        ModelRun.objects.filter(
            project=project,
            status=ModelRun.Status.SUCCEEDED,
            feature_set=feature_set,
            model_name=model_name,
        )
        .exclude(artifact_path="")
        .order_by("-created_at")
        .values_list("artifact_path", flat=True)
        .first()
    )
    if previous is None:
        return None
    try:
        return load_model(previous)
    except (OSError, ValueError):
        return None  # its artifact is gone: start afresh


def _pool_scaler(project: Project, feature_set: FeatureSet, pool):
    """The standardisation of the serving features fitted on the pool (not the labels), kept
    beside the shards and refitted when the pool has grown."""
    import os

    import joblib

    from learning.preprocessing import pool_scaler

    path = feature_set_dir(feature_set) / f"pool_scaler_{len(pool)}.joblib"
    try:
        return joblib.load(path)
    except (OSError, EOFError, ValueError):
        pass
    scaler = pool_scaler(pool, random_state=project.random_seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    joblib.dump(scaler, partial)
    partial.replace(path)  # atomic: a concurrent reader sees the old file or the whole new one
    return scaler


def _unlabeled_rows(project: Project, pool, train_rows, eval_rows) -> np.ndarray:
    """A seeded sample of at most ``MAX_UNLABELED`` pool rows that are neither trained on nor
    in the evaluation set (which measures the model on rows it did not see): the neighbour
    graph of semi-supervised training, bounded whatever the pool size."""
    from learning.pool import take_rows
    from learning.semi_supervised import unlabeled_sample

    taken = np.concatenate([train_rows, eval_rows]).astype(np.int64)
    return take_rows(pool, unlabeled_sample(len(pool), taken, random_state=project.random_seed))


def stop_rows(project: Project, n_rows: int) -> np.ndarray:
    # A fixed sample of the pool, the same for every run of the project, on which successive
    # models' predictions are compared (stabilising predictions).
    rng = np.random.default_rng([project.random_seed, project.pk, 7])
    size = min(STOP_SET_SIZE, n_rows)
    return np.sort(rng.choice(n_rows, size=size, replace=False)) if size else np.empty(0, int)


def _stop_signal(project: Project, run: ModelRun, model, pool, directory: Path, metrics: dict):
    from learning.pool import take_rows
    from learning.stopping import cohens_kappa, stopping_signal

    rows = stop_rows(project, len(pool))
    predictions = np.asarray(model.predict(take_rows(pool, rows))).astype(str)
    np.save(directory / "stop_predictions.npy", predictions)
    np.save(directory / "stop_rows.npy", rows)
    history = []
    previous = (
        ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED)
        .exclude(artifact_path="")
        .order_by("-created_at")
        .first()
    )
    kappa = None
    if previous is not None:
        path = Path(previous.artifact_path) / "stop_predictions.npy"
        rows_path = path.with_name("stop_rows.npy")
        # Only the same items compare: when the pool grew, the stop set was drawn anew.
        if path.exists() and rows_path.exists() and np.array_equal(np.load(rows_path), rows):
            before = np.load(path, allow_pickle=False)
            kappa = float(cohens_kappa(before, predictions))
        history = list(previous.metrics.get("kappa_history", []))
    if kappa is not None:
        history.append(kappa)
    metrics["kappa_previous"] = kappa
    metrics["kappa_history"] = history[-10:]
    target = project.target_value
    signal = stopping_signal(
        history,
        metric=metrics.get(project.target_metric),
        target=target,
        labels_spent=project.n_annotations,
        budget=project.budget,
    )
    metrics["stop"] = {"should_stop": bool(signal.should_stop), "reason": signal.reason}


def _eligible_ids(project: Project, held_item_ids):
    """Unlabeled strategy items nobody skipped and nobody holds (``held_item_ids``)."""
    return (
        Item.objects.filter(project=project, status=Item.Status.UNLABELED, is_evaluation=False)
        .exclude(skips__isnull=False)
        .exclude(pk__in=held_item_ids)
        .values_list("id", flat=True)
    )


def ineligible_ids(project: Project, held_item_ids) -> np.ndarray:
    """The items a retrain must not choose (see ``_eligible_ids``), read as the few they are:
    answered, evaluation, skipped or held. Bounded by the labels, not the pool: at 100,000
    items, reading the eligible ids took 0.2 s of every retrain, at a million 2 s."""
    answered = [status for status in Item.Status.values if status != Item.Status.UNLABELED]
    items = Item.objects.filter(project=project)
    parts = [
        items.filter(status__in=answered).values_list("id", flat=True),
        items.filter(is_evaluation=True).values_list("id", flat=True),
        Skip.objects.filter(project=project).values_list("item_id", flat=True),
        held_item_ids,
    ]
    return np.concatenate([_ids_array(part.order_by()) for part in parts])


def cold_draw(project: Project, run: ModelRun, n_choose: int, held_item_ids) -> RunOutcome:
    """Before any features are ready: a seeded random draw of the eligible items, so a new
    project serves within seconds of its import; the features take over once ready."""
    started = time.perf_counter()
    outcome = RunOutcome(model_name="", n_labels=0)
    candidates = np.sort(_ids_array(_eligible_ids(project, held_item_ids).order_by()))
    rng = np.random.default_rng([project.random_seed, project.pk, run.pk])
    size = min(max(n_choose, 0), len(candidates))
    chosen = rng.choice(candidates, size=size, replace=False) if size else candidates[:0]
    scores = np.linspace(1.0, 0.0, size) if size > 1 else np.ones(size)
    outcome.picks = [
        Pick(int(pk), float(s), None, None) for pk, s in zip(chosen, scores, strict=True)
    ]
    outcome.query_seconds = time.perf_counter() - started
    return outcome


def _spares(project: Project, model, pool, exclude, n_spare: int, rng) -> tuple:
    """The reserve's spares, after the strategy's picks (``exclude`` holds those): the next
    most uncertain items by margin, the measure the default strategy starts from, in one
    scoring pass whatever their number (random for the random strategy or without a model)."""
    from learning.strategies import get_strategy

    name = "margin" if model is not None and project.strategy != "random" else "random"
    result = get_strategy(name).query(model, pool, n_spare, rng=rng, exclude=exclude)
    return result.positions, result.scores


def train_and_choose(
    *,
    project: Project,
    run: ModelRun,
    n_choose: int,
    held_item_ids,
    n_spare: int = 0,
    n_ranked: int = 0,
) -> RunOutcome:
    """Train on the labeled strategy items, measure on the evaluation set, and choose the next
    ``n_choose`` items from the unlabeled pool with the project's strategy, on the newest
    ready features (a seeded random draw while none are ready), then ``n_spare`` more by
    uncertainty alone (see ``_spares``), and rank up to ``n_ranked`` more after them the same
    way (``RunOutcome.ranking``; only with a model, for an uncertainty-driven strategy).
    ``held_item_ids``: the items annotators hold (the queue's ``held_item_ids``, a query),
    which are not chosen."""
    serving = serving_feature_set(project)
    features = feature_rows_open(serving) if serving is not None else None
    if features is None:
        return cold_draw(project, run, n_choose + n_spare, held_item_ids)
    from learning.models import default_model_name, save_model
    from learning.pool import take_rows
    from learning.project_defaults import initial_choice
    from learning.strategies import get_strategy
    from learning.training import train_model

    pool = features.pool
    classes = list(project.classes.values_list("name", flat=True))
    # The model of the representation actually serving (it may not be the one asked for yet).
    model_name = settings.TWEEZERS_MODEL or default_model_name(project.kind, serving.representation)
    rng = np.random.default_rng([project.random_seed, project.pk, run.pk])
    items = Item.objects.filter(project=project)

    train_rows, y_train = _rows_and_labels(items.filter(is_evaluation=False), features)
    eval_rows, y_eval = _rows_and_labels(items.filter(is_evaluation=True), features)
    scan = None
    if project.unit != Project.Unit.INSTANCE:
        # A scan is its slices: their rows pooled per item replace the item rows.
        pool, pooler, slice_rows = scan_pool(serving, features, train_rows, y_train)
        scan = (pooler, slice_rows)
    outcome = RunOutcome(model_name=model_name, n_labels=len(train_rows), feature_set_id=serving.pk)

    model = None
    started = time.perf_counter()
    X_train = take_rows(pool, train_rows) if len(train_rows) else None
    if len(set(y_train)) >= 2:
        X_eval = take_rows(pool, eval_rows) if len(eval_rows) else None
        semi = settings.TWEEZERS_SEMI_SUPERVISED
        unlabeled = _unlabeled_rows(project, pool, train_rows, eval_rows) if semi != "off" else None
        model = train_model(
            model_name,
            X_train,
            y_train,
            random_state=project.random_seed,
            previous=_previous_model(project, serving, model_name),
            scaler=_pool_scaler(project, serving, pool),
            semi_supervised=semi,
            unlabeled=unlabeled,
            evaluation=(X_eval, y_eval) if X_eval is not None else None,
        )
        directory = artifact_dir(run)
        save_model(model, directory)
        outcome.artifact_path = str(directory)
        if X_eval is not None:
            outcome.metrics = _evaluate(model, X_eval, y_eval, classes)
            outcome.metrics["curve"] = _learning_curve(
                project, run, serving, outcome.metrics, X_eval, y_eval, classes,
                remeasure=scan is None,
            )  # fmt: skip
            outcome.metrics["versus_random"] = versus_random_metrics(
                project=project,
                run=run,
                feature_set_id=serving.pk,
                model=model,
                model_name=model_name,
                X_eval=X_eval,
                y_eval=y_eval,
                n_labels=len(train_rows),
                accuracy=outcome.metrics["accuracy"],
                curve=outcome.metrics["curve"],
            )
        if scan is not None:
            scan_artifacts_save(directory, pool, features.item_ids, scan[0], model, scan[1])
            outcome.metrics["scan_pooling"] = scan[0].pooling_
        outcome.metrics["n_evaluation"] = int(len(eval_rows))
        names, counts = np.unique(y_train, return_counts=True)
        outcome.metrics["training_labels"] = {
            str(name): int(count) for name, count in zip(names, counts, strict=True)
        }
        outcome.metrics["representation"] = serving.representation
        supervised = getattr(model, "supervised_", model)
        if hasattr(supervised, "evidence_"):
            # The model AutoML chose and the cross-validated scores it chose by.
            outcome.metrics["model_choice"] = supervised.evidence_
        if hasattr(model, "semi_supervised_"):
            # Whether the unlabeled pool was used, and the comparison that decided it.
            outcome.metrics["semi_supervised"] = model.semi_supervised_
        outcome.metrics["feature_version"] = serving.version
        _stop_signal(project, run, model, pool, directory, outcome.metrics)
    outcome.train_seconds = time.perf_counter() - started

    started = time.perf_counter()
    # The pool as a boolean mask over rows: a million items cost a megabyte, never a Python
    # set of a million ints. Every row belongs to an item of the project (items are never
    # deleted but with it; the queue's round_replace keeps only picks still unlabeled all the same).
    allowed = np.ones(len(pool), dtype=bool)
    ineligible_rows = features.rows_of(ineligible_ids(project, held_item_ids))
    allowed[ineligible_rows[ineligible_rows >= 0]] = False
    exclude = np.flatnonzero(~allowed)
    if n_choose > 0 and allowed.any() and model is None:
        # No model yet: what the simulator labels first too.
        result = initial_choice(project.strategy, pool, n_choose, rng=rng, exclude=exclude)
        positions, scores = result.positions, result.scores
    elif n_choose > 0 and allowed.any():
        strategy = get_strategy(project.strategy, **strategy_params(project, features))
        result = strategy.query(
            model, pool, n_choose, rng=rng, X_labeled=X_train, y_labeled=y_train, exclude=exclude
        )
        positions, scores = result.positions, result.scores
    else:
        positions = np.empty(0, dtype=np.int64)
    # The ranking goes on past the spares in the same pass: its order is theirs, so the spares
    # are the same whatever its depth.
    if model is None or project.strategy == "random":
        n_ranked = 0
    if n_spare + n_ranked > 0 and len(positions) and allowed.sum() > len(positions):
        spare, spare_scores = _spares(
            project, model, pool, np.union1d(exclude, positions), n_spare + n_ranked, rng
        )
        outcome.ranking = [int(pk) for pk in features.item_ids[spare[n_spare:]]]
        spare, spare_scores = spare[:n_spare], spare_scores[:n_spare]
        positions = np.concatenate([positions, spare])
        scores = np.concatenate([np.asarray(scores, dtype=np.float64), spare_scores])
    if len(positions):
        guesses: list[tuple[str | None, float | None]] = [(None, None)] * len(positions)
        if model is not None and len(positions):
            proba = model.predict_proba(take_rows(pool, positions))
            best = proba.argmax(axis=1)
            guesses = [(str(model.classes_[b]), float(proba[i, b])) for i, b in enumerate(best)]
        item_ids = features.item_ids[positions]
        outcome.picks = [
            Pick(int(pk), float(s), guess, confidence)
            for pk, s, (guess, confidence) in zip(item_ids, scores, guesses, strict=True)
        ]
    outcome.query_seconds = time.perf_counter() - started
    return outcome


def predict_proba_items(
    *, run: ModelRun, item_ids: list[int]
) -> tuple[list[int], list[str], np.ndarray]:
    """The run's class probabilities for the items that have a row in the features it was
    trained on: (those item ids, the classes in column order, ``(n, n_classes)``)."""
    if not run.artifact_path or not item_ids or run.feature_set_id is None:
        return [], [], np.empty((0, 0))
    from learning.models import load_model
    from learning.pool import take_rows

    feature_set = FeatureSet.objects.filter(pk=run.feature_set_id).first()
    features = feature_rows_open(feature_set) if feature_set is not None else None
    if features is None:
        return [], [], np.empty((0, 0))
    pooled = run_pool(run.artifact_path)
    if pooled is not None:
        # A scan project's run reads the pooled rows it trained on, not the item rows.
        features = FeatureRows(feature_set, pooled[0], pooled[1])
    rows = features.rows_of(item_ids)
    known = [(pk, row) for pk, row in zip(item_ids, rows, strict=True) if row >= 0]
    if not known:
        return [], [], np.empty((0, 0))
    model = load_model(run.artifact_path)
    proba = model.predict_proba(take_rows(features.pool, np.array([r for _, r in known])))
    return [pk for pk, _ in known], [str(c) for c in model.classes_], proba


def predict_items(*, run: ModelRun, item_ids: list[int]) -> dict[int, tuple[str, float]]:
    """The run's guess and confidence for some items (used for evaluation entries), on the
    features the run was trained on."""
    known, classes, proba = predict_proba_items(run=run, item_ids=item_ids)
    best = proba.argmax(axis=1) if len(known) else []
    return {
        pk: (classes[b], float(proba[i, b]))
        for i, (pk, b) in enumerate(zip(known, best, strict=True))
    }
