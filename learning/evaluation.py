"""Metrics on an evaluation set (scikit-learn's), and the Wilson interval for an accuracy from n
items (SciPy's)."""

from __future__ import annotations

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
    known = set(labels)
    unknown = {v for v in set(truth.tolist()) | set(predicted.tolist()) if v not in known}
    if unknown:
        raise ValueError(f"labels not in classes: {sorted(map(str, unknown))}")
    n = int(len(truth))
    if n == 0:
        # scikit-learn refuses empty inputs; an evaluation set may still be empty.
        return {
            "accuracy": 0.0,
            "macro_f1": 0.0,
            "per_class_recall": dict.fromkeys(labels),
            "confusion_matrix": np.zeros((len(labels), len(labels)), dtype=np.int64).tolist(),
            "n": 0,
        }
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

    matrix = confusion_matrix(truth, predicted, labels=labels)
    recalls = recall_score(truth, predicted, labels=labels, average=None, zero_division=0.0)
    support = matrix.sum(axis=1)
    macro_f1 = f1_score(truth, predicted, labels=labels, average="macro", zero_division=0.0)
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(macro_f1) if labels else 0.0,
        "per_class_recall": {
            label: float(recall) if support[i] else None
            for i, (label, recall) in enumerate(zip(labels, recalls, strict=True))
        },
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
    from scipy.stats import binomtest

    interval = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    # At 0 or n successes the bound is exactly 0 or 1; rounding would leave a 1e-17 residue.
    low = 0.0 if successes == 0 else max(0.0, float(interval.low))
    high = 1.0 if successes == n else min(1.0, float(interval.high))
    return low, high
