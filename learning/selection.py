"""Selectors: turn one score per pool item into an ordered batch of positions.

All selectors return ``(positions, scores)``: int64 positions into the scored array, distinct,
ordered most informative first, and their float64 scores (non-increasing). Ties are broken by
the passed ``np.random.Generator`` so a seed fixes the choice.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from learning.pool import pool_length, take_rows

# Lloyd iterations of the diversity clustering. k-means++ already spreads the centres; the
# iterations after the tenth moved no pick that mattered: simulated with the default strategy
# (6 seeds, batches of 20 and 60), labels to 95% and AULC were the same within noise on digits
# and the demo text (AULC 0.958-0.964 against 0.962-0.965, 0.947-0.948 against 0.943-0.951),
# while choosing 50 of 10,000 384-d candidates took 392 ms instead of 676 (one thread; 22-26
# iterations to converge). The clustering is most of a retrain's query.
CLUSTER_ITERATIONS = 10


def _seed_from(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _order(
    positions: NDArray[np.int64], scores: NDArray[np.float64], rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Sort by score descending, ties in random (seeded) order."""
    tiebreak = rng.random(len(positions))
    order = np.lexsort((tiebreak, -scores))
    return positions[order].astype(np.int64), scores[order].astype(np.float64)


def order_by_score(
    positions: NDArray[np.int64], scores: NDArray[np.float64], rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """``positions`` sorted by their ``scores``, highest first, ties in seeded order."""
    return _order(np.asarray(positions), np.asarray(scores, dtype=np.float64), rng)


def top_n(
    scores: ArrayLike, n: int, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The ``n`` highest finite-or-not scores (``-inf`` marks a position never to pick).

    ``scores`` shape ``(n_items,)``. Returns at most ``min(n, #positions with score > -inf)``
    positions. O(n_items) selection plus a sort of the chosen ones, so it is cheap on a
    million-item pool.
    """
    values = np.asarray(scores, dtype=np.float64)
    candidates = np.flatnonzero(values > -np.inf)
    n = min(int(n), len(candidates))
    if n <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    candidate_scores = values[candidates]
    if n < len(candidates):
        threshold = np.partition(candidate_scores, len(candidates) - n)[len(candidates) - n]
        above = candidates[candidate_scores > threshold]
        tied = candidates[candidate_scores == threshold]
        # Draw among the items tied at the cut so a seed, not the array order, decides.
        tied = rng.permutation(tied)[: n - len(above)]
        chosen = np.concatenate([above, np.sort(tied)])
    else:
        chosen = candidates
    return _order(chosen, values[chosen], rng)


def candidate_count(
    n: int,
    n_allowed: int,
    *,
    candidate_factor: int,
    max_candidates: int,
    candidate_share: float | None = None,
) -> int:
    """How many of the most uncertain items a diverse batch of ``n`` is chosen among.

    Without ``candidate_share``: ``candidate_factor * n``. With it: that share of the
    ``n_allowed`` queryable items, never fewer than ``candidate_factor * n`` (so a small pool
    still gives each cluster a few candidates). Always between ``n`` and ``max_candidates``
    and at most ``n_allowed``. A share keeps the candidates the uncertain part of the pool
    whatever its size: a fixed 10,000 was the whole of any smaller pool, where each
    cluster's pick was then a typical, easy item (issue 20).
    """
    wanted = candidate_factor * n
    if candidate_share is not None:
        wanted = max(wanted, int(np.ceil(candidate_share * n_allowed)))
    return int(min(max(wanted, n), max_candidates, n_allowed))


def diverse_top_n(
    scores: ArrayLike,
    features: Any,
    n: int,
    rng: np.random.Generator,
    *,
    candidate_factor: int = 10,
    max_candidates: int = 10_000,
    candidate_share: float | None = None,
    random_share: float = 0.0,
    pick: str = "most_uncertain",
    max_iter: int = CLUSTER_ITERATIONS,
    standardize: bool = False,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """A batch that is both uncertain and spread out (no near-duplicates).

    Takes the top ``candidate_count(...)`` scores as candidates (see :func:`candidate_count`:
    ``candidate_factor * n``, or with ``candidate_share`` that share of the queryable pool
    with ``candidate_factor * n`` as its floor; at most ``max_candidates``), clusters
    their ``features`` rows into as many clusters as there are uncertainty picks with k-means
    weighted by the score, and keeps one candidate of each cluster: the highest-scoring one
    (``pick="most_uncertain"``) or the one nearest the cluster's weighted centre
    (``pick="centroid"``, as CLUE does: uncertain *and* typical of its region). A share
    ``random_share`` of the batch is drawn uniformly from the rest of the pool, as a guard
    against the sampling bias of pure uncertainty sampling. ``max_iter`` bounds the k-means
    (Lloyd) iterations after its k-means++ start. ``standardize`` clusters the candidates'
    rows scaled to unit variance per column (over the candidates), so that no column with a
    large spread decides the clusters alone.

    ``scores``: ``(n_items,)``, ``-inf`` = never pick. ``features``: ``(n_items, d)`` pool
    (array, memmap or sharded view); only the candidate rows are read.
    """
    from sklearn.cluster import KMeans

    if pick not in {"most_uncertain", "centroid"}:
        raise ValueError(f"pick must be 'most_uncertain' or 'centroid', got {pick!r}")
    values = np.asarray(scores, dtype=np.float64)
    if pool_length(features) != len(values):
        raise ValueError("features and scores must have the same number of rows")
    n_allowed = int(np.count_nonzero(values > -np.inf))
    n = min(int(n), n_allowed)
    if n <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    n_random = int(np.floor(random_share * n + 0.5)) if n > 1 else 0
    n_uncertain = n - n_random
    n_candidates = candidate_count(
        n_uncertain,
        n_allowed,
        candidate_factor=candidate_factor,
        max_candidates=max_candidates,
        candidate_share=candidate_share,
    )
    candidates, candidate_scores = top_n(values, n_candidates, rng)
    if n_uncertain >= len(candidates) or n_uncertain <= 1:
        picked = candidates[:n_uncertain]
    else:
        rows = take_rows(features, candidates).astype(np.float64)
        if standardize:
            spread = rows.std(axis=0)
            rows = (rows - rows.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
        # Shift weights to be positive: k-means needs non-negative sample weights.
        weights = candidate_scores - candidate_scores.min() + 1e-6
        with warnings.catch_warnings():
            # Fewer distinct rows than clusters (exact duplicates) is handled below.
            warnings.simplefilter("ignore")
            clusters = KMeans(
                n_clusters=n_uncertain, n_init=1, max_iter=max_iter, random_state=_seed_from(rng)
            )
            labels = clusters.fit_predict(rows, sample_weight=weights)
        if pick == "centroid":
            distance = clusters.transform(rows)[np.arange(len(rows)), labels]
            # Sort by (cluster, distance): the first member seen of a cluster is its centre.
            order = np.lexsort((distance, labels))
            _, first = np.unique(labels[order], return_index=True)
            picked = candidates[np.sort(order[first])]
        else:
            # candidates are sorted by score: the first member seen of a cluster is its best.
            _, first = np.unique(labels, return_index=True)
            picked = candidates[np.sort(first)]
        if len(picked) < n_uncertain:
            rest = candidates[~np.isin(candidates, picked)]
            picked = np.concatenate([picked, rest[: n_uncertain - len(picked)]])
    if n_random:
        remaining = np.flatnonzero(values > -np.inf)
        remaining = remaining[~np.isin(remaining, picked)]
        extra = rng.choice(remaining, size=min(n_random, len(remaining)), replace=False)
        picked = np.concatenate([picked, np.sort(extra)])
    return _order(picked.astype(np.int64), values[picked], rng)


COLD_STARTS = ("checked", "typical", "random", "half", "stratified")
"""The cold starts :func:`cold_start_n` knows (see there)."""


def cold_start_n(
    features: Any,
    n: int,
    rng: np.random.Generator,
    *,
    allowed: NDArray[np.bool_] | None = None,
    coverage: str = "typical",
    max_sample: int = 10_000,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The first ``n`` items, before any model, as positions into ``features`` ``(n_items, d)``
    with scores (see :func:`typical_diverse_n`). ``coverage``:

    - ``"checked"``: ``"typical"`` where the typical items are safe (the clusters are clear,
      or their typical items no denser than the rest), else ``"stratified"``;
    - ``"typical"``: the most typical item of each of ``n`` k-means clusters (TypiClust);
    - ``"stratified"``: a seeded random member of each of ``n`` k-means clusters: covers every
      cluster, and within it samples as the pool is, not its dense core. On an embedding whose
      clusters are not the classes the typical items are the dense cores (the backgrounds of
      a cluttered image set) and the model trained from them stayed behind random labels for
      the whole budget (docs/benchmarks.md, issue 20, session 9);
    - ``"half"``: the typical items of half as many clusters, the rest at random;
    - ``"random"``: a seeded uniform draw.
    """
    if coverage not in COLD_STARTS:
        raise ValueError(f"coverage must be one of {', '.join(COLD_STARTS)}")
    n_rows = pool_length(features)
    allowed_positions = (
        np.arange(n_rows, dtype=np.int64) if allowed is None else np.flatnonzero(allowed)
    )
    n = min(int(n), len(allowed_positions))
    if coverage == "typical":
        return typical_diverse_n(features, n, rng, allowed=allowed, max_sample=max_sample)
    if coverage in {"stratified", "checked"}:
        pick = "random" if coverage == "stratified" else "checked"
        return typical_diverse_n(
            features, n, rng, allowed=allowed, max_sample=max_sample, pick=pick
        )
    n_typical = (n + 1) // 2 if coverage == "half" else 0
    positions, scores = typical_diverse_n(
        features, n_typical, rng, allowed=allowed, max_sample=max_sample
    )
    rest = allowed_positions[~np.isin(allowed_positions, positions)]
    extra = rng.choice(rest, size=min(n - len(positions), len(rest)), replace=False)
    positions = np.concatenate([positions, extra]).astype(np.int64)
    scores = np.concatenate([scores, np.zeros(len(extra))])
    return positions, scores


# The cluster strength from which the cold start takes each cluster's typical item (below it,
# only where they are no denser than the rest: FLAT_DENSITY). Measured (docs/benchmarks.md,
# issue 20, session 9; 20 clusters): digits' spectral embedding 0.66, digits70k@10k's 0.39,
# digits70k's landmark embedding 0.34, where the typical items reached the target first;
# shapes_clutter 0.22 and digits_clutter 0.15, where random members did as well or better.
STRONG_CLUSTERS = 0.27

# Rows the strength is measured on: a silhouette costs the square of it.
STRENGTH_ROWS = 2000


def cluster_strength(rows: NDArray[np.float64], labels: NDArray[np.int64]) -> float:
    """How much clearer the k-means clusters ``labels`` of ``rows`` ``(m, d)`` are than those
    of data without cluster structure: their silhouette minus the silhouette of as many
    k-means clusters of a Gaussian sample with the rows' covariance (about 0: no structure;
    digits' spectral embedding: 0.66). The reference makes it comparable across dimensions
    (k-means on a 2-d Gaussian scores a silhouette of about 0.35, on a 384-d one 0.01). Seeded
    on its own, so it is a property of the pool and leaves the caller's generator alone; on
    at most ``STRENGTH_ROWS`` rows."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(0)
    if len(rows) > STRENGTH_ROWS:
        keep = np.sort(rng.choice(len(rows), size=STRENGTH_ROWS, replace=False))
        rows, labels = rows[keep], labels[keep]
    n_clusters = len(np.unique(labels))
    if n_clusters < 2 or n_clusters >= len(rows):
        # A silhouette needs two clusters and a cluster with two members.
        return 0.0
    centred = rows - rows.mean(axis=0)
    _, spread, axes = np.linalg.svd(centred, full_matrices=False)
    null = rng.standard_normal((len(rows), len(spread))) * (spread / np.sqrt(len(rows) - 1))
    null = null @ axes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        null_labels = KMeans(n_clusters=n_clusters, n_init=1, random_state=0).fit_predict(null)
    return float(silhouette_score(rows, labels) - silhouette_score(null, null_labels))


# Below this density contrast the typical items are safe even in unclear clusters: they are
# then central, not the dense specks of a cluster. Measured (20 clusters, median over
# clusters): the demo corpus's sentence embeddings 1.14-1.15, where the typical items reached
# the target in 170 labels and random members in 190 (seeds 0-2); digits_clutter 1.45-1.49,
# shapes_clutter 1.60-1.73, the digit sets' embeddings 1.48-1.84.
FLAT_DENSITY = 1.3


def _typicality(rows: NDArray[np.float64], n_neighbors: int) -> NDArray[np.float64]:
    """TypiClust's typicality of each of a cluster's ``rows`` ``(m, d)``: the inverse mean
    distance to its ``n_neighbors`` nearest fellow members (zeros for a cluster of one)."""
    from sklearn.neighbors import NearestNeighbors

    k = min(n_neighbors, len(rows) - 1)
    if k < 1:
        return np.zeros(len(rows))
    # kneighbors() without X leaves each point out of its own neighbours.
    distances, _ = NearestNeighbors(n_neighbors=k).fit(rows).kneighbors()
    return 1.0 / (distances.mean(axis=1) + 1e-12)


def density_contrast(typicalities: list[NDArray[np.float64]]) -> float:
    """How much denser each cluster's typical item is than its median member, the median over
    clusters of ``max / median`` typicality (1: the typical item is no denser than the rest;
    clusters of fewer than three items are left out)."""
    ratios = [t.max() / np.median(t) for t in typicalities if len(t) >= 3 and np.median(t) > 0]
    return float(np.median(ratios)) if ratios else 1.0


def typical_diverse_n(
    features: Any,
    n: int,
    rng: np.random.Generator,
    *,
    allowed: NDArray[np.bool_] | None = None,
    max_sample: int = 10_000,
    n_neighbors: int = 20,
    pick: str = "typical",
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Cold start without a model: one typical item from each of ``n`` k-means clusters.

    A seeded sample of at most ``max_sample`` allowed rows of ``features`` ``(n_items, d)`` is
    clustered into ``n`` clusters; in each the item with the highest typicality (inverse mean
    distance to its nearest neighbours in the cluster, TypiClust, Hacohen et al. 2022) is
    chosen, or with ``pick="random"`` a seeded random member (a stratified draw), or with
    ``pick="checked"`` the typical items where they are safe (the clusters are clear,
    :func:`cluster_strength`, or the typical items no denser than the rest,
    :func:`density_contrast`), else random members. Larger clusters come first; the score is
    the cluster's share of the sample.
    """
    if pick not in {"typical", "random", "checked"}:
        raise ValueError(f"pick must be 'typical', 'random' or 'checked', got {pick!r}")
    from sklearn.cluster import KMeans

    n_rows = pool_length(features)
    allowed_positions = (
        np.arange(n_rows, dtype=np.int64) if allowed is None else np.flatnonzero(allowed)
    )
    n = min(int(n), len(allowed_positions))
    if n <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    if len(allowed_positions) > max_sample:
        sample = np.sort(rng.choice(allowed_positions, size=max_sample, replace=False))
    else:
        sample = allowed_positions
    rows = take_rows(features, sample).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = KMeans(n_clusters=n, n_init=1, random_state=_seed_from(rng)).fit_predict(rows)
    clusters = [np.flatnonzero(labels == cluster) for cluster in np.unique(labels)]
    typicalities = None
    if pick != "random":
        typicalities = [_typicality(rows[members], n_neighbors) for members in clusters]
    if pick == "checked":
        clear = cluster_strength(rows, labels) >= STRONG_CLUSTERS
        flat = density_contrast(typicalities) < FLAT_DENSITY
        pick = "typical" if clear or flat else "random"
    picked: list[int] = []
    shares: list[float] = []
    best_typicalities: list[float] = []
    for index, members in enumerate(clusters):
        if pick == "random":
            best, typicality = members[int(rng.integers(len(members)))], 0.0
        else:
            typical = typicalities[index]
            best, typicality = members[int(np.argmax(typical))], float(typical.max())
        picked.append(int(sample[best]))
        shares.append(len(members) / len(sample))
        best_typicalities.append(typicality)
    positions = np.asarray(picked, dtype=np.int64)
    share_scores = np.asarray(shares)
    order = np.lexsort((-np.asarray(best_typicalities), -share_scores))
    positions, share_scores = positions[order], share_scores[order]
    if len(positions) < n:
        # Duplicate rows can leave clusters empty: top up with seeded random picks.
        rest = allowed_positions[~np.isin(allowed_positions, positions)]
        extra = rng.choice(rest, size=n - len(positions), replace=False)
        positions = np.concatenate([positions, extra])
        share_scores = np.concatenate([share_scores, np.zeros(len(extra))])
    return positions, share_scores
