"""The only module that imports ``learning``: querysets become arrays, pool positions become
item ids.

Features are computed once per item and cached as float32 ``.npy`` shards under
``TWEEZERS_EMBEDDING_DIR/project_<id>/<features>/``; ``Item.embedding_row`` is the item's row.
Scoring streams the shards, so the web process never holds the pool in memory.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from labeler.models import Item, ModelRun, Project, QueueEntry

logger = logging.getLogger(__name__)

SHARD_ROWS = 50_000
EMBED_BATCH = 512
STOP_SET_SIZE = 2000
MAX_NATIVE_IMAGE_SIDE = 32
CURVE_RUNS = 50

ProgressCallback = Callable[[int, int], None]


def strategy_names() -> list[str]:
    """The query strategies a project may use (the engine's registry)."""
    from learning.strategies import strategy_names as registered

    return [name for name in registered() if name != "cold_start"]


# Representations fitted on the whole pool: every row is recomputed when items arrive, and a
# model trained on an earlier fit is not comparable with the new rows.
CORPUS_FEATURES = {"tfidf", "spectral"}
# The spectral embedding builds an exact kNN graph of the pool: beyond this, plain pixels.
SPECTRAL_MAX_ITEMS = 50_000


def feature_name(project: Project) -> str:
    if project.features != "auto":
        return project.features
    if project.kind == Project.Kind.TEXT:
        return "minilm"
    if settings.TWEEZERS_IMAGE_BACKBONE_WEIGHTS:
        return "backbone"
    # Measured on digits (docs/benchmarks.md): logistic regression on the pool's spectral
    # embedding reaches 95% of full accuracy with 20 labels, against 160 on raw pixels.
    return "spectral" if project.n_items <= SPECTRAL_MAX_ITEMS else "pixels"


def features_fix(project: Project) -> str:
    """Resolve "auto" once, on the first features: a project keeps its representation (its
    shards and models depend on it) even when the pool later grows."""
    name = feature_name(project)
    if project.features == "auto":
        Project.objects.filter(pk=project.pk, features="auto").update(features=name)
        project.features = name
    return name


def feature_dir(project: Project) -> Path:
    return Path(settings.TWEEZERS_EMBEDDING_DIR) / f"project_{project.pk}" / feature_name(project)


def artifact_dir(run: ModelRun) -> Path:
    return Path(settings.TWEEZERS_ARTIFACT_DIR) / f"project_{run.project_id}" / f"run_{run.pk}"


def _shard_path(directory: Path, index: int) -> Path:
    return directory / f"shard_{index:05d}.npy"


def _shard_paths(directory: Path, n_rows: int) -> list[Path]:
    return [_shard_path(directory, i) for i in range((n_rows + SHARD_ROWS - 1) // SHARD_ROWS)]


def _write_rows(directory: Path, start_row: int, rows: np.ndarray) -> None:
    """Write ``rows`` at ``start_row``, overwriting anything from there on. Writing by position
    (not appending) makes a retried embedding job idempotent."""
    from learning.features import write_shard

    directory.mkdir(parents=True, exist_ok=True)
    position = 0
    while position < len(rows):
        row = start_row + position
        index, offset = divmod(row, SHARD_ROWS)
        path = _shard_path(directory, index)
        kept = np.load(path)[:offset] if offset and path.exists() else np.empty((0, rows.shape[1]))
        if len(kept) != offset:
            raise RuntimeError(f"{path} has {len(kept)} rows, expected {offset}")
        take = min(SHARD_ROWS - offset, len(rows) - position)
        block = np.concatenate([kept.astype(np.float32), rows[position : position + take]])
        write_shard(path, block.astype(np.float32))
        position += take


class _Featurizer:
    """Turns items into float32 rows for one project's representation."""

    def __init__(self, project: Project, spec: dict) -> None:
        self.project = project
        self.spec = spec
        self.name = spec["features"]
        self._embedder = None

    def transform(self, items: list[Item]) -> np.ndarray:
        if self.name == "minilm":
            if self._embedder is None:
                from learning.features import MiniLMEmbedder

                self._embedder = MiniLMEmbedder()
            return np.asarray(self._embedder.transform([i.text for i in items]), np.float32)
        if self.name == "pixels":
            from learning.features import image_pixels

            size = tuple(self.spec["image_size"])
            return np.stack([image_pixels(i.file.path, size=size) for i in items]).astype(
                np.float32
            )
        if self.name == "backbone":
            if self._embedder is None:
                from learning.features import ImageBackboneEmbedder

                self._embedder = ImageBackboneEmbedder(settings.TWEEZERS_IMAGE_BACKBONE_WEIGHTS)
            return np.asarray(self._embedder.transform([i.file.path for i in items]), np.float32)
        raise ValueError(f"unknown features {self.name!r}")


def _spec(project: Project, directory: Path) -> dict:
    spec_path = directory / "spec.json"
    if spec_path.exists():
        return json.loads(spec_path.read_text())
    spec: dict = {"features": feature_name(project), "version": 0}
    if spec["features"] in ("pixels", "spectral"):
        first = Item.objects.filter(project=project).exclude(file="").order_by("id").first()
        width, height = (first.metadata.get("width", 32), first.metadata.get("height", 32))
        scale = min(1.0, MAX_NATIVE_IMAGE_SIDE / max(width, height))
        spec["image_size"] = [max(1, round(height * scale)), max(1, round(width * scale))]
    directory.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps(spec))
    return spec


def features_update(project: Project, *, progress: ProgressCallback | None = None) -> int:
    """Compute features for the items that have none yet; returns how many were computed."""
    if features_fix(project) in CORPUS_FEATURES:
        return _corpus_refresh(project)
    directory = feature_dir(project)
    spec = _spec(project, directory)
    pending = Item.objects.filter(project=project, embedding_row__isnull=True).order_by("id")
    total = pending.count()
    if not total:
        return 0
    featurizer = _Featurizer(project, spec)
    done = 0
    while True:
        batch = list(pending[:EMBED_BATCH])
        if not batch:
            break
        last = Item.objects.filter(project=project).aggregate(m=Max("embedding_row"))["m"]
        start_row = 0 if last is None else last + 1
        rows = featurizer.transform(batch)
        _write_rows(directory, start_row, rows)
        for offset, item in enumerate(batch):
            item.embedding_row = start_row + offset
        with transaction.atomic():
            Item.objects.bulk_update(batch, ["embedding_row"], batch_size=1000)
        done += len(batch)
        if progress:
            progress(done, total)
    return done


def features_seed(project: Project, rows_by_item: dict[int, np.ndarray]) -> int:
    """Store features computed elsewhere (e.g. the demo's shipped MiniLM cache) for items
    that have none yet, exactly as :func:`features_update` would. Returns how many."""
    directory = feature_dir(project)
    _spec(project, directory)
    pending = list(
        Item.objects.filter(
            project=project, embedding_row__isnull=True, pk__in=list(rows_by_item)
        ).order_by("id")
    )
    if not pending:
        return 0
    last = Item.objects.filter(project=project).aggregate(m=Max("embedding_row"))["m"]
    start_row = 0 if last is None else last + 1
    _write_rows(
        directory, start_row, np.stack([rows_by_item[i.pk] for i in pending]).astype(np.float32)
    )
    for offset, item in enumerate(pending):
        item.embedding_row = start_row + offset
    with transaction.atomic():
        Item.objects.bulk_update(pending, ["embedding_row"], batch_size=1000)
    return len(pending)


def _corpus_refresh(project: Project) -> int:
    """TF-IDF and the spectral embedding depend on the whole pool: refit and rewrite every row
    when items arrive, and bump the features' version."""
    if not Item.objects.filter(project=project, embedding_row__isnull=True).exists():
        return 0
    directory = feature_dir(project)
    spec = _spec(project, directory)
    items = list(Item.objects.filter(project=project).order_by("id"))
    if spec["features"] == "tfidf":
        from learning.features import TfidfSvdFeaturizer

        featurizer = TfidfSvdFeaturizer(random_state=project.random_seed)
        rows = featurizer.fit_transform([item.text for item in items])
    else:
        from learning.features import SpectralFeaturizer

        pixels = _Featurizer(project, {**spec, "features": "pixels"}).transform(items)
        rows = SpectralFeaturizer(random_state=project.random_seed).fit_transform(pixels)
    for path in directory.glob("shard_*.npy"):
        path.unlink()
    _write_rows(directory, 0, np.asarray(rows, dtype=np.float32))
    with transaction.atomic():
        Item.objects.bulk_update(
            [Item(pk=item.pk, embedding_row=row) for row, item in enumerate(items)],
            ["embedding_row"],
            batch_size=1000,
        )
    spec["version"] = spec.get("version", 0) + 1
    (directory / "spec.json").write_text(json.dumps(spec))
    return len(items)


def features_version(project: Project) -> int:
    """Changes whenever the rows were refitted; models of another version are not comparable."""
    spec_path = feature_dir(project) / "spec.json"
    return json.loads(spec_path.read_text()).get("version", 0) if spec_path.exists() else 0


def pool_matrix(project: Project):
    """The project's feature rows as a lazily read ``(n_rows, d)`` pool."""
    from learning.features import open_shards

    last = Item.objects.filter(project=project).aggregate(m=Max("embedding_row"))["m"]
    if last is None:
        return np.empty((0, 1), dtype=np.float32)
    return open_shards(_shard_paths(feature_dir(project), last + 1))


def _row_array(rows_queryset) -> np.ndarray:
    rows = rows_queryset.iterator(chunk_size=50_000)
    return np.fromiter((r for r in rows if r is not None), dtype=np.int64)


def _rows_and_labels(queryset) -> tuple[np.ndarray, np.ndarray]:
    pairs = list(
        queryset.filter(embedding_row__isnull=False, label__isnull=False)
        .order_by("embedding_row")
        .values_list("embedding_row", "label__name")
    )
    rows = np.array([row for row, _ in pairs], dtype=np.int64)
    labels = np.array([name for _, name in pairs], dtype=object)
    return rows, labels


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
    metrics: dict = field(default_factory=dict)
    artifact_path: str = ""
    picks: list[Pick] = field(default_factory=list)
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
    project: Project, run: ModelRun, metrics: dict, X_eval: np.ndarray, y_eval: np.ndarray, classes
) -> list[dict]:
    """Every recent run re-measured on today's evaluation set, so the points compare like with
    like (the set grows as evaluation labels come in). ``metrics`` are this run's, already
    measured on that set."""
    from learning.models import load_model

    previous = (
        ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED)
        .exclude(artifact_path="")
        .order_by("-created_at")[: CURVE_RUNS - 1]
    )
    version = features_version(project)
    points = []
    for past in reversed(list(previous)):
        if past.metrics.get("features_version", 0) != version:
            # Trained on an earlier fit of the pool's features: its own metrics stand.
            continue
        try:
            past_model = load_model(past.artifact_path)
        except (OSError, ValueError):
            continue
        past_metrics = _evaluate(past_model, X_eval, y_eval, classes)
        points.append(_curve_point(past.pk, past.n_labels, past_metrics))
    points.append(_curve_point(run.pk, None, metrics))
    return points


def _stop_rows(project: Project, n_rows: int) -> np.ndarray:
    # A fixed sample of the pool, the same for every run of the project, on which successive
    # models' predictions are compared (stabilising predictions).
    rng = np.random.default_rng([project.random_seed, project.pk, 7])
    size = min(STOP_SET_SIZE, n_rows)
    return np.sort(rng.choice(n_rows, size=size, replace=False)) if size else np.empty(0, int)


def _stop_signal(project: Project, run: ModelRun, model, pool, directory: Path, metrics: dict):
    from learning.pool import take_rows
    from learning.stopping import cohens_kappa, stopping_signal

    rows = _stop_rows(project, len(pool))
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


def train_and_choose(*, project: Project, run: ModelRun, n_choose: int) -> RunOutcome:
    """Train on the labeled strategy items, measure on the evaluation set, and choose the next
    ``n_choose`` items from the unlabeled pool with the project's strategy."""
    from learning.models import default_model_name, make_model, save_model
    from learning.pool import take_rows
    from learning.strategies import get_strategy

    pool = pool_matrix(project)
    classes = list(project.classes.values_list("name", flat=True))
    model_name = default_model_name(project.kind, feature_name(project))
    rng = np.random.default_rng([project.random_seed, project.pk, run.pk])
    items = Item.objects.filter(project=project)

    train_rows, y_train = _rows_and_labels(items.filter(is_evaluation=False))
    eval_rows, y_eval = _rows_and_labels(items.filter(is_evaluation=True))
    outcome = RunOutcome(model_name=model_name, n_labels=len(train_rows))

    model = None
    started = time.perf_counter()
    X_train = take_rows(pool, train_rows) if len(train_rows) else None
    if len(set(y_train)) >= 2:
        model = make_model(model_name, random_state=project.random_seed).fit(X_train, y_train)
        directory = artifact_dir(run)
        save_model(model, directory)
        outcome.artifact_path = str(directory)
        if len(eval_rows):
            X_eval = take_rows(pool, eval_rows)
            outcome.metrics = _evaluate(model, X_eval, y_eval, classes)
            outcome.metrics["curve"] = _learning_curve(
                project, run, outcome.metrics, X_eval, y_eval, classes
            )
        outcome.metrics["n_evaluation"] = int(len(eval_rows))
        outcome.metrics["features_version"] = features_version(project)
        _stop_signal(project, run, model, pool, directory, outcome.metrics)
    outcome.train_seconds = time.perf_counter() - started

    started = time.perf_counter()
    # The pool as a boolean mask over shard rows, built from streamed ids: a million items
    # cost a few megabytes, never a Python set of a million ints.
    eligible = items.filter(
        status=Item.Status.UNLABELED, is_evaluation=False, embedding_row__isnull=False
    ).exclude(skips__isnull=False)
    held = QueueEntry.objects.filter(
        project=project, done=False, leased_by__isnull=False
    ).values_list("item__embedding_row", flat=True)
    allowed = np.zeros(len(pool), dtype=bool)
    allowed[_row_array(eligible.values_list("embedding_row", flat=True))] = True
    allowed[_row_array(held)] = False
    exclude = np.flatnonzero(~allowed)
    if n_choose > 0 and allowed.any():
        strategy = get_strategy(project.strategy)
        result = strategy.query(
            model, pool, n_choose, rng=rng, X_labeled=X_train, y_labeled=y_train, exclude=exclude
        )
        positions, scores = result.positions, result.scores
        guesses: list[tuple[str | None, float | None]] = [(None, None)] * len(positions)
        if model is not None and len(positions):
            proba = model.predict_proba(take_rows(pool, positions))
            best = proba.argmax(axis=1)
            guesses = [(str(model.classes_[b]), float(proba[i, b])) for i, b in enumerate(best)]
        row_to_item = dict(
            items.filter(embedding_row__in=positions.tolist()).values_list("embedding_row", "id")
        )
        outcome.picks = [
            Pick(row_to_item[int(p)], float(s), guess, confidence)
            for p, s, (guess, confidence) in zip(positions, scores, guesses, strict=True)
        ]
    outcome.query_seconds = time.perf_counter() - started
    return outcome


def predict_items(*, run: ModelRun, item_ids: list[int]) -> dict[int, tuple[str, float]]:
    """The run's guess and confidence for some items (used for evaluation entries)."""
    from learning.models import load_model
    from learning.pool import take_rows

    if not run.artifact_path or not item_ids:
        return {}
    model = load_model(run.artifact_path)
    pairs = list(
        Item.objects.filter(pk__in=item_ids, embedding_row__isnull=False).values_list(
            "id", "embedding_row"
        )
    )
    if not pairs:
        return {}
    pool = pool_matrix(run.project)
    proba = model.predict_proba(take_rows(pool, np.array([r for _, r in pairs], dtype=np.int64)))
    best = proba.argmax(axis=1)
    return {
        pk: (str(model.classes_[b]), float(proba[i, b]))
        for i, ((pk, _), b) in enumerate(zip(pairs, best, strict=True))
    }


MIN_SHARED_ITEMS = 5


def agreement_figures(
    answers: dict[int, list[tuple[str, str]]], resolved: dict[int, str], overlap: int
) -> dict:
    """Agreement from each item's current answers ``{item: [(annotator, label), ...]}``.

    Returns Fleiss' kappa over the items with ``overlap`` answers, Cohen's kappa for each pair
    of annotators sharing at least ``MIN_SHARED_ITEMS`` items, and each annotator's rate of
    agreement with the resolved (consensus or adjudicated) label."""
    from learning.agreement import cohens_kappa, fleiss_kappa, rating_counts

    full = [labels for labels in answers.values() if len(labels) == overlap]
    classes = sorted({label for labels in answers.values() for _, label in labels})
    fleiss = None
    if overlap >= 2 and len(full) >= 2:
        fleiss = fleiss_kappa(rating_counts([[lab for _, lab in row] for row in full], classes))

    by_annotator: dict[str, dict[int, str]] = {}
    for item_id, labels in answers.items():
        for annotator, label in labels:
            by_annotator.setdefault(annotator, {})[item_id] = label
    pairs = []
    names = sorted(by_annotator)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = sorted(set(by_annotator[first]) & set(by_annotator[second]))
            if len(shared) >= MIN_SHARED_ITEMS:
                a = [by_annotator[first][item] for item in shared]
                b = [by_annotator[second][item] for item in shared]
                pairs.append(
                    {
                        "annotators": [first, second],
                        "items": len(shared),
                        "cohen_kappa": cohens_kappa(a, b),
                    }
                )
    versus_consensus = []
    for name in names:
        judged = [item for item in by_annotator[name] if item in resolved]
        if judged:
            agree = sum(by_annotator[name][item] == resolved[item] for item in judged)
            versus_consensus.append(
                {"annotator": name, "items": len(judged), "agreement": agree / len(judged)}
            )
    return {"fleiss_kappa": fleiss, "pairs": pairs, "versus_consensus": versus_consensus}
