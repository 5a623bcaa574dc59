"""Versus random: from the evaluation set alone, what random labels would have bought; said
plainly when a labeled set is no better than random, and when it is."""

import numpy as np
import pytest

from learning.models import make_model
from learning.versus_random import (
    fixed_estimator,
    random_label_curve,
    random_label_estimate,
    versus_random_verdict,
)


def _blobs(n: int, rng: np.random.Generator, weights: list[float]):
    """Tight, well-apart clusters, one per class, in the given proportions."""
    centres = rng.normal(scale=6.0, size=(len(weights), 8))
    y = rng.choice(len(weights), size=n, p=weights)
    X = (centres[y] + rng.normal(size=(n, 8))).astype(np.float32)
    return X, y


def _figures(X, y, labeled, evaluation, test, seed=0):
    """The model trained on ``labeled``, its accuracy on the evaluation set, the estimate the
    evaluation set gives for as many random labels, and (the truth the estimate aims at) the
    mean accuracy of models trained on that many random labels from the pool."""
    model = make_model("logreg", random_state=0).fit(X[labeled], y[labeled])
    accuracy = float(np.mean(model.predict(X[evaluation]) == y[evaluation]))
    rng = np.random.default_rng(seed)
    curve = random_label_curve(
        fixed_estimator(model), X[evaluation], y[evaluation], rng=rng, seconds=60
    )
    estimate = random_label_estimate(curve, len(labeled), n_evaluation=len(evaluation))
    pool = np.setdiff1d(np.arange(len(y)), np.concatenate([evaluation, test]))
    truth = []
    for _ in range(10):
        drawn = rng.choice(pool, size=len(labeled), replace=False)
        fitted = fixed_estimator(model)().fit(X[drawn], y[drawn])
        truth.append(np.mean(fitted.predict(X[test]) == y[test]))
    return accuracy, estimate, float(np.mean(truth))


@pytest.mark.slow
@pytest.mark.parametrize("n_labels", [40, 400])
def test_random_labels_are_not_reported_as_beating_random(n_labels):
    rng = np.random.default_rng(1)
    X, y = _blobs(3000, rng, [0.4, 0.3, 0.2, 0.1])
    X += rng.normal(scale=4.0, size=X.shape).astype(np.float32)  # classes overlap
    order = rng.permutation(len(y))
    evaluation, test, pool = order[:200], order[200:1200], order[1200:]
    labeled = rng.choice(pool, size=n_labels, replace=False)

    accuracy, estimate, truth = _figures(X, y, labeled, evaluation, test)

    # Within the evaluation set's sizes (40) it is measured, beyond them (400) extrapolated.
    assert estimate.method == ("measured" if n_labels < 160 else "extrapolated")
    assert estimate.low <= estimate.accuracy <= estimate.high
    assert abs(estimate.accuracy - truth) < 0.05
    assert abs(estimate.accuracy - accuracy) < 0.06
    assert versus_random_verdict(accuracy, estimate) != "ahead"


@pytest.mark.slow
def test_labels_that_cover_rare_classes_are_reported_ahead_of_random():
    rng = np.random.default_rng(2)
    # One common class and eight rare ones: 16 random labels miss several rare classes.
    X, y = _blobs(4000, rng, [0.6] + [0.05] * 8)
    order = rng.permutation(len(y))
    evaluation, test, pool = order[:300], order[300:1300], order[1300:]
    # Two of every class, as a strategy that finds the rare ones would ask.
    labeled = np.concatenate([pool[y[pool] == c][:2] for c in range(9)])[:16]

    accuracy, estimate, truth = _figures(X, y, labeled, evaluation, test)

    assert abs(estimate.accuracy - truth) < 0.06
    assert accuracy > 0.95 > estimate.high
    assert versus_random_verdict(accuracy, estimate) == "ahead"


def test_too_few_evaluation_labels_give_no_estimate_and_no_verdict():
    rng = np.random.default_rng(3)
    X, y = _blobs(15, rng, [0.5, 0.5])
    curve = random_label_curve(
        lambda: make_model("logreg", C=1.0, random_state=0), X, y, rng=np.random.default_rng(0)
    )
    estimate = random_label_estimate(curve, 30, n_evaluation=15)
    assert estimate.method == "too_few" and estimate.accuracy is None
    assert versus_random_verdict(0.9, estimate) is None


def test_a_spent_time_budget_leaves_one_draw_a_size_and_at_least_two_sizes():
    rng = np.random.default_rng(4)
    X, y = _blobs(100, rng, [0.5, 0.5])
    curve = random_label_curve(
        lambda: make_model("logreg", C=1.0, random_state=0), X, y, rng=rng, repeats=50, seconds=0.0
    )
    assert len(curve) >= 2
    assert {point.repeats for point in curve} == {1}
    assert [point.size for point in curve] == sorted(point.size for point in curve)
