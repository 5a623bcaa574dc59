"""Versus random: what a model trained on ``n`` labels drawn at random would reach, estimated
from the evaluation set alone, to set beside the active-learning model.

The evaluation set is a uniform random sample of the pool, so its items are random labels.
Cross-fitting within it — train on ``size`` of its items drawn at random, score on the rest,
repeated — measures the random-label learning curve at sizes up to most of the set
(:func:`random_label_curve`). :func:`random_label_estimate` reads that curve at any ``n``:
interpolated within the measured sizes, and beyond them extrapolated by a fitted learning
curve ``accuracy = a - b * n ** -c`` with its interval, wider the further it reaches.
:func:`versus_random_verdict` says whether the active-learning model is ahead.

    curve = random_label_curve(lambda: make_model("logreg", C=1.0, random_state=0), X_eval, y_eval,
                               rng=np.random.default_rng(0))
    estimate = random_label_estimate(curve, n_labels=200)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

# Fewer evaluation labels than this: no estimate (the cross-fitted accuracies are noise).
MIN_EVALUATION = 20
# The share of the evaluation set always held out for scoring, and its floor in items.
HOLDOUT_SHARE = 0.2
MIN_HOLDOUT = 10
Z = 1.96


@dataclass(frozen=True)
class CurvePoint:
    """Accuracy of models trained on ``size`` random evaluation items and scored on the rest:
    ``accuracy`` the mean over ``repeats`` draws, ``spread`` their standard deviation,
    ``n_scored`` the held-out items each draw was scored on."""

    size: int
    accuracy: float
    spread: float
    repeats: int
    n_scored: int


@dataclass(frozen=True)
class RandomEstimate:
    """What ``n_labels`` random labels would reach on average: ``accuracy`` and its 95%
    interval ``low``..``high``; ``method`` "measured" (within the cross-fitted sizes),
    "extrapolated" (beyond them) or "too_few" (no estimate: values None); ``n_evaluation``
    the evaluation labels it rests on."""

    n_labels: int
    accuracy: float | None
    low: float | None
    high: float | None
    method: str
    n_evaluation: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cross_fit_sizes(n_evaluation: int, n_classes: int, points: int = 6) -> list[int]:
    """Training sizes to cross-fit: geometric from a few per class to all but the held-out
    share of the evaluation set; empty when the set is too small."""
    if n_evaluation < MIN_EVALUATION:
        return []
    largest = n_evaluation - max(MIN_HOLDOUT, int(np.ceil(HOLDOUT_SHARE * n_evaluation)))
    smallest = min(max(2 * n_classes, 4), largest)
    if largest < 2:
        return []
    return sorted({int(round(s)) for s in np.geomspace(smallest, largest, points)})


# A scorer: ``scorer(make_estimator, X, y, train, test)`` fits a fresh estimator on the
# ``train`` rows and scores it on the ``test`` rows; None when the held-out part cannot be
# scored (the draw is left out).
Scorer = Callable[[Callable[[], Any], NDArray, NDArray, NDArray, NDArray], "float | None"]


def accuracy_scorer(make_estimator: Callable[[], Any], X, y, train, test) -> float:
    """Single-label: the share of held-out items predicted right (the default scorer)."""
    labels = np.unique(y[train])
    if len(labels) == 1:
        predicted = np.full(len(test), labels[0])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predicted = make_estimator().fit(X[train], y[train]).predict(X[test])
    return float(np.mean(np.asarray(predicted) == y[test]))


def macro_auc_scorer(make_estimator: Callable[[], Any], X, Y, train, test) -> float | None:
    """Findings (multi-label, ``Y`` ``(m, k)`` of 1 / 0 / -1): the macro ROC AUC of the fresh
    model's P(present) over the findings with both present and absent answers among the
    held-out items. Uncertain answers are left out of the scoring (as
    :func:`learning.findings.metrics.evaluate_findings` leaves them out of the run's own
    macro AUC, whatever the uncertain policy they trained under); they train as the
    estimator's ``uncertain`` policy says. None when no finding has both states held out."""
    from learning.findings.metrics import macro_auc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proba = make_estimator().fit(X[train], Y[train]).predict_proba(X[test])
    return macro_auc(Y[test], proba)


def random_label_curve(
    make_estimator: Callable[[], Any],
    X_eval: NDArray[np.floating],
    y_eval: NDArray[Any],
    *,
    rng: np.random.Generator,
    repeats: int = 5,
    seconds: float = 2.0,
    scorer: Scorer = accuracy_scorer,
) -> list[CurvePoint]:
    """The random-label learning curve cross-fitted on the evaluation set ``X_eval``
    ``(m, d)``, ``y_eval`` ``(m,)``: a point per size of :func:`cross_fit_sizes`, each the
    mean of ``repeats`` draws (fewer once ``seconds`` are spent, at least one each, and the
    larger sizes left out once three times ``seconds`` are). The estimator
    from ``make_estimator()`` is fitted on each draw (a fresh one each time) and scored by
    ``scorer`` (:func:`accuracy_scorer`; :func:`macro_auc_scorer` for findings, whose
    ``y_eval`` is the ``(m, k)`` answers matrix). A point's ``accuracy`` is the scorer's
    figure, whichever it is; draws it could not score are left out."""
    X, y = np.asarray(X_eval), np.asarray(y_eval)
    m = len(y)
    # Findings are k two-state problems: the smallest size is that of two classes.
    sizes = cross_fit_sizes(m, 2 if y.ndim == 2 else len(np.unique(y)))
    accuracies: dict[int, list[float]] = {size: [] for size in sizes}
    started = time.perf_counter()
    deadline, hard_deadline = started + seconds, started + 3 * seconds
    # A draw of every size per pass, so that a spent time budget leaves each size as many
    # draws as the others; a model so slow that one pass overruns three budgets (a torch model)
    # keeps the sizes it measured, the smallest first.
    for repeat in range(repeats):
        if repeat and time.perf_counter() > deadline:
            break
        for index, size in enumerate(sizes):
            if index >= 2 and time.perf_counter() > hard_deadline:
                break
            order = rng.permutation(m)
            score = scorer(make_estimator, X, y, order[:size], order[size:])
            if score is not None:
                accuracies[size].append(score)
    return [
        CurvePoint(
            size,
            float(np.mean(values)),
            float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            len(values),
            m - size,
        )
        for size, values in accuracies.items()
        if values
    ]


def _measured_interval(
    accuracy: float, spread: float, repeats: int, n_scored: int
) -> tuple[float, float]:
    # The interval of the mean accuracy random labels reach: the draws' spread over their
    # number, and the held-out part's binomial noise (a finite sample of the pool).
    half = Z * np.sqrt(spread**2 / max(repeats, 1) + accuracy * (1.0 - accuracy) / max(n_scored, 1))
    return max(0.0, accuracy - half), min(1.0, accuracy + half)


def _interpolated(curve: list[CurvePoint], n: int) -> tuple[float, float, float]:
    sizes = np.array([p.size for p in curve], dtype=float)
    where = np.log(max(n, 1))
    accuracy = float(np.interp(where, np.log(sizes), [p.accuracy for p in curve]))
    spread = float(np.interp(where, np.log(sizes), [p.spread for p in curve]))
    repeats = min(p.repeats for p in curve)
    n_scored = int(np.interp(where, np.log(sizes), [p.n_scored for p in curve]))
    return (accuracy, *_measured_interval(accuracy, spread, repeats, n_scored))


def _power_law(n: NDArray, a: float, b: float, c: float) -> NDArray:
    return a - b * np.power(n, -c)


def _fitted_at(sizes: NDArray, accuracies: NDArray, n: int) -> float | None:
    """``accuracies`` at ``sizes`` fitted by ``a - b * size ** -c`` (a <= 1), read at ``n``."""
    from scipy.optimize import curve_fit

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = curve_fit(
                _power_law,
                sizes,
                np.clip(accuracies, 0.0, 1.0),
                p0=(min(1.0, float(accuracies.max()) + 0.05), 0.5, 0.5),
                bounds=([0.0, 0.0, 0.05], [1.0, 10.0, 2.0]),
                maxfev=5000,
            )
    except (RuntimeError, ValueError):
        return None
    return float(np.clip(_power_law(np.array([float(n)]), *params)[0], 0.0, 1.0))


def _extrapolated(curve: list[CurvePoint], n: int) -> tuple[float, float, float]:
    """Accuracy at ``n`` beyond the measured sizes from the fitted curve. The interval: the
    same curve fitted through the points' lower and upper bounds (their spread between draws
    and the held-out sample's noise), and never narrower than at the largest measured size."""
    last = curve[-1]
    last_low, last_high = _measured_interval(
        last.accuracy, last.spread, last.repeats, last.n_scored
    )
    sizes = np.array([p.size for p in curve], dtype=float)
    accuracies = np.array([p.accuracy for p in curve])
    bounds = np.array(
        [_measured_interval(p.accuracy, p.spread, p.repeats, p.n_scored) for p in curve]
    )
    accuracy = _fitted_at(sizes, accuracies, n)
    low = _fitted_at(sizes, bounds[:, 0], n)
    high = _fitted_at(sizes, bounds[:, 1], n)
    if accuracy is None or low is None or high is None:
        # No curve to trust: random labels reach at least what the largest size measured
        # (more random labels do not hurt on average), and possibly anything above.
        return last.accuracy, last_low, 1.0
    accuracy = max(accuracy, last.accuracy)
    low = min(low, accuracy - (last.accuracy - last_low))
    high = max(high, accuracy + (last_high - last.accuracy))
    return accuracy, max(0.0, low), min(1.0, high)


def random_label_estimate(
    curve: list[CurvePoint],
    n_labels: int,
    *,
    n_evaluation: int,
) -> RandomEstimate:
    """What ``n_labels`` random labels would reach, read from :func:`random_label_curve`."""
    if len(curve) < 2:
        return RandomEstimate(n_labels, None, None, None, "too_few", n_evaluation)
    if n_labels <= curve[-1].size:
        accuracy, low, high = _interpolated(curve, n_labels)
        method = "measured"
    else:
        accuracy, low, high = _extrapolated(curve, n_labels)
        method = "extrapolated"
    return RandomEstimate(n_labels, accuracy, low, high, method, n_evaluation)


def versus_random_verdict(accuracy: float | None, estimate: RandomEstimate) -> str | None:
    """ "ahead" when the active-learning model's ``accuracy`` is above the random estimate's
    interval, "behind" below it, "level" within it (not shown to be ahead); None without
    an estimate."""
    if accuracy is None or estimate.accuracy is None:
        return None
    if accuracy > estimate.high:
        return "ahead"
    if accuracy < estimate.low:
        return "behind"
    return "level"


def curve_as_dicts(curve: list[CurvePoint]) -> list[dict[str, Any]]:
    return [asdict(point) for point in curve]


def curve_from_dicts(rows: list[dict[str, Any]]) -> list[CurvePoint]:
    return [CurvePoint(**row) for row in rows]


def fixed_estimator(model: Any) -> Callable[[], Any]:
    """Unfitted copies of a fitted ``model`` with the hyperparameters it searched fixed (the
    cross-validated ``C_`` of the logistic regressions), so that each cross-fitted draw is
    one fit of the same model rather than a search of its own."""
    from sklearn.base import clone

    params = model.get_params()
    fixed = {"C": model.C_} if hasattr(model, "C_") and "C" in params else {}
    if "previous_search" in params:
        fixed["previous_search"] = None

    def make() -> Any:
        return clone(model).set_params(**fixed)

    return make


def estimates_along(
    make_estimator: Callable[[], Any],
    X_eval: NDArray[np.floating],
    y_eval: NDArray[Any],
    label_counts: list[int],
    *,
    rng: np.random.Generator,
    seconds: float = 30.0,
    scorer: Scorer = accuracy_scorer,
) -> list[RandomEstimate]:
    """The estimate at each of ``label_counts`` from one cross-fitted curve on the evaluation
    set: what the simulator reports beside its strategies, as the app does beside its model."""
    curve = random_label_curve(
        make_estimator, X_eval, y_eval, rng=rng, seconds=seconds, scorer=scorer
    )
    return [random_label_estimate(curve, n, n_evaluation=len(y_eval)) for n in label_counts]


def format_estimates(estimates: list[RandomEstimate], measured: list[float] | None) -> str:
    """One line for the simulator's summary: the estimate at the last label count, with the
    random strategy's own measured accuracy there when it ran."""
    last = estimates[-1]
    if last.accuracy is None:
        return f"versus random: too few test items ({last.n_evaluation}) to estimate"
    line = (
        f"versus random, estimated from the {last.n_evaluation} test items as the app does from "
        f"its evaluation set ({last.method}): {last.accuracy:.3f} "
        f"[{last.low:.3f}, {last.high:.3f}] at {last.n_labels} random labels"
    )
    if measured:
        line += f"; random measured {measured[-1]:.3f}"
    return line


def versus_random_report(
    results: list[dict[str, Any]],
    make_estimator: Callable[[], Any],
    X_test: NDArray[np.floating],
    y_test: NDArray[Any],
    *,
    rng: np.random.Generator,
) -> str:
    """What the app's "versus random" would say in a simulation (:mod:`learning.simulate`),
    from its test set as the evaluation set: the estimate at each label count of the curves,
    added to every result as ``versus_random``, and the summary line."""
    counts = [int(point[0]) for point in results[0]["curves"][0]["points"]]
    estimates = estimates_along(make_estimator, X_test, y_test, counts, rng=rng)
    for result in results:
        result["versus_random"] = [estimate.as_dict() for estimate in estimates]
    random = next((r for r in results if r["strategy"] == "random"), None)
    measured = None
    if random is not None:
        curves = [[point[1] for point in curve["points"]] for curve in random["curves"]]
        measured = [float(value) for value in np.mean(curves, axis=0)]
    return format_estimates(estimates, measured)
