"""Agreement between annotators: Cohen's kappa for a pair, Fleiss' kappa for a panel, and
each annotator against the consensus."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from learning.stopping import cohens_kappa

__all__ = ["cohens_kappa", "fleiss_kappa", "rating_counts"]


def rating_counts(ratings: Sequence[Sequence[object]], classes: Sequence[object]) -> NDArray:
    """``(n_items, n_classes)`` int counts from each item's list of labels."""
    index = {label: column for column, label in enumerate(classes)}
    counts = np.zeros((len(ratings), len(classes)), dtype=np.int64)
    for row, labels in enumerate(ratings):
        for label in labels:
            counts[row, index[label]] += 1
    return counts


# Hand-written, unlike Cohen's kappa: neither scikit-learn nor SciPy has Fleiss' kappa, and
# statsmodels' (the maintained one) would bring pandas and patsy into the engine's wheel for
# ten lines; tests/learning/test_agreement.py checks it on Fleiss' (1971) worked example.
def fleiss_kappa(counts: ArrayLike) -> float:
    """Fleiss' kappa from ``(n_items, n_classes)`` counts; every item has the same number of
    ratings (at least two). 1 = perfect agreement, 0 = chance level.

    Raises ``ValueError`` on unequal rating counts, fewer than two ratings or no items.
    """
    table = np.asarray(counts, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] == 0:
        raise ValueError("counts must be a non-empty (n_items, n_classes) table")
    per_item = table.sum(axis=1)
    if not np.all(per_item == per_item[0]) or per_item[0] < 2:
        raise ValueError("every item needs the same number of ratings, at least two")
    raters = per_item[0]
    agreement = ((table * (table - 1)).sum(axis=1) / (raters * (raters - 1))).mean()
    shares = table.sum(axis=0) / table.sum()
    chance = float(np.dot(shares, shares))
    if chance >= 1.0:
        return 1.0
    return float((agreement - chance) / (1.0 - chance))
