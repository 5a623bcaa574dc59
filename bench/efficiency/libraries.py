"""modAL, scikit-activeml and small-text runners, run in the libraries' own environment
(``--libraries-python``) on the features and splits the benchmark wrote."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from efficiency.runners import Runner
from learning.simulate import SimulationSetup

ROOT = Path(__file__).resolve().parents[2]


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
        [python, str(ROOT / "bench" / "label_efficiency.py"), "--library-worker"],
        input=json.dumps(request), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def library_worker() -> int:
    """Run in the libraries' environment: read a request on stdin, print the curves."""
    from joblib import Parallel, delayed

    from efficiency.curves import one_curve

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
