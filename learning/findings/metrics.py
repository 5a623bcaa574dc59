"""Findings metrics on an evaluation set: per-finding ROC AUC, F1 and positives, their macro
and micro averages (scikit-learn's), and a bootstrap interval for the macro AUC.

Uncertain answers (-1) are left out of the finding they belong to: they are neither a hit nor
a miss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from learning.findings.model import UNCERTAIN, answers_matrix

BOOTSTRAP_RESAMPLES = 200


def _auc_or_none(truth: NDArray, scores: NDArray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(truth)) < 2:
        return None  # AUC needs both states among the answers
    return float(roc_auc_score(truth, scores))


def evaluate_findings(
    Y_true: ArrayLike,
    proba: ArrayLike,
    findings: Sequence[str],
    *,
    threshold: float = 0.5,
    interval: bool = True,
    interval_seed: int = 0,
) -> dict[str, Any]:
    """Metrics of P(present) ``proba`` ``(n, k)`` against answers ``Y_true`` ``(n, k)``
    (1 / 0 / -1) for the ``findings`` names (k).

    Returns JSON-ready values: ``per_finding`` (name -> ``auc`` (None when the answers hold
    one state only), ``f1``, ``positives``, ``n``), ``macro_auc`` (mean over findings with an
    AUC; None when none has), ``macro_auc_low`` / ``macro_auc_high`` (95% bootstrap interval
    over items; None without ``interval``), ``micro_auc``, ``macro_f1``, ``micro_f1`` (over
    every answered cell), ``n``.
    A prediction is present when P(present) >= ``threshold``.
    """
    from sklearn.metrics import f1_score

    truth = answers_matrix(Y_true)
    scores = np.asarray(proba, dtype=np.float64)
    if scores.shape != truth.shape or len(findings) != truth.shape[1]:
        raise ValueError(
            f"answers {truth.shape}, probabilities {scores.shape} and {len(findings)} findings "
            "do not match"
        )
    answered = truth != UNCERTAIN
    predicted = (scores >= threshold).astype(np.int8)
    per_finding: dict[str, dict[str, Any]] = {}
    aucs, f1s = [], []
    for j, name in enumerate(findings):
        rows = answered[:, j]
        y, p = truth[rows, j], scores[rows, j]
        auc = _auc_or_none(y, p) if len(y) else None
        f1 = float(f1_score(y, predicted[rows, j], zero_division=0.0)) if len(y) else 0.0
        per_finding[str(name)] = {"auc": auc, "f1": f1, "positives": int(y.sum()), "n": len(y)}
        if auc is not None:
            aucs.append(auc)
        f1s.append(f1)
    cells = answered.ravel()
    flat_truth, flat_scores = truth.ravel()[cells], scores.ravel()[cells]
    micro_f1 = (
        float(f1_score(flat_truth, predicted.ravel()[cells], zero_division=0.0))
        if cells.any()
        else 0.0
    )
    low, high = macro_auc_interval(truth, scores, seed=interval_seed) if interval else (None, None)
    return {
        "per_finding": per_finding,
        "macro_auc": float(np.mean(aucs)) if aucs else None,
        "macro_auc_low": low,
        "macro_auc_high": high,
        "micro_auc": _auc_or_none(flat_truth, flat_scores) if cells.any() else None,
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "micro_f1": micro_f1,
        "n": int(len(truth)),
    }


def macro_auc(Y_true: ArrayLike, proba: ArrayLike) -> float | None:
    """The mean ROC AUC over findings with both states among their answers (None if none has),
    as :func:`evaluate_findings` reports it, without the rest: the loop's cheap measure."""
    truth = answers_matrix(Y_true)
    aucs = _rank_aucs(truth.T, np.asarray(proba, dtype=np.float64).T)
    finite = aucs[np.isfinite(aucs)]
    return float(finite.mean()) if len(finite) else None


def micro_f1(Y_true: ArrayLike, proba: ArrayLike, threshold: float = 0.5) -> float:
    """F1 over every answered (item, finding) cell, present when P >= ``threshold``."""
    truth = answers_matrix(Y_true)
    answered = truth != UNCERTAIN
    present = truth == 1
    predicted = np.asarray(proba) >= threshold
    hits = int((present & predicted & answered).sum())
    claimed = int((predicted & answered).sum()) + int(present.sum())
    return 2.0 * hits / claimed if claimed else 0.0


def _rank_aucs(answers: NDArray[np.int8], scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """AUC of each row of ``scores`` ``(r, m)`` against ``answers`` ``(r, m)`` (1 / 0 / -1) by
    the rank-sum (Mann-Whitney) formula, ties at half, uncertain cells left out; NaN where a row
    holds one state only."""
    from scipy.stats import rankdata

    answered = answers != UNCERTAIN
    present = (answers == 1).astype(np.float64)
    # Left-out cells rank below every answered one, so they only shift the ranks by their count.
    ranks = rankdata(np.where(answered, scores, -np.inf), axis=1)
    left_out = (~answered).sum(axis=1)
    positives = present.sum(axis=1)
    negatives = answered.sum(axis=1) - positives
    rank_sum = (ranks * present).sum(axis=1) - positives * left_out
    with np.errstate(divide="ignore", invalid="ignore"):
        return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def macro_auc_interval(
    Y_true: ArrayLike,
    proba: ArrayLike,
    *,
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of the macro AUC: the evaluation items are resampled (a
    resample keeps an item's findings together), the AUC of every finding with both states is
    averaged. ``(None, None)`` when no resample has a finding with both states."""
    truth = answers_matrix(Y_true)
    scores = np.asarray(proba, dtype=np.float64)
    if len(truth) < 2:
        return None, None
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, len(truth), size=(resamples, len(truth)))
    per_finding = np.stack(
        [_rank_aucs(truth[samples, j], scores[samples, j]) for j in range(truth.shape[1])]
    )
    finite = np.isfinite(per_finding)
    counted = finite.sum(axis=0)
    macro = np.where(finite, per_finding, 0.0).sum(axis=0)[counted > 0] / counted[counted > 0]
    if not len(macro):
        return None, None
    tail = (1.0 - confidence) / 2.0
    return float(np.quantile(macro, tail)), float(np.quantile(macro, 1.0 - tail))
