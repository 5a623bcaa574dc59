"""The findings default (issue 21, session 9): each batch split between ways of choosing
(**arms**), the split learned per project from how the items each arm chose turned out once
labeled (the idea of "Active learning by learning", Hsu & Lin 2015).

A batch: a random first batch (no model yet); then a share ``rare_share`` searching positives of
the findings with fewer than ``min_positives`` (:func:`learning.findings.strategies.
rare_positive_positions`), the rest split between the arms, from the ``candidate_factor * n``
items of highest mean margin:

- ``features`` (:data:`FEATURES`): the item nearest each centre of margin-weighted k-means of
  the raw features (the first findings default's batch; it won the Debian tags: 140 labels);
- ``top`` (:data:`TOP`): the items of highest mean P(present), no clustering (modAL's
  avg_confidence; it won the digit canvases: 220 labels, and lost the tags: > 300), skipping
  near copies (cosine of the features >= ``duplicate_cosine``, :func:`distinct_first`) of the
  batch's other items and of the labeled ones: copies of an item are equally likely present;
- ``centre`` / ``positive`` (:data:`CENTRE`, :data:`POSITIVE`): the item nearest the centre, or
  the likeliest present (``positive_pick``), of each cluster of the model's P(present) per
  finding (the session-8 default's batch and its variant; kept for measuring).

The evidence is, for every labeled item an arm chose, the model's P(present) when it was chosen
and the answer the expert gave. :func:`arm_shares` turns it into the next batch's split; the
default's rule (``calibration``) weighs the last arm, ``top``, by its items' **surprise**: the
pre-label log-loss minus the loss the model itself expected (its binary entropy). Above zero,
the items the model thought likely held findings it did not expect (the canvases: +0.12 to
+0.26 per item and finding): positive seeking pays, and ``top`` takes ``1 - floor`` of the
batch; below zero (the tags: -0.06), the model was less wrong there than it feared, and
``features`` takes it. Nothing is kept between rounds but the evidence (the simulator keeps it
in its loop, the app in each model run's artifact directory), so the split is the same
function of the same labels in both::

    strategy = get_findings_strategy("default").with_evidence(arms, proba, Y_answers)
    choice = strategy.choose(model, X_pool, 20, rng=rng, y_labeled=Y_labeled, exclude=labeled)
    # keep choice.arms (k,) and choice.proba (k, n_findings) with choice.result.positions
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from learning.findings.evidence import (
    ARM_CODES,
    CENTRE,
    FEATURES,
    OTHER,
    POSITIVE,
    REWARDS,
    RULES,
    TOP,
    arm_counts,
    arm_shares,
    positive_share,
)
from learning.findings.model import DEFAULT_UNCERTAIN
from learning.pool import (
    DEFAULT_CHUNK_SIZE,
    allowed_mask,
    excluded_positions,
    pool_length,
    take_rows,
)
from learning.selection import CLUSTER_ITERATIONS, _seed_from, candidate_count, top_n
from learning.strategy_base import QueryResult, _result, _StrategyBase, pool_scores

__all__ = [
    "ARM_CODES", "CENTRE", "FEATURES", "OTHER", "POSITIVE", "REWARDS", "RULES", "TOP",
    "DUPLICATE_COSINE", "ArmsChoice", "FindingsArms", "arm_counts", "arm_shares",
    "distinct_first", "positive_share",
]  # fmt: skip


@dataclass(frozen=True)
class ArmsChoice:
    """One batch: ``result`` (positions and scores), the arm of each position ``arms``
    ``(k,)`` int8, and ``proba`` ``(k, n_findings)`` float32, the model's P(present) for each
    (``(k, 0)`` without a model). Keep ``arms`` and ``proba`` with the chosen items: once they
    are labeled they are the evidence for :meth:`FindingsArms.with_evidence`."""

    result: QueryResult
    arms: NDArray[np.int8]
    proba: NDArray[np.float32]


def _mean_margin(proba: NDArray[np.float64]) -> NDArray[np.float64]:
    if not proba.shape[1]:
        return np.zeros(len(proba))
    return (1.0 - np.abs(2.0 * proba - 1.0)).mean(axis=1)


def _kmeans(rows: NDArray[np.float64], weights: NDArray[np.float64], n: int,
            rng: np.random.Generator):  # fmt: skip
    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer distinct rows than clusters: filled later
        clusters = KMeans(
            n_clusters=n, n_init=1, max_iter=CLUSTER_ITERATIONS, random_state=_seed_from(rng)
        )
        labels = clusters.fit_predict(rows, sample_weight=weights)
    return labels, clusters.transform(rows)[np.arange(len(rows)), labels]


POSITIVE_PICKS: dict[str, Callable[[NDArray[np.float64]], NDArray[np.float64]]] = {
    "present_margin": lambda p: p.mean(axis=1) * _mean_margin(p),
    "present": lambda p: p.mean(axis=1),
    "cell_present_margin": lambda p: (p * (1.0 - np.abs(2.0 * p - 1.0))).mean(axis=1),
}
"""How the positive arm ranks a cluster's candidates, ``P(present) (c, k) -> (c,)``."""


def _cluster_picks(
    proba: NDArray[np.float64], weights: NDArray[np.float64], n: int, n_positive: int,
    rng: np.random.Generator, positive_pick: str = "present_margin",
) -> tuple[NDArray[np.int64], NDArray[np.int8]]:  # fmt: skip
    """Indices into the candidates (``proba`` ``(c, k)``) of one item per cluster of ``n``,
    and each one's arm: ``n_positive`` clusters, drawn at random, pick by the positive arm
    (:data:`POSITIVE_PICKS`), the others their centre."""
    labels, distance = _kmeans(proba, weights, n, rng)
    positive_score = POSITIVE_PICKS[positive_pick](proba)
    to_positive = np.zeros(n, dtype=bool)
    to_positive[rng.permutation(n)[:n_positive]] = True
    picks, arms = [], []
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        if to_positive[cluster]:
            picks.append(members[np.argmax(positive_score[members])])
            arms.append(POSITIVE)
        else:
            picks.append(members[np.argmin(distance[members])])
            arms.append(CENTRE)
    return np.asarray(picks, dtype=np.int64), np.asarray(arms, dtype=np.int8)


DUPLICATE_COSINE = 0.99
"""Rows at least this cosine-similar are copies of one item. The benches' sets have no pair of
distinct items above it: nearest-neighbour cosine at most 0.988 on the Debian tags' MiniLM
embeddings; on the canvases 0.978 at the 99th percentile, then exact copies (1.0)."""
DUPLICATE_SEARCH = 20
"""The ``top`` arm looks for distinct items among at most this many of its best candidates per
pick (at least 256): where they are all copies, the batch is filled by margin as before."""


def _unit_rows(rows: Any) -> NDArray[np.float32]:
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    # An all-zero row (a blank canvas) has no direction: one extra axis makes the all-zero rows
    # copies of each other and of nothing else.
    zero = norms == 0
    return np.column_stack([rows / np.where(zero, 1.0, norms), zero]).astype(np.float32)


def distinct_first(
    rows: Any, n: int, seen: Any = None, threshold: float = DUPLICATE_COSINE, block: int = 256
) -> NDArray[np.int64]:
    """Indices of the first ``n`` of ``rows`` ``(c, d)``, in their order, that are no near copy
    (cosine >= ``threshold``) of an earlier one taken or of a row of ``seen`` ``(m, d)``; fewer
    when the rows run out. Reads ``block`` rows at a time and stops once ``n`` are taken, so a
    batch compares a few hundred candidates, never the pool."""
    rows = np.asarray(rows)
    reference = _unit_rows(seen) if seen is not None and len(seen) else None
    taken: list[int] = []
    kept = np.zeros((0, rows.shape[1] + 1), dtype=np.float32)
    for start in range(0, len(rows), block):
        unit = _unit_rows(rows[start : start + block])
        copied = np.zeros(len(unit), dtype=bool)
        if reference is not None:
            copied = (unit @ reference.T >= threshold).any(axis=1)
        for i in np.flatnonzero(~copied):
            if len(taken) >= n:
                break
            if not len(kept) or (kept @ unit[i]).max() < threshold:
                taken.append(start + int(i))
                kept = np.vstack([kept, unit[i]])
        if len(taken) >= n:
            break
    return np.asarray(taken[:n], dtype=np.int64)


def _centre_picks(rows: NDArray[np.float64], weights: NDArray[np.float64], n: int,
                  rng: np.random.Generator) -> NDArray[np.int64]:  # fmt: skip
    """Indices of the row nearest each centre of ``n`` weighted k-means clusters of ``rows``."""
    labels, distance = _kmeans(rows, weights, n, rng)
    order = np.lexsort((distance, labels))
    _, first = np.unique(labels[order], return_index=True)
    return np.sort(order[first]).astype(np.int64)


@dataclass(frozen=True)
class FindingsArms(_StrategyBase):
    """The findings default (see the module's docstring). ``arms``: the arms that share the
    clusters (names in :data:`ARM_CODES`); ``shares``: their shares for this batch
    (:meth:`with_evidence` sets them; None: ``positive_share`` for the positive arm of
    ``("centre", "positive")``, else equal); how the evidence sets
    them (``rule``, ``reward``, ``floor``: :func:`arm_shares`); ``learn`` False keeps them
    whatever the evidence (a fixed split, for measuring)."""

    name: str = "default"
    cold_start: str = "random"  # the first batch (no model): a seeded uniform draw
    arms: tuple[str, ...] = ("features", "top")
    shares: tuple[float, ...] | None = None
    positive_share: float = 0.5
    positive_pick: str = "present_margin"
    rule: str = "calibration"
    reward: str = "surprise"
    floor: float = 0.05
    learn: bool = True
    candidate_factor: int = 1000
    max_candidates: int = 10_000
    rare_share: float = 0.2
    min_positives: int = 5
    duplicate_cosine: float = DUPLICATE_COSINE
    uncertain: str = DEFAULT_UNCERTAIN
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def __post_init__(self) -> None:
        object.__setattr__(self, "arms", tuple(self.arms))
        if self.shares is not None:
            object.__setattr__(self, "shares", tuple(float(x) for x in self.shares))
        unknown = [a for a in self.arms if a not in ARM_CODES]
        if unknown or not self.arms or len(set(self.arms)) != len(self.arms):
            raise ValueError(f"arms must be distinct names of {', '.join(ARM_CODES)}")
        if self.shares is not None and len(self.shares) != len(self.arms):
            raise ValueError("one share per arm")
        if self.positive_pick not in POSITIVE_PICKS:
            raise ValueError(f"positive_pick must be one of {', '.join(POSITIVE_PICKS)}")
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}, got {self.rule!r}")
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}, got {self.reward!r}")
        if not 0.0 < self.duplicate_cosine < 1.0:  # exact float32 copies may score 1 - 1e-7
            raise ValueError("duplicate_cosine must be in (0, 1)")
        for name in ("positive_share", "rare_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        if not 0.0 <= self.floor * len(self.arms) <= 1.0:
            raise ValueError("floor times the number of arms must be in [0, 1]")

    def current_shares(self) -> tuple[float, ...]:
        """The arms' shares of this batch's clusters, in ``arms`` order."""
        if self.shares is not None:
            return self.shares
        if self.arms == ("centre", "positive"):
            return (1.0 - self.positive_share, self.positive_share)
        return tuple(1.0 / len(self.arms) for _ in self.arms)

    def with_evidence(self, arms: ArrayLike, proba: ArrayLike, Y: ArrayLike) -> FindingsArms:
        """This strategy with the shares the evidence gives (itself when not ``learn``):
        ``arms`` ``(m,)``, ``proba`` ``(m, k)`` as :class:`ArmsChoice` kept them, ``Y``
        ``(m, k)`` the answers those items got."""
        if not self.learn:
            return self
        shares = arm_shares(
            arms, proba, Y, names=self.arms, reward=self.reward, floor=self.floor,
            uncertain=self.uncertain, rule=self.rule,
        )  # fmt: skip
        return replace(self, shares=shares)

    def query(self, model, X_pool, n, *, rng, X_labeled=None, y_labeled=None, exclude=None):
        return self.choose(
            model, X_pool, n, rng=rng, X_labeled=X_labeled, y_labeled=y_labeled, exclude=exclude
        ).result

    def choose(
        self, model: Any, X_pool: Any, n: int, *, rng: np.random.Generator,
        X_labeled: Any = None, y_labeled: Any = None, exclude: Any = None,
    ) -> ArmsChoice:  # fmt: skip
        """The batch of ``n`` with each item's arm and the model's P(present) for it."""
        from learning.findings.strategies import rare_search
        from learning.strategy_base import RandomSampling

        excluded = excluded_positions(pool_length(X_pool), exclude)
        if model is None:
            result = RandomSampling().query(None, X_pool, n, rng=rng, exclude=excluded)
            k = len(result.positions)
            return ArmsChoice(result, np.full(k, OTHER, np.int8), np.zeros((k, 0), np.float32))
        allowed = allowed_mask(pool_length(X_pool), excluded)
        n = min(int(n), int(allowed.sum()))
        rare_picks = rare_search(
            model, X_pool, y_labeled, n, self, allowed=allowed, chunk_size=self.chunk_size
        )
        margins = pool_scores(
            X_pool, lambda rows, _index: _mean_margin(model.predict_proba(rows)),
            exclude=np.flatnonzero(~allowed), chunk_size=self.chunk_size,
        )  # fmt: skip
        n_rest = n - len(rare_picks)
        n_candidates = candidate_count(
            n_rest, int(allowed.sum()), candidate_factor=self.candidate_factor,
            max_candidates=self.max_candidates,
        )  # fmt: skip
        candidates, candidate_margins = top_n(margins, n_candidates, rng)
        if n_rest >= len(candidates):
            picked, arms = candidates[:n_rest], np.full(len(candidates[:n_rest]), OTHER)
        else:
            seen = take_rows(X_pool, rare_picks)
            if X_labeled is not None and len(X_labeled):
                seen = np.concatenate([np.asarray(X_labeled, dtype=np.float32), seen])
            picked, arms = self._arm_picks(
                model, X_pool, candidates, candidate_margins, n_rest, rng, seen
            )
            if len(picked) < n_rest:  # fewer clusters or distinct top items: the next margins
                rest = candidates[~np.isin(candidates, picked)][: n_rest - len(picked)]
                picked = np.concatenate([picked, rest])
                arms = np.concatenate([arms, np.full(len(rest), OTHER)])
            order = np.argsort(-margins[picked], kind="stable")
            picked, arms = picked[order], arms[order]
        positions = np.concatenate([rare_picks, picked]).astype(np.int64)
        arms = np.concatenate([np.full(len(rare_picks), OTHER), arms]).astype(np.int8)
        k = len(positions)
        # The scores of a mixed batch only encode its ask order (as the default's did).
        result = _result(positions, np.linspace(1.0, 0.0, k) if k > 1 else np.ones(k))
        chosen = np.zeros((0, len(model.classes_)), dtype=np.float32)
        if k:
            chosen = model.predict_proba(take_rows(X_pool, positions)).astype(np.float32)
        return ArmsChoice(result, arms, chosen)

    def _arm_picks(self, model, X_pool, candidates, candidate_margins, n, rng, seen):
        """``n`` of the ``candidates``, one per cluster, split between the arms; ``top`` skips
        near copies of the features arm's picks and of ``seen`` (the labeled and rare rows)."""
        counts = dict(zip(self.arms, arm_counts(self.current_shares(), n, rng).tolist(),
                          strict=True))  # fmt: skip
        weights = candidate_margins - candidate_margins.min() + 1e-6
        picked = np.empty(0, dtype=np.int64)
        arms = np.empty(0, dtype=np.int8)
        keep = np.ones(len(candidates), dtype=bool)
        if counts.get("features", 0):
            rows = take_rows(X_pool, candidates).astype(np.float64)
            at = _centre_picks(rows, weights, counts["features"], rng)
            picked, arms = candidates[at], np.full(len(at), FEATURES, np.int8)
            keep[at] = False
        if counts.get("top", 0):
            left = np.flatnonzero(keep)
            rows = take_rows(X_pool, candidates[left])
            order = np.argsort(-model.predict_proba(rows).mean(axis=1), kind="stable")
            seen = np.concatenate([seen, take_rows(X_pool, picked)])
            order = order[: max(256, DUPLICATE_SEARCH * counts["top"])]
            distinct = distinct_first(rows[order], counts["top"], seen, self.duplicate_cosine)
            at = left[order[distinct]]
            picked = np.concatenate([picked, candidates[at]])
            arms = np.concatenate([arms, np.full(len(at), TOP, np.int8)])
            keep[at] = False
        n_proba = counts.get("centre", 0) + counts.get("positive", 0)
        if n_proba:
            left = np.flatnonzero(keep)
            proba = model.predict_proba(take_rows(X_pool, candidates[left]))
            at, proba_arms = _cluster_picks(
                proba,
                weights[left],
                min(n_proba, len(left)),
                counts.get("positive", 0),
                rng,
                self.positive_pick,
            )
            picked = np.concatenate([picked, candidates[left[at]]])
            arms = np.concatenate([arms, proba_arms])
        return picked.astype(np.int64), arms.astype(np.int8)
