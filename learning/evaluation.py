"""Metrics on an evaluation set, and the Wilson interval for an accuracy from n items."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def evaluate(y_true: ArrayLike, y_pred: ArrayLike, classes: ArrayLike) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class recall and the confusion matrix.

    ``y_true``, ``y_pred``: ``(n,)`` labels; ``classes``: ``(n_classes,)`` the label order of
    the confusion matrix (rows = true class, columns = predicted class). Macro-F1 and recall
    are taken over ``classes``; a class absent from ``y_true`` has recall ``None``. Returns
    plain Python types (JSON-ready): keys ``accuracy``, ``macro_f1``, ``per_class_recall``
    (class -> recall), ``confusion_matrix`` (list of lists), ``n``.
    """
    truth = np.asarray(y_true)
    predicted = np.asarray(y_pred)
    labels = list(np.asarray(classes).tolist())
    if truth.shape != predicted.shape or truth.ndim != 1:
        raise ValueError("y_true and y_pred must be 1-D and of the same length")
    index = {label: i for i, label in enumerate(labels)}
    unknown = {v for v in set(truth.tolist()) | set(predicted.tolist()) if v not in index}
    if unknown:
        raise ValueError(f"labels not in classes: {sorted(map(str, unknown))}")
    n_classes = len(labels)
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    if len(truth):
        rows = np.array([index[v] for v in truth.tolist()])
        cols = np.array([index[v] for v in predicted.tolist()])
        np.add.at(matrix, (rows, cols), 1)
    true_counts = matrix.sum(axis=1)
    predicted_counts = matrix.sum(axis=0)
    correct = np.diag(matrix)
    f1_scores = []
    recalls: dict[Any, float | None] = {}
    for i, label in enumerate(labels):
        recall = correct[i] / true_counts[i] if true_counts[i] else None
        recalls[label] = None if recall is None else float(recall)
        denominator = true_counts[i] + predicted_counts[i]
        f1_scores.append(2.0 * correct[i] / denominator if denominator else 0.0)
    n = int(len(truth))
    return {
        "accuracy": float(correct.sum() / n) if n else 0.0,
        "macro_f1": float(np.mean(f1_scores)) if f1_scores else 0.0,
        "per_class_recall": recalls,
        "confusion_matrix": matrix.tolist(),
        "n": n,
    }


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` for a proportion ``successes / n``.

    Well behaved at 0 and n successes and for small n, unlike the normal approximation.
    ``n == 0`` gives the uninformative ``(0.0, 1.0)``.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    proportion = successes / n
    denominator = 1.0 + z * z / n
    centre = (proportion + z * z / (2.0 * n)) / denominator
    half_width = z * math.sqrt(proportion * (1 - proportion) / n + z * z / (4.0 * n * n))
    half_width /= denominator
    # At 0 or n successes the bound is exactly 0 or 1; rounding would leave a 1e-17 residue.
    low = 0.0 if successes == 0 else max(0.0, centre - half_width)
    high = 1.0 if successes == n else min(1.0, centre + half_width)
    return low, high
