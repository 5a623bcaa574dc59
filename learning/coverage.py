"""Coverage picks for a weak model: TypiClust's rule after the cold start.

Each round TypiClust (Hacohen et al. 2022) clusters the pool into ``n_labeled + n`` k-means
clusters and asks for the most typical item of each of the ``n`` largest clusters that hold
no labeled item. :func:`coverage_n` is that rule; :func:`coverage_count` says how many of a
batch it fills (a share of the batch, for the first labels per class only) and
:func:`coverage_applies` whether the pool suits it at all (the cold start's check of its
clusters, :func:`learning.selection.typical_diverse_n`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from learning.pool import pool_length, take_rows
from learning.selection import (
    FLAT_DENSITY,
    STRENGTH_ROWS,
    STRONG_CLUSTERS,
    _seed_from,
    _typicality,
    cluster_strength,
    density_contrast,
)

# The clusters the check of the typical items is made on: the cold start's thresholds were
# read at 20 (docs/benchmarks.md, issue 20, session 9).
CHECK_CLUSTERS = 20


COVERAGE_POOLS = ("flat", "safe")
"""Where :func:`coverage_applies` lets coverage run (see there)."""


# Pools checked so far, by fingerprint (see _fingerprint): the check costs seconds (two
# k-means, two silhouettes), and a project asks it every round while its labels are few.
_CHECKED: dict[tuple, bool] = {}


def _fingerprint(features: Any, pools: str) -> tuple:
    """The pool's shape and a digest of 64 evenly spread rows (cheap, even memory-mapped)."""
    import hashlib

    n_rows = pool_length(features)
    rows = take_rows(features, np.unique(np.linspace(0, n_rows - 1, 64).astype(np.int64)))
    digest = hashlib.sha256(np.ascontiguousarray(rows, dtype=np.float32).tobytes()).hexdigest()
    return (n_rows, rows.shape[1], digest, pools)


def coverage_applies(features: Any, pools: str = "flat") -> bool:
    """Whether coverage picks suit the pool, by the cold start's check of its 20 k-means
    clusters: ``"safe"``, where the typical items are safe (the clusters are clear, or their
    typical items no denser than the rest); ``"flat"``, only where the clusters are not clear
    but their typical items no denser than the rest (sentence embeddings). Where the clusters
    are clear the cold start's typical items already cover them and the default's margin
    sampling does the rest (digits70k: 70 labels to target; 110 with the coverage phase).
    A property of the whole pool (labeled rows too), seeded on its own, on at most
    ``STRENGTH_ROWS`` rows, and remembered per pool."""
    from sklearn.cluster import KMeans

    if pools not in COVERAGE_POOLS:
        raise ValueError(f"pools must be one of {', '.join(COVERAGE_POOLS)}")
    key = _fingerprint(features, pools)
    if key in _CHECKED:
        return _CHECKED[key]
    rng = np.random.default_rng(0)
    positions = np.arange(pool_length(features))
    if len(positions) > STRENGTH_ROWS:
        positions = np.sort(rng.choice(positions, size=STRENGTH_ROWS, replace=False))
    if len(positions) <= CHECK_CLUSTERS:
        return pools == "safe"
    rows = take_rows(features, positions).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = KMeans(n_clusters=CHECK_CLUSTERS, n_init=1, random_state=0).fit_predict(rows)
    if cluster_strength(rows, labels) >= STRONG_CLUSTERS:
        applies = pools == "safe"
    else:
        typicalities = [_typicality(rows[labels == c], 20) for c in np.unique(labels)]
        applies = density_contrast(typicalities) < FLAT_DENSITY
    if len(_CHECKED) >= 32:
        _CHECKED.pop(next(iter(_CHECKED)))
    _CHECKED[key] = applies
    return applies


def coverage_count(
    n: int, y_labeled: ArrayLike | None, *, share: float, labels_per_class: int | None
) -> int:
    """How many of a batch of ``n`` :func:`coverage_n` fills: ``share`` of it while fewer than
    ``labels_per_class`` labels per class seen are labeled (always, with ``None``)."""
    if share <= 0.0 or y_labeled is None:
        return 0
    y = np.asarray(y_labeled)
    if labels_per_class is not None and len(y) >= labels_per_class * len(np.unique(y)):
        return 0
    return min(int(n), max(1, int(np.floor(share * n + 0.5))))


def coverage_n(
    features: Any,
    n: int,
    rng: np.random.Generator,
    *,
    X_labeled: ArrayLike,
    allowed: NDArray[np.bool_],
    max_sample: int = 10_000,
    n_neighbors: int = 20,
) -> NDArray[np.int64]:
    """TypiClust's round: the most typical allowed item of each of the ``n`` largest of
    ``len(X_labeled) + n`` k-means clusters of the pool that hold no labeled row.

    The clusters are fitted on a seeded sample of at most ``max_sample`` allowed rows with the
    labeled rows; positions index ``features``, largest cluster first."""
    from sklearn.cluster import KMeans

    labeled = np.asarray(X_labeled, dtype=np.float64).reshape(-1, take_rows(features, [0]).shape[1])
    positions = np.flatnonzero(allowed)
    n = min(int(n), len(positions))
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    if len(positions) > max_sample:
        positions = np.sort(rng.choice(positions, size=max_sample, replace=False))
    rows = np.vstack([take_rows(features, positions).astype(np.float64), labeled])
    k = min(len(labeled) + n, len(rows))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = KMeans(n_clusters=k, n_init=1, random_state=_seed_from(rng)).fit_predict(rows)
    pool_labels, labeled_labels = labels[: len(positions)], labels[len(positions) :]
    sizes = np.bincount(labels, minlength=k)
    uncovered = np.setdiff1d(np.unique(pool_labels), labeled_labels)
    uncovered = uncovered[np.argsort(-sizes[uncovered], kind="stable")][:n]
    picked = []
    for cluster in uncovered:
        members = np.flatnonzero(pool_labels == cluster)
        typical = _typicality(rows[members], n_neighbors)
        picked.append(positions[members[int(np.argmax(typical))]])
    picked_positions = np.asarray(picked, dtype=np.int64)
    if len(picked_positions) < n:
        # Fewer uncovered clusters than asked (duplicate rows): seeded random allowed items.
        rest = np.flatnonzero(allowed)
        rest = rest[~np.isin(rest, picked_positions)]
        extra = rng.choice(rest, size=min(n - len(picked_positions), len(rest)), replace=False)
        picked_positions = np.concatenate([picked_positions, extra.astype(np.int64)])
    return picked_positions
