"""Label-efficiency benchmark: Tweezers' strategies and models against modAL and
scikit-activeml with the same base learner, on scikit-learn's bundled data and the demo corpus.

Protocol (issue 3): a fixed stratified 25% test split, 20 initial labels (a seeded random set
shared by every runner of a seed unless the runner picks its own by cold start), batches of
10, a budget of 500, several seeds. For each runner: the labels its mean learning curve needs
to reach 95% and 99% of the accuracy of the same learner trained on the whole pool, the
normalised area under the learning curve (AULC), and the AULC gain over random with the same
learner (paired over seeds, ± standard error).

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/label_efficiency.py --datasets digits --seeds 5 --write-docs

Results land in bench/output/label_efficiency.json and, with --write-docs, under the
"## Label efficiency" heading of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from learning.simulate import (  # noqa: E402
    SimulationSetup,
    labels_to_reach,
    normalised_aulc,
    run_curve,
)


@dataclass(frozen=True)
class Runner:
    label: str
    library: str  # "tweezers", "modAL" or "scikit-activeml"
    strategy: str
    model: str = "logreg_fixed"
    cold_start_initial: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    features: str = "raw"
    pool_scaling: bool = True
    semi_supervised: str = "off"
    gate_evaluation: int = 0


PARITY = [
    Runner("random", "tweezers", "random"),
    Runner("margin", "tweezers", "margin"),
    Runner("entropy", "tweezers", "entropy"),
    Runner("qbc", "tweezers", "qbc"),
    Runner("default (strategy only)", "tweezers", "default"),
    Runner("modAL margin", "modAL", "margin"),
    Runner("modAL entropy", "modAL", "entropy"),
    Runner("scikit-activeml margin", "scikit-activeml", "margin_sampling"),
    Runner("scikit-activeml entropy", "scikit-activeml", "entropy"),
]


STRATEGY_VARIANTS = {
    # Candidates for the default measured side by side with it (issue 10).
    "default_centroid": {"pick": "centroid"},
    "default_centroid_wide": {"pick": "centroid", "candidate_factor": 30},
    "default_centroid_pool": {"pick": "centroid", "candidate_factor": 1000},
    "default_centroid_pool_no_random": {
        "pick": "centroid",
        "candidate_factor": 1000,
        "random_share": 0.0,
    },
    # Issue 20: the previous default (centroid pick over up to 10,000 candidates: the whole of
    # any smaller pool) and candidate shares of the pool, picking by uncertainty or centroid.
    "default_i10": {"pick": "centroid", "candidate_factor": 1000, "candidate_share": None},
    **{
        f"share{int(share * 100)}_{pick}": {
            "pick": pick,
            "candidate_factor": 5,
            "candidate_share": share,
            "random_share": 0.0,
        }
        for share in (0.1, 0.2)
        for pick in ("most_uncertain", "centroid")
    },
}


def _register_variants() -> None:
    """Name the variants in the strategy registry of this (worker) process."""
    from learning.strategies import STRATEGIES, _default

    for name, params in STRATEGY_VARIANTS.items():
        STRATEGIES.setdefault(name, functools.partial(_default, **params))


TEXT = [
    Runner("random", "tweezers", "random"),
    Runner("margin", "tweezers", "margin"),
    Runner("default (strategy only)", "tweezers", "default"),
    Runner("default, centroid pick", "tweezers", "default_centroid"),
    Runner("default, centroid pick, 30·k candidates", "tweezers", "default_centroid_wide"),
    Runner("scikit-activeml margin", "scikit-activeml", "margin_sampling"),
    *[
        Runner(f"scikit-activeml {name}", "scikit-activeml", name)
        for name in ("clue", "badge", "falcun", "coreset", "typiclust")
    ],
]
"""Batch strategies against the default on sentence embeddings (issue 10): scikit-activeml's
CLUE, BADGE, FALCUN, Core-Set and TypiClust, each with the libraries' learner."""

TEXT_CANDIDATES = [
    *[r for r in TEXT if r.strategy in {"random", "default", "clue", "typiclust"}],
    Runner("default, centroid pick, whole pool", "tweezers", "default_centroid_pool"),
    Runner(
        "default, centroid pick, whole pool, no random share",
        "tweezers",
        "default_centroid_pool_no_random",
    ),
]


I20_CHOICE = [
    Runner("random", "tweezers", "random", "logreg"),
    Runner("margin", "tweezers", "margin", "logreg"),
    Runner("default i10", "tweezers", "default_i10", "logreg"),
    Runner("default i10, scaler on labels", "tweezers", "default_i10", "logreg",
           pool_scaling=False),
    *[
        Runner(f"default {name}", "tweezers", name, "logreg")
        for name in STRATEGY_VARIANTS
        if name.startswith("share") and name != "share20_centroid"
    ],
]  # fmt: skip
"""Issue 20, item 1: candidate shares and picks, and the pool scaler, against random and
margin, all with the app's model (cross-validated logistic regression) on raw features."""

# The search's time budget is lifted so that a loaded machine does not change the curves.
AUTOML = {"time_budget": 1e9}
I20_MODEL = [
    Runner("random", "tweezers", "random", "logreg"),
    Runner("random + AutoML", "tweezers", "random", "auto", params=AUTOML),
    Runner("default pipeline on raw", "tweezers", "default", "logreg", True, {}, "raw"),
    Runner("default pipeline on raw + AutoML", "tweezers", "default", "auto", True, AUTOML,
           "raw"),
]  # fmt: skip
"""Issue 20, item 3: AutoML against the fixed model, with random labels and with the default
strategy."""

I20_MODEL_DEFAULT = [
    Runner("random", "tweezers", "random", "logreg", features="auto"),
    Runner("default pipeline", "tweezers", "default", "logreg", True, {}, "auto"),
    Runner("default pipeline + AutoML", "tweezers", "default", "auto", True, AUTOML, "auto"),
]
"""Issue 20, item 3 (s8-semisup): AutoML against the fixed model on what a new project
serves (the "auto" representation, cold start, the default strategy)."""

I20_SEMI = [
    Runner("random", "tweezers", "random", "logreg", features="auto"),
    Runner("random + pool (on)", "tweezers", "random", "logreg", features="auto",
           semi_supervised="on"),
    Runner("default pipeline", "tweezers", "default", "logreg", True, {}, "auto"),
    Runner("default pipeline + pool (on)", "tweezers", "default", "logreg", True, {}, "auto",
           semi_supervised="on"),
    Runner("default pipeline + pool (gated)", "tweezers", "default", "logreg", True, {}, "auto",
           semi_supervised="auto"),
]  # fmt: skip

I20_SEMI_EVALUATION = [
    Runner("default pipeline + pool (gated on 50 evaluation answers)", "tweezers", "default",
           "logreg", True, {}, "auto", semi_supervised="auto", gate_evaluation=50),
]  # fmt: skip
"""The gate as the app runs it: on a random evaluation set of 50 pool items (answered outside
the budget, never trained on), not by cross-validation on the actively chosen labels."""
"""Issue 20, item 4 (s8-semisup): label spreading over the unlabeled pool, always and gated
by cross-validation on the labels, against the supervised model, same seeds and sets."""

I20_FINAL = [
    Runner("random", "tweezers", "random", "logreg"),
    Runner("default pipeline", "tweezers", "default", "logreg", True, {}, "auto"),
    Runner("default pipeline by evidence", "tweezers", "default", "logreg", True, {}, "switch"),
]
"""Issue 20's done-when: the app's default pipeline ("auto" representation, cold start,
default strategy and model) against random and the libraries."""

LIBRARIES = [
    Runner("modAL margin", "modAL", "margin"),
    Runner("scikit-activeml margin", "scikit-activeml", "margin_sampling"),
    Runner("scikit-activeml clue", "scikit-activeml", "clue"),
    Runner("scikit-activeml typiclust", "scikit-activeml", "typiclust"),
    Runner("small-text breaking ties", "small-text", "breaking_ties"),
    Runner("small-text embedding k-means", "small-text", "embedding_kmeans"),
]
"""The libraries' strategies, run in their own environment (``--libraries-python``) on the
features and splits this process wrote."""

# The three libraries' margin sampling gave identical curves in every earlier table: one stands
# for them; the batch strategies are each their own.
LIBRARIES_FINAL = [
    r for r in LIBRARIES if r.label not in {"scikit-activeml margin", "small-text breaking ties"}
]

CORE = [r for r in PARITY if r.label in {"random", "margin", "default (strategy only)",
                                         "modAL margin", "scikit-activeml margin"}]  # fmt: skip


def pipelines(dataset: str) -> list[Runner]:
    """The default pipeline (cold-start initial labels + default strategy) with candidate
    models and representations, each next to random sampling with the same ones."""
    choices = [("logreg", "raw"), ("logreg", "spectral")]
    if dataset == "digits":
        choices.insert(1, ("kernel_logreg", "raw"))
    runners = []
    for model, features in choices:
        name = model if features == "raw" else f"{model} on {features}"
        runners.append(Runner(f"random + {name}", "tweezers", "random", model, features=features))
        runners.append(
            Runner(f"default pipeline + {name}", "tweezers", "default", model, True, {}, features)
        )
    return runners


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    if name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
    elif name == "breast_cancer":
        X, y = datasets.load_breast_cancer(return_X_y=True)
    elif name == "wine":
        X, y = datasets.load_wine(return_X_y=True)
    elif name == "digits_tripled":
        # Every item three times: top-k uncertainty then asks near-duplicates.
        X, y = datasets.load_digits(return_X_y=True)
        X, y = np.repeat(X, 3, axis=0), np.repeat(y, 3)
    elif name == "digits_noisy":
        # 30% of the labels replaced by random ones: uncertainty chases noise.
        X, y = datasets.load_digits(return_X_y=True)
        rng = np.random.default_rng(0)
        flip = rng.random(len(y)) < 0.3
        y = y.copy()
        y[flip] = rng.integers(0, 10, size=int(flip.sum()))
    elif name == "demo_text_minilm":
        import csv

        with open(ROOT / "demo_data" / "debian_packages.csv", newline="", encoding="utf-8") as f:
            labels = [row["label"] for row in csv.DictReader(f)]
        X = np.load(ROOT / "demo_data" / "debian_packages.minilm.npy").astype(np.float32)
        y = np.unique(labels, return_inverse=True)[1]
    elif name == "fortunes_minilm":
        sys.path.insert(0, str(ROOT / "bench"))
        from fortunes_corpus import fortunes_minilm

        X, y = fortunes_minilm()
    else:
        raise SystemExit(f"unknown dataset {name}")
    return X.astype(np.float32), np.asarray(y)


PRESPLIT = ("digits70k", "digits70k@10k", "shapes_clutter", "digits_clutter")
"""Image sets built with their own pool/test split (no test image has a sibling in the pool)."""
IMAGE_SETS = ("digits", "digits_tripled", "digits_noisy", *PRESPLIT)
FEATURE_CACHE = ROOT / "bench" / "output" / "label_efficiency_features"


def presplit(dataset: str) -> tuple[np.ndarray, ...]:
    """``(X_pool, y_pool, X_test, y_test)`` of the sets built with their own split."""
    sys.path.insert(0, str(ROOT / "bench"))
    if dataset.startswith("digits70k"):
        from image_representations import load_pool

        return load_pool(dataset)
    import hard_images

    return getattr(hard_images, dataset)()


def split_features(dataset: str, features: str) -> tuple[np.ndarray, ...]:
    """``(X_train, X_test, y_train, y_test)`` of ``dataset`` as ``features``, cached on disk
    (the library runners, in their own environment, read the same file: same splits)."""
    path = FEATURE_CACHE / f"{dataset}-{features}.npz"
    if path.exists():
        with np.load(path) as saved:
            return tuple(saved[key] for key in ("X_train", "X_test", "y_train", "y_test"))
    if dataset in PRESPLIT:
        X_pool, y_pool, X_test, y_test = presplit(dataset)
        rows = represent(np.concatenate([X_pool, X_test]), dataset, features)
        parts = (rows[: len(y_pool)], rows[len(y_pool) :], y_pool, y_test)
    else:
        X, y = load_dataset(dataset)
        parts = tuple(_split(represent(X, dataset, features), y, dataset))
    FEATURE_CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, X_train=parts[0], X_test=parts[1], y_train=parts[2], y_test=parts[3])
    partial.rename(path)
    return tuple(np.asarray(p) for p in parts)


@functools.cache
def prepared(dataset: str, features: str) -> tuple[np.ndarray, ...]:
    """``(X_train, X_test, y_train, y_test)``, read once per worker process."""
    return split_features(dataset, features)


def auto_features(dataset: str, n_pool: int) -> str:
    """What a new project's "auto" resolves to for this set: the registry's choice for an
    image pool of ``n_pool`` items; text sets are already sentence embeddings."""
    if dataset not in IMAGE_SETS:
        return "raw"
    from learning.representations import auto_representation

    return auto_representation("image", n_pool).name


def represent(X: np.ndarray, dataset: str, features: str) -> np.ndarray:
    """``raw`` features, or a representation of every item fitted without labels: the exact
    or landmark spectral embedding."""
    if features == "raw":
        return X
    tabular = dataset in {"breast_cancer", "wine"}
    if features == "landmark_spectral":
        from learning.spectral import LandmarkSpectralFeaturizer

        return LandmarkSpectralFeaturizer(random_state=0).fit_transform(X)
    if features != "spectral":
        raise SystemExit(f"unknown features {features}")
    from learning.features import SpectralFeaturizer

    return SpectralFeaturizer(standardize=tabular, random_state=0).fit_transform(X)


def _split(X: np.ndarray, y: np.ndarray, dataset: str) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split

    if dataset == "digits_tripled":
        # Split the distinct items, so no test item has a copy in the pool.
        distinct = np.arange(len(y) // 3)
        train, test = train_test_split(distinct, test_size=0.25, stratify=y[::3], random_state=0)
        train = (train[:, None] * 3 + np.arange(3)).reshape(-1)
        return X[train], X[test * 3], y[train], y[test * 3]
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def _library_learner(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    )


SKACTIVEML_BATCH = {
    # name: (class in skactiveml.pool, whether its query takes the classifier)
    "clue": ("Clue", True),
    "badge": ("Badge", True),
    "falcun": ("Falcun", True),
    "coreset": ("CoreSet", False),
    "typiclust": ("TypiClust", False),
    "probcover": ("ProbCover", False),
}


def skactiveml_strategy(name: str, random_state: int) -> tuple[Any, bool]:
    """A scikit-activeml query strategy by name and whether ``query`` takes the classifier:
    its uncertainty measures (``margin_sampling``, ``entropy``, ``least_confident``) or one
    of its batch strategies in :data:`SKACTIVEML_BATCH`."""
    from skactiveml import pool

    if name in SKACTIVEML_BATCH:
        class_name, needs_model = SKACTIVEML_BATCH[name]
        return getattr(pool, class_name)(random_state=random_state), needs_model
    return pool.UncertaintySampling(method=name, random_state=random_state), True


def small_text_query(name, learner, X, y, labeled, unlabeled, n) -> np.ndarray:
    """small-text's breaking ties (margin) or embedding k-means, on the pool's features."""
    from small_text import SklearnClassifier, SklearnDataset
    from small_text.query_strategies import BreakingTies, EmbeddingKMeans

    clf = SklearnClassifier(learner, num_classes=int(y.max()) + 1)
    dataset = SklearnDataset(X, y)
    if name == "breaking_ties":
        return BreakingTies().query(clf, dataset, unlabeled, labeled, y[labeled], n=n)
    subset = np.concatenate([unlabeled, labeled])
    return EmbeddingKMeans().query(
        clf, dataset, unlabeled, labeled, y[labeled], n=n, embeddings=X[subset]
    )


def library_curve(
    runner: Runner, X, y, X_test, y_test, setup: SimulationSetup, seed: int
) -> list[list[float]]:
    """modAL, scikit-activeml or small-text, with standardised logistic regression (C=1) as
    the learner."""
    from sklearn.metrics import accuracy_score, f1_score

    initial_rng = np.random.default_rng([setup.seed, seed, 0])
    labeled = np.sort(initial_rng.choice(len(y), size=setup.initial, replace=False))
    classes = np.unique(y)
    points = []
    query_rng = np.random.default_rng([setup.seed, seed])
    while True:
        learner = _library_learner(seed).fit(X[labeled], y[labeled])
        predicted = learner.predict(X_test)
        points.append(
            [
                int(len(labeled)),
                float(accuracy_score(y_test, predicted)),
                float(
                    f1_score(y_test, predicted, labels=classes, average="macro", zero_division=0)
                ),
            ]
        )
        if len(labeled) >= setup.budget:
            return points
        n = min(setup.batch, setup.budget - len(labeled))
        unlabeled = np.setdiff1d(np.arange(len(y)), labeled)
        if runner.library == "small-text":
            chosen = small_text_query(runner.strategy, learner, X, y, labeled, unlabeled, n)
        elif runner.library == "modAL":
            from modAL.uncertainty import entropy_sampling, margin_sampling

            query = margin_sampling if runner.strategy == "margin" else entropy_sampling
            picked = query(learner, X[unlabeled], n_instances=n)
            picked = picked[0] if isinstance(picked, tuple) else picked
            chosen = unlabeled[np.asarray(picked)]
        else:
            from skactiveml.classifier import SklearnClassifier

            y_missing = np.full(len(y), np.nan)
            y_missing[labeled] = y[labeled]
            clf = SklearnClassifier(_library_learner(seed), classes=classes, random_state=seed)
            strategy, needs_model = skactiveml_strategy(
                runner.strategy, int(query_rng.integers(2**31 - 1))
            )
            if needs_model:
                chosen = strategy.query(X, y_missing, clf, batch_size=n)
            else:
                chosen = strategy.query(X, y_missing, batch_size=n)
        labeled = np.concatenate([labeled, np.asarray(chosen, dtype=np.int64)])


def curve_path(runner: Runner, dataset: str, setup: SimulationSetup, seed: int) -> Path:
    """Where one finished curve is kept, so a run that is stopped resumes where it was."""
    slug = "".join(c if c.isalnum() else "_" for c in runner.label)
    name = f"{dataset}-{slug}-{seed}-{setup.initial}-{setup.batch}-{setup.budget}.json"
    return FEATURE_CACHE / "curves" / name


def one_curve(runner: Runner, dataset: str, setup: SimulationSetup, seed: int) -> list:
    path = curve_path(runner, dataset, setup, seed)
    if path.exists():
        return json.loads(path.read_text())
    curve = compute_curve(runner, dataset, setup, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(curve))
    return curve


def compute_curve(runner: Runner, dataset: str, setup: SimulationSetup, seed: int) -> list:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if runner.features == "switch":
            return switching_curve(runner, dataset, setup, seed)
        X_train, X_test, y_train, y_test = split_features(dataset, runner.features)
        _register_variants()
        if runner.library != "tweezers":
            return library_curve(runner, X_train, y_train, X_test, y_test, setup, seed)
        model_setup = SimulationSetup(
            setup.initial, setup.batch, setup.budget, setup.repeats, setup.seed,
            runner.model, runner.params, pool_scaling=runner.pool_scaling,
            semi_supervised=runner.semi_supervised, gate_evaluation=runner.gate_evaluation,
        )  # fmt: skip
        return run_curve(
            runner.strategy, X_train, y_train, X_test, y_test, model_setup, seed,
            cold_start_initial=runner.cold_start_initial,
        )  # fmt: skip


def switching_candidates(dataset: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The representations "auto" re-decides between, as an "auto" image project keeps them
    (:func:`learning.representations.auto_candidates`): the pool-fitted one a new project
    starts on, then the raw pixels (the registry's ``pixels``, which these sets' rows are).
    ``name -> (X_train, X_test)``. A stack of the two was a candidate in an earlier run and
    is not one any more: on ``digits_clutter`` cross-validation on the actively chosen labels
    switched one seed to it at 480 labels and its accuracy fell from 0.46 to 0.33, and on
    the whole pool it never won (docs/benchmarks.md, "Representations that never cap")."""
    from learning.representations import auto_candidates

    raw = split_features(dataset, "raw")
    names = auto_candidates("image", len(raw[2]))
    candidates = {}
    for name in names:
        rows = raw if name == "pixels" else split_features(dataset, name)
        candidates[name] = (rows[0], rows[1])
    return candidates


def switching_curve(runner: Runner, dataset: str, setup: SimulationSetup, seed: int) -> list:
    from learning.switching import run_switching_curve

    candidates = switching_candidates(dataset)
    _, _, y_train, y_test = split_features(dataset, "raw")
    model_setup = SimulationSetup(
        setup.initial, setup.batch, setup.budget, setup.repeats, setup.seed,
        runner.model, runner.params,
    )  # fmt: skip
    served: list[tuple[int, str]] = []
    points = run_switching_curve(
        runner.strategy, candidates, y_train, y_test, model_setup, seed,
        first=next(iter(candidates)), served=served,
    )  # fmt: skip
    # The representation each point was trained on rides along as a fourth column's name.
    return [[*point, name] for point, (_, name) in zip(points, served, strict=True)]


def library_curves_elsewhere(
    python: str, runners: list[Runner], dataset: str, setup: SimulationSetup, jobs: int
) -> dict[str, list]:
    """The library runners' curves, computed by ``python`` (the libraries' own environment)
    on the cached features of this process: ``{label: [curve per seed]}``."""
    import subprocess

    request = {
        "dataset": dataset,
        "runners": [r.__dict__ for r in runners],
        "setup": [setup.initial, setup.batch, setup.budget, setup.repeats, setup.seed],
        "jobs": jobs,
    }
    done = subprocess.run(
        # Inherits this process's niceness (the benchmark runs under nice -n 10).
        [python, str(Path(__file__).resolve()), "--library-worker"],
        input=json.dumps(request), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def library_worker() -> int:
    """Run in the libraries' environment: read a request on stdin, print the curves."""
    from joblib import Parallel, delayed

    request = json.loads(sys.stdin.read())
    runners = [Runner(**r) for r in request["runners"]]
    initial, batch, budget, repeats, seed = request["setup"]
    setup = SimulationSetup(initial, batch, budget, repeats, seed, "", {})
    jobs = [(runner, s) for runner in runners for s in range(repeats)]
    results = Parallel(n_jobs=request["jobs"])(
        delayed(one_curve)(runner, request["dataset"], setup, s) for runner, s in jobs
    )
    curves: dict[str, list] = {}
    for (runner, _), curve in zip(jobs, results, strict=True):
        curves.setdefault(runner.label, []).append(curve)
    print(json.dumps(curves))
    return 0


def full_accuracy(model: str, features: str, dataset: str) -> float:
    from threadpoolctl import threadpool_limits

    from learning.models import make_model

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cached = FEATURE_CACHE / f"{dataset}-{features}-{model}.full.json"
        if cached.exists():
            return float(json.loads(cached.read_text()))
        if features == "switch":
            accuracy = switching_full_accuracy(model, dataset)
        else:
            X_train, X_test, y_train, y_test = prepared(dataset, features)
            fitted = make_model(model, random_state=0).fit(X_train, y_train)
            accuracy = float(fitted.score(X_test, y_test))
        cached.write_text(json.dumps(accuracy))
        return accuracy


def switching_full_accuracy(model: str, dataset: str) -> float:
    """Full-data accuracy of what "auto" serves once every pool item is labeled: the
    representation the evidence picks on all labels, with ``model``."""
    from learning.models import make_model
    from learning.representation_choice import compare_representations

    candidates = switching_candidates(dataset)
    _, _, y_train, y_test = split_features(dataset, "raw")
    first = next(iter(candidates))
    evidence = compare_representations(
        {name: rows[0] for name, rows in candidates.items()}, y_train, serving=first, cv=3
    )
    X_train, X_test = candidates[evidence.chosen]
    fitted = make_model(model, random_state=0).fit(X_train, y_train)
    return float(fitted.score(X_test, y_test))


def _points(curve: list) -> np.ndarray:
    """``(n_rounds, 3)``: labels, accuracy, macro F1 (a switching curve's 4th column, the
    representation served, dropped)."""
    return np.asarray([point[:3] for point in curve], dtype=np.float64)


def absolute_aulc(points: np.ndarray) -> float:
    """Mean accuracy over the label range (trapezoid), not divided by any full accuracy, so
    runners with different learners compare on one scale."""
    return normalised_aulc(points, 1.0)


def i20_summary(runners: list[Runner], curves: dict, full: dict, batch: int) -> dict[str, Any]:
    """Issue 20's done-when for one set: the target is 95% of the best full-data accuracy
    any runner's learner reached; labels to it on each mean curve; absolute AULC with the
    paired difference to random; the default against random and the best library."""
    best_full = max(full[(r.model, r.features)] for r in runners)
    target = 0.95 * best_full
    rows = {}
    for runner in runners:
        stacked = np.stack([_points(c) for c in curves[runner.label]])
        aulcs = np.array([absolute_aulc(c) for c in stacked])
        rows[runner.label] = {
            "library": runner.library,
            "features": runner.features,
            "full_accuracy": full[(runner.model, runner.features)],
            "labels_to_target": labels_to_reach(stacked.mean(axis=0), target),
            "aulc": float(aulcs.mean()),
            "aulcs": aulcs.tolist(),
        }
    random_aulcs = np.array(rows["random"]["aulcs"]) if "random" in rows else None
    for row in rows.values():
        if random_aulcs is not None:
            paired = np.array(row["aulcs"]) - random_aulcs
            row["vs_random"] = float(paired.mean())
            row["vs_random_se"] = (
                float(paired.std(ddof=1) / np.sqrt(len(paired))) if len(paired) > 1 else None
            )
    libraries = {k: v for k, v in rows.items() if v["library"] != "tweezers"}
    reached = [v["labels_to_target"] for v in libraries.values() if v["labels_to_target"]]
    best_library = min(reached) if reached else None
    return {
        "target": target,
        "best_full": best_full,
        "rows": rows,
        "best_library_labels": best_library,
        "best_library": next(
            (k for k, v in libraries.items() if v["labels_to_target"] == best_library), None
        ),
        "batch": batch,
    }


def i20_table(summary: dict[str, Any], budget: int) -> str:
    """The per-set table and verdict lines of issue 20's done-when."""

    def labels(value: int | None) -> str:
        return str(value) if value is not None else f">{budget}"

    lines = [
        f"Target: 95% of the best full-data accuracy ({summary['best_full']:.3f}) = "
        f"{summary['target']:.3f}.",
        "",
        "| runner | features | full acc. | labels to target | AULC | AULC vs random |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for name, row in summary["rows"].items():
        versus = "baseline" if name == "random" else "—"
        if name != "random" and row.get("vs_random") is not None:
            se = row.get("vs_random_se")
            versus = f"{row['vs_random']:+.3f}" + (f" ± {se:.3f}" if se is not None else "")
        lines.append(
            f"| {name} | {row['features']} | {row['full_accuracy']:.3f} | "
            f"{labels(row['labels_to_target'])} | {row['aulc']:.3f} | {versus} |"
        )
    for default in [n for n in summary["rows"] if n.startswith("default pipeline")]:
        row = summary["rows"][default]
        best = summary["best_library_labels"]
        ours = row["labels_to_target"]
        ratio = f"{ours / best:.2f}" if ours and best else "n/a"
        raw_full = max(
            (r["full_accuracy"] for r in summary["rows"].values() if r["features"] == "raw"),
            default=None,
        )
        within = (
            "n/a" if raw_full is None else
            "yes" if row["full_accuracy"] >= raw_full - 0.01 else "**no**"
        )  # fmt: skip
        never_below = row.get("vs_random", 0.0) >= 0.0
        ran_libraries = any(r["library"] != "tweezers" for r in summary["rows"].values())
        in_batch = ours is not None and (best is None or ours <= best + summary["batch"])
        verdict = (
            ("met" if in_batch else "**not met**")
            if ran_libraries
            else ("no library runner finished on this set")
        )
        lines.append(
            f"\n*{default}*: AULC vs random {row.get('vs_random', 0.0):+.3f} "
            f"({'met' if never_below else '**not met**'}); labels to target {labels(ours)} "
            f"against the best library's {labels(best)} ({summary['best_library']}): "
            f"{verdict}, ratio {ratio}; full-data accuracy "
            f"{row['full_accuracy']:.3f} within 1 point of raw pixels or above: {within}."
        )
    return "\n".join(lines)


def summarise(runners, curves, full, budget) -> list[dict[str, Any]]:
    rows = []
    for runner in runners:
        reference = full[(runner.model, runner.features)]
        stacked = np.stack([_points(c) for c in curves[runner.label]])
        mean = stacked.mean(axis=0)
        aulcs = np.array([normalised_aulc(c, reference) for c in stacked])
        baseline_label = (
            "random" if runner.library != "tweezers" or runner.model == "logreg_fixed"
            else runner.label.replace("default pipeline", "random")
        )  # fmt: skip
        gain = gain_se = None
        if runner.label != baseline_label and baseline_label in curves:
            base = np.array(
                [normalised_aulc(_points(c), reference) for c in curves[baseline_label]]
            )
            paired = aulcs - base
            gain, gain_se = float(paired.mean()), float(paired.std(ddof=1) / np.sqrt(len(paired)))
        rows.append(
            {
                "runner": runner.label,
                "library": runner.library,
                "model": runner.model,
                "features": runner.features,
                "full_accuracy": reference,
                "labels_to_95": labels_to_reach(mean, 0.95 * reference),
                "labels_to_99": labels_to_reach(mean, 0.99 * reference),
                "aulc": float(aulcs.mean()),
                "final_accuracy": float(mean[-1, 1]),
                "gain": gain,
                "gain_se": gain_se,
                "budget": budget,
            }
        )
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    def labels(value, budget):
        return str(value) if value is not None else f">{budget}"

    def gain(row):
        if row["gain"] is None:
            return "baseline"
        verdict = ""
        if row["gain_se"]:
            t = row["gain"] / row["gain_se"]
            verdict = " (better)" if t >= 2 else " (worse)" if t <= -2 else " (n.s.)"
        return f"{row['gain']:+.3f} ± {row['gain_se']:.3f}{verdict}"

    lines = [
        "| runner | learner | features | full acc. | labels to 95% | labels to 99% | AULC "
        "| AULC vs random |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['runner']} | {row['model']} | {row['features']} "
            f"| {row['full_accuracy']:.3f} | "
            f"{labels(row['labels_to_95'], row['budget'])} | "
            f"{labels(row['labels_to_99'], row['budget'])} | {row['aulc']:.3f} | {gain(row)} |"
        )
    return "\n".join(lines)


def replace_section(path: Path, heading: str, body: str) -> None:
    """Replace the text under ``heading`` (up to the next ``## ``) or append the section."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        path.write_text(text.rstrip("\n") + f"\n\n{heading}\n\n{body.strip()}\n")
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    new = lines[: start + 1] + ["", body.strip(), ""] + lines[end:]
    path.write_text("\n".join(new).rstrip("\n") + "\n")


def main() -> int:
    from joblib import Parallel, delayed

    parser = argparse.ArgumentParser(description="Label-efficiency benchmark (issue 3).")
    parser.add_argument("--datasets", default="digits")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--initial", type=int, default=20)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument(
        "--runners",
        default="parity,pipelines",
        help="parity (all strategies and libraries), core (random, margin, default, the "
        "libraries' margin), text (default against scikit-activeml's batch strategies) "
        "and/or pipelines",
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--results", default="label_efficiency.json")
    parser.add_argument(
        "--scans",
        action="store_true",
        help="run the scan-level section instead (issue 22: a scan is one item, its label "
        "depends on a few of its slices; bench/label_efficiency_scans.py)",
    )
    parser.add_argument(
        "--findings",
        action="store_true",
        help="the findings (multi-label) section instead: bench/label_efficiency_findings.py",
    )
    parser.add_argument(
        "--libraries-python",
        help="the Python of a separate environment with bench/requirements.txt installed: "
        "the library runners run there, on the same cached features and splits",
    )
    parser.add_argument("--library-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="summarise only the runners whose curves a stopped run left on disk",
    )
    parser.add_argument(
        "--i20-docs",
        action="store_true",
        help=f"with --write-docs: write the sets of --results under '{I20_HEADING}'",
    )
    args = parser.parse_args()
    if args.library_worker:
        return library_worker()
    if args.scans:
        return scan_section(args)
    if args.findings:
        from label_efficiency_findings import run

        return run(args)
    output = ROOT / "bench" / "output"
    output.mkdir(parents=True, exist_ok=True)
    results_path = output / args.results
    # Datasets run earlier stay in the report, so datasets can be (re)run one at a time.
    report: dict[str, Any] = json.loads(results_path.read_text()) if results_path.exists() else {}
    for dataset in args.datasets.split(","):
        chosen = args.runners.split(",")
        runners = (
            (PARITY if "parity" in chosen else CORE if "core" in chosen else [])
            + (TEXT if "text" in chosen else [])
            + (TEXT_CANDIDATES if "text_candidates" in chosen else [])
            + (pipelines(dataset) if "pipelines" in chosen else [])
            + (I20_CHOICE if "i20" in chosen else [])
            + (I20_FINAL if "i20_final" in chosen else [])
            + (I20_MODEL if "i20_model" in chosen else [])
            + (I20_MODEL_DEFAULT if "i20_automl" in chosen else [])
            + (I20_SEMI if "i20_semi" in chosen else [])
            + (I20_SEMI_EVALUATION if "i20_semi_evaluation" in chosen else [])
            + (LIBRARIES if "libraries" in chosen else [])
            + (LIBRARIES_FINAL if "libraries_final" in chosen else [])
        )  # fmt: skip
        runners = list({r.label: r for r in runners}.values())  # groups share runners
        if dataset not in IMAGE_SETS:
            # Text sets are sentence embeddings already: nothing to re-decide.
            runners = [r for r in runners if r.features != "switch"]
        started = time.time()
        n_pool = len(split_features(dataset, "raw")[2])
        auto = auto_features(dataset, n_pool)
        runners = [
            dataclasses.replace(r, features=auto) if r.features == "auto" else r for r in runners
        ]
        for features in sorted({r.features for r in runners} - {"switch"} | {auto}):
            split_features(dataset, features)  # once, before the workers read it
        y = np.concatenate(split_features(dataset, "raw")[2:])
        budget = min(args.budget, n_pool)
        setup = SimulationSetup(args.initial, args.batch, budget, args.seeds, 0, "", {})
        elsewhere = [r for r in runners if r.library != "tweezers" and args.libraries_python]
        here = [r for r in runners if r not in elsewhere]
        if args.cached_only:
            # Summarise what finished: runners with every seed's curve on disk.
            runners = [
                r for r in runners
                if all(curve_path(r, dataset, setup, s).exists() for s in range(args.seeds))
            ]  # fmt: skip
            here, elsewhere = runners, []
        jobs = [(runner, seed) for runner in here for seed in range(args.seeds)]
        results = Parallel(n_jobs=args.jobs)(
            delayed(one_curve)(runner, dataset, setup, seed) for runner, seed in jobs
        )
        curves: dict[str, list] = {}
        for (runner, _), curve in zip(jobs, results, strict=True):
            curves.setdefault(runner.label, []).append(curve)
        if elsewhere:
            curves.update(
                library_curves_elsewhere(
                    args.libraries_python, elsewhere, dataset, setup, args.jobs
                )
            )
        full = {(r.model, r.features): full_accuracy(r.model, r.features, dataset) for r in runners}
        rows = summarise(runners, curves, full, budget)
        table = markdown_table(rows)
        summary = None
        if "random" in curves and any(r.label.startswith("default pipeline") for r in runners):
            summary = i20_summary(runners, curves, full, args.batch)
            table += "\n\n" + i20_table(summary, budget)
        print(f"\n{dataset}: {len(y)} items, {args.seeds} seeds, {time.time() - started:.0f} s")
        print(table)
        command = " ".join(
            ["bench/label_efficiency.py", "--datasets", dataset, "--seeds", str(args.seeds),
             "--runners", args.runners, "--budget", str(args.budget)]
        )  # fmt: skip
        report[dataset] = {
            "rows": rows, "curves": curves, "seeds": args.seeds, "budget": budget,
            "command": command, "seconds": round(time.time() - started), "i20": summary,
            "load": os.getloadavg(),
        }  # fmt: skip
        # Written after every dataset, so a long run leaves its finished part behind.
        results_path.write_text(json.dumps(report, indent=1))
        if args.write_docs and args.i20_docs:
            replace_section(ROOT / "docs" / "benchmarks.md", I20_HEADING, i20_docs(report))
        elif args.write_docs:
            replace_section(ROOT / "docs" / "benchmarks.md", "## Label efficiency",
                            docs_section(report))  # fmt: skip
    return 0


def scan_section(args: argparse.Namespace) -> int:
    """Attention pooling against mean pooling and single slices, default against random."""
    import label_efficiency_scans as scans

    started = time.time()
    budget = min(args.budget, 200)
    report = scans.run(args.seeds, budget, args.jobs)
    output = ROOT / "bench" / "output"
    output.mkdir(parents=True, exist_ok=True)
    (output / "label_efficiency_scans.json").write_text(json.dumps(report, indent=1))
    command = f"bench/label_efficiency.py --scans --seeds {args.seeds} --budget {budget}"
    section = scans.markdown(report, command, time.time() - started)
    print(section)
    if args.write_docs:
        replace_section(
            ROOT / "docs" / "benchmarks.md", "## Label efficiency on scans (issue 22)", section
        )
    return 0


DATASET_NOTES = {
    "digits70k": "every digit 52 times under a random affine map plus noise "
    "(`bench/image_representations.py`): 70,044 pool images, 23,400 test images.",
    "digits70k@10k": "a seeded 10,000-image sample of the `digits70k` pool, same test set.",
    "shapes_clutter": "`bench/hard_images.py`: 8,000 28×28 canvases, the class the one "
    "large shape of six (disc, square, triangle, cross, ring, bar pair) at any position, "
    "size and rotation, beside 2-4 small shapes of any kind, on textured patches of "
    "scikit-learn's sample photographs, with noise; 6,000 pool, 2,000 test.",
    "digits_clutter": "`bench/hard_images.py`: the digits enlarged to 24×24, rotated by "
    "up to ±40°, scaled and shifted over textured photograph patches with noise, three "
    "views each, split by the original digit: 4,041 pool, 1,350 test.",
    "digits": "scikit-learn's 8×8 digits, 1,797 images, 10 classes, 64 pixel features.",
    "breast_cancer": "scikit-learn's breast cancer, 569 items, 2 classes, 30 features.",
    "digits_tripled": "digits with every image three times in the pool (test split taken on "
    "the distinct images): a batch of top-k uncertain items is then mostly copies.",
    "digits_noisy": "digits with 30% of the labels (pool and test) replaced by random ones.",
    "demo_text_minilm": "the demo corpus (3,176 Debian package descriptions, 8 sections), "
    "as its shipped all-MiniLM-L6-v2 embeddings (384-d).",
    "fortunes_minilm": "Debian's `fortunes` package (fortune-mod's cookies, 1:1.99.1-7.3): "
    "2,424 cookies from 8 topic files (computers, politics, science, songs-poems, startrek, "
    "law, food, drugs; at most 400 each), as all-MiniLM-L6-v2 embeddings; built by "
    "`bench/fortunes_corpus.py` after `apt-get install fortunes`.",
}


def _headline(rows: list[dict[str, Any]]) -> str:
    by_name = {r["runner"]: r for r in rows}
    reference = by_name.get("random")
    pipeline_rows = [r for r in rows if r["runner"].startswith("default pipeline")]
    if reference is None or not pipeline_rows:
        return ""
    best = min(pipeline_rows, key=lambda r: (r["labels_to_95"] or 10**9, -r["aulc"]))

    def ratio(key: str) -> str:
        if best[key] is None:
            return f"not reached within {best['budget']} labels"
        if reference[key] is None:
            return f"{best[key]} labels, random needs more than {reference['budget']}"
        share = best[key] / reference[key]
        return f"{best[key]} labels against random's {reference[key]} ({share:.2f}×)"

    return (
        f"Best default pipeline here: **{best['runner']}** — 95% of its full-data accuracy "
        f"({best['full_accuracy']:.3f}) with {ratio('labels_to_95')}; 99% with "
        f"{ratio('labels_to_99')}. Random = standardised logistic regression on the raw "
        f"features, the libraries' setting, measured against its own full-data accuracy "
        f"({reference['full_accuracy']:.3f}); where the pipeline's full accuracy is higher its "
        "thresholds are higher too."
    )


I20_HEADING = "## Label efficiency on images: the done-when table (issue 20)"


def i20_docs(report: dict[str, Any]) -> str:
    """Every set of the report that has issue 20's summary, with its command and load."""
    parts = [
        "Issue 20's done-when, per set: 20 initial labels, batches of 10, the budget given, "
        "several seeds, the same splits and features for every runner. *default pipeline*: "
        "what a new project does (cold-start initial labels by typicality, the `default` "
        "strategy, cross-validated logistic regression with the pool-fitted scaler) on the "
        'representation "auto" resolves for the pool; *by evidence*: the same, with the '
        "representation re-decided by cross-validation on the labels as they grow "
        "(`learning/switching.py`). The libraries (modAL 0.4.2.1, scikit-activeml 1.0.1, "
        "small-text 1.4.1) run in their own virtual environment "
        "(`--libraries-python`) with their usual learner, standardised "
        "`LogisticRegression(C=1)`, on the raw features of the same split (the features "
        "file this process wrote). *Target*: 95% of the best full-data accuracy of any "
        "runner's learner; *AULC*: mean accuracy over the label range (not normalised, so "
        "learners compare); *vs random*: paired over seeds, ± standard error.",
    ]
    for dataset, entry in report.items():
        if not entry.get("i20"):
            continue
        load = entry.get("load")
        load_words = f", load average {load[0]:.1f} at the end" if load else ""
        parts += [
            "",
            f"### {dataset}",
            "",
            f"{DATASET_NOTES.get(dataset, '')} {entry['seeds']} seeds, budget "
            f"{entry['budget']}; `nice -n 10 .venv/bin/python {entry['command']} "
            f"--libraries-python LIBS/bin/python` ({entry['seconds']} s on 2 shared "
            f"cores{load_words}).",
            "",
            i20_table(entry["i20"], entry["budget"]),
        ]
    return "\n".join(parts)


def docs_section(report: dict[str, Any]) -> str:
    parts = [
        "How many labels does each query strategy and model need? Protocol of issue 3: a fixed "
        "stratified 25% test split (`random_state=0`), 20 initial labels, batches of 10, a "
        "budget of 500 labels (or 75% of the data), the same seeds for every runner. Runners "
        "marked *tweezers* run `learning.simulate.run_curve`; modAL 0.4.2.1 and scikit-activeml "
        "1.0.1 run with the same learner (standardised `LogisticRegression(C=1)`, "
        "`logreg_fixed` here) from the same random initial labels. *Full acc.* is the learner "
        "trained on the whole pool; *labels to 95% / 99%* read the mean curve over seeds; "
        "*AULC* is the mean accuracy over the label range divided by full acc.; *AULC vs "
        "random* is the paired difference to random sampling with the same learner and "
        "features (mean ± standard error over seeds; *better*/*worse* when beyond 2 SE, "
        "*n.s.* otherwise).",
        "",
        "*default (strategy only)*: margin → top 10·k candidates → k-means on them weighted by "
        "uncertainty → the most uncertain of each cluster, 10% of the batch at random, from the "
        "shared random initial set. *default pipeline*: the same strategy, initial labels "
        "chosen by cold start (typical items of k-means clusters), with the model named "
        "(`logreg` = cross-validated C) on raw features or on *spectral* features "
        "(`learning.features.SpectralFeaturizer`: Laplacian-eigenmap coordinates of the kNN "
        "graph of every item, train and test, computed once without labels — what the app "
        "can compute on its pool).",
        "",
        "Reproduce (each dataset's own command is under its table; add `--write-docs` to "
        "rewrite this section):",
        "",
        "```",
        ".venv/bin/pip install -r bench/requirements.txt",
        "```",
    ]
    for dataset, entry in report.items():
        parts += [
            "",
            f"### {dataset}",
            "",
            f"{DATASET_NOTES.get(dataset, '')} {entry['seeds']} seeds, budget {entry['budget']}.",
            "",
            markdown_table(entry["rows"]),
            "",
            f"`.venv/bin/python {entry.get('command', 'bench/label_efficiency.py')} --write-docs`"
            f" ({entry.get('seconds', '?')} s on 2 busy cores)",
        ]
        headline = _headline(entry["rows"])
        if headline:
            parts += ["", headline]
        contenders = [r for r in entry["rows"] if r["gain"] is not None]
        if contenders and not any(
            r["gain_se"] and r["gain"] >= 2 * r["gain_se"] for r in contenders
        ):
            parts += ["", "No strategy beat random significantly on this data: do not expect "
                      "label savings from active learning here."]  # fmt: skip
    return "\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())
