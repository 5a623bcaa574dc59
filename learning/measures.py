"""Uncertainty measures: class probabilities in, one score per item out (higher = ask first).

Every function takes ``proba`` of shape ``(n_items, n_classes)`` (rows sum to 1) and returns
float64 scores of shape ``(n_items,)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

Measure = Callable[[ArrayLike], NDArray[np.float64]]


def _as_proba(proba: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(proba, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"proba must be 2-D (n_items, n_classes), got shape {array.shape}")
    return array


def least_confidence_scores(proba: ArrayLike) -> NDArray[np.float64]:
    """``1 - max_c p(c | x)``; shape ``(n_items,)``, in ``[0, 1 - 1/n_classes]``."""
    array = _as_proba(proba)
    if array.shape[1] == 0:
        return np.zeros(array.shape[0])
    return 1.0 - array.max(axis=1)


def margin_scores(proba: ArrayLike) -> NDArray[np.float64]:
    """``1 - (p_first - p_second)``: one minus the gap between the two likeliest classes.

    With a single class column the margin is taken against zero, so every score is 0.
    Shape ``(n_items,)``, in ``[0, 1]``.
    """
    array = _as_proba(proba)
    if array.shape[1] < 2:
        return np.zeros(array.shape[0])
    # partition is O(n_classes) per row, cheaper than a full sort on many classes.
    top_two = np.partition(array, array.shape[1] - 2, axis=1)[:, -2:]
    return 1.0 - (top_two[:, 1] - top_two[:, 0])


def entropy_scores(proba: ArrayLike) -> NDArray[np.float64]:
    """Shannon entropy ``-sum_c p log p`` in nats (0 log 0 = 0); shape ``(n_items,)``."""
    array = _as_proba(proba)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(array > 0.0, array * np.log(array), 0.0)
    return -terms.sum(axis=1)


UNCERTAINTY_MEASURES: dict[str, Measure] = {
    "least_confidence": least_confidence_scores,
    "margin": margin_scores,
    "entropy": entropy_scores,
}


def uncertainty_scores(proba: ArrayLike, method: str = "margin") -> NDArray[np.float64]:
    """Dispatch to one of :data:`UNCERTAINTY_MEASURES` by name; shape ``(n_items,)``."""
    try:
        measure = UNCERTAINTY_MEASURES[method]
    except KeyError:
        known = ", ".join(sorted(UNCERTAINTY_MEASURES))
        raise ValueError(f"unknown uncertainty measure {method!r}; known: {known}") from None
    return measure(proba)
