"""Versus random for findings (multi-label): the cross-fitting scores macro ROC AUC with a
fresh findings model per draw, and the estimate reads that curve."""

import numpy as np
import pytest

from learning.findings.model import FindingsClassifier
from learning.versus_random import (
    macro_auc_scorer,
    random_label_curve,
    random_label_estimate,
)


def synthetic_findings(m: int = 240, d: int = 8, k: int = 3, seed: int = 0):
    """Gaussian features; finding j present where a noisy linear score passes a threshold
    (about a third of the items), and a tenth of the answers uncertain."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, d))
    weights = rng.normal(size=(d, k))
    scores = X @ weights + rng.normal(scale=1.0, size=(m, k))
    Y = (scores > np.quantile(scores, 0.66, axis=0)).astype(np.int8)
    Y[rng.random(size=Y.shape) < 0.1] = -1
    return X, Y


def make_findings_model():
    return FindingsClassifier(C=0.1, random_state=0)


def test_the_cross_fitted_macro_auc_curve_rises_with_size():
    X, Y = synthetic_findings()

    curve = random_label_curve(
        make_findings_model, X, Y, rng=np.random.default_rng(0), repeats=4, seconds=30.0,
        scorer=macro_auc_scorer,
    )  # fmt: skip

    assert len(curve) >= 4
    assert curve[0].size == 4 and curve[-1].size == 240 - 48
    aucs = [point.accuracy for point in curve]
    assert all(0.0 <= auc <= 1.0 for auc in aucs)
    assert aucs[-1] > aucs[0] + 0.1, aucs
    assert aucs[-1] > 0.8, aucs  # the findings are learnable
    # Rises step by step (measured: 0.675, 0.790, 0.881, 0.923, 0.944, 0.944).
    assert all(b >= a - 0.02 for a, b in zip(aucs, aucs[1:], strict=False)), aucs


def test_the_estimate_at_a_measured_size_is_the_curve_there():
    X, Y = synthetic_findings(seed=1)
    curve = random_label_curve(
        make_findings_model, X, Y, rng=np.random.default_rng(1), repeats=3, seconds=30.0,
        scorer=macro_auc_scorer,
    )  # fmt: skip

    for point in curve:
        estimate = random_label_estimate(curve, point.size, n_evaluation=len(Y))
        assert estimate.method == "measured"
        assert estimate.accuracy == pytest.approx(point.accuracy)
        assert estimate.low <= estimate.accuracy <= estimate.high
    beyond = random_label_estimate(curve, 1000, n_evaluation=len(Y))
    assert beyond.method == "extrapolated"
    assert beyond.accuracy >= curve[-1].accuracy


def test_a_held_out_part_with_no_scorable_finding_leaves_the_draw_out():
    X = np.zeros((30, 2))
    Y = np.zeros((30, 2), dtype=np.int8)  # nothing ever present: no AUC anywhere

    curve = random_label_curve(
        make_findings_model, X, Y, rng=np.random.default_rng(0), scorer=macro_auc_scorer
    )

    assert curve == []
    assert random_label_estimate(curve, 10, n_evaluation=30).method == "too_few"
