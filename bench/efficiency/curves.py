"""One learning curve per runner, set and seed, kept on disk as it finishes (a stopped run
resumes), and the full-data accuracies the targets are read against."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from efficiency.datasets import FEATURE_CACHE, prepared, split_features
from efficiency.libraries import library_curve
from efficiency.runners import Runner, _register_variants
from learning.simulate import SimulationSetup, run_curve


def curve_path(runner: Runner, dataset: str, setup: SimulationSetup, seed: int) -> Path:
    """Where one finished curve is kept, so a run that is stopped resumes where it was."""
    slug = "".join(c if c.isalnum() else "_" for c in runner.label)
    # The label alone is not the runner: "random" is logreg_fixed in one group and logreg in
    # another. The key is the label plus a digest of everything that decides the curve.

    key = dataclasses.asdict(runner)
    if runner.library == "tweezers" and runner.strategy == "default":
        # The default's settings change as it is tuned: its curves are keyed by them.
        from learning.strategies import get_strategy

        key["settings"] = repr(get_strategy("default"))
    what = json.dumps(key, sort_keys=True, default=str)
    digest = hashlib.sha256(what.encode()).hexdigest()[:8]
    name = f"{dataset}-{slug}-{digest}-{seed}-{setup.initial}-{setup.batch}-{setup.budget}.json"
    return FEATURE_CACHE / "curves" / name


def cached_curve(path, compute) -> list:
    """The curve stored at ``path``, or ``compute()``'s, stored there first (so a set can be
    rerun, or a runner added, without recomputing the others)."""
    if path.exists():
        return json.loads(path.read_text())
    curve = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(curve))
    return curve


def one_curve(runner: Runner, dataset: str, setup: SimulationSetup, seed: int) -> list:
    return cached_curve(
        curve_path(runner, dataset, setup, seed),
        lambda: compute_curve(runner, dataset, setup, seed),
    )


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
