"""When to stop labeling: stabilised predictions, target reached, or budget spent.

Stabilising predictions (Bloodgood & Vijay-Shanker, 2009): Cohen's kappa between the
predictions of consecutive models on a fixed, unlabeled stop set. Kappa at or above 0.99 for
three consecutive rounds says the model has stopped changing. The signal is advice shown to
the manager, never enforced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

KAPPA_THRESHOLD = 0.99
STABLE_ROUNDS = 3


def cohens_kappa(previous: ArrayLike, current: ArrayLike) -> float:
    """Cohen's kappa between two label vectors ``(n,)`` (two models' predictions), from
    scikit-learn's ``cohen_kappa_score``.

    1 for identical predictions; when both models predict one and the same class everywhere
    (chance agreement 1), returns 1.0 since they agree completely.
    """
    a = np.asarray(previous)
    b = np.asarray(current)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("both prediction vectors must be 1-D of the same length")
    if len(a) == 0:
        raise ValueError("kappa needs at least one prediction")
    if len(np.unique(np.concatenate([a, b]))) == 1:
        # Chance agreement is 1 and scikit-learn's kappa is 0/0 (nan): they agree completely.
        return 1.0
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(a, b))


def kappa_history(predictions: Sequence[ArrayLike]) -> list[float]:
    """Kappa of each model's stop-set predictions with the previous model's (len - 1 values)."""
    return [cohens_kappa(predictions[i - 1], predictions[i]) for i in range(1, len(predictions))]


@dataclass(frozen=True)
class StopSignal:
    """should_stop: advise stopping; reason: a sentence for the dashboard."""

    should_stop: bool
    reason: str


def stopping_signal(
    kappa_history: Sequence[float],
    *,
    metric: float | None = None,
    target: float | None = None,
    labels_spent: int | None = None,
    budget: int | None = None,
    kappa_threshold: float = KAPPA_THRESHOLD,
    stable_rounds: int = STABLE_ROUNDS,
) -> StopSignal:
    """Combine the three stopping rules; the first that holds gives the reason.

    ``kappa_history``: kappa between consecutive models, oldest first. ``metric`` / ``target``:
    the evaluation-set metric and the manager's target. ``labels_spent`` / ``budget``: labels.
    """
    if budget is not None and labels_spent is not None and labels_spent >= budget:
        return StopSignal(True, f"budget spent: {labels_spent} of {budget} labels")
    if target is not None and metric is not None and metric >= target:
        return StopSignal(True, f"target reached: {metric:.3f} >= {target:.3f}")
    recent = list(kappa_history)[-stable_rounds:]
    if len(recent) == stable_rounds and min(recent) >= kappa_threshold:
        return StopSignal(
            True,
            f"predictions stabilised: kappa >= {kappa_threshold} for {stable_rounds} rounds",
        )
    return StopSignal(False, "keep labeling")
