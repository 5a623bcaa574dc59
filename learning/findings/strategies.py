"""Query strategies for findings projects, and their registry.

The call is the single-label one (:class:`learning.strategies.Strategy`)::

    result = get_findings_strategy("default").query(
        model, X_pool, n, rng=rng, X_labeled=X_labeled, y_labeled=Y_labeled, exclude=labeled
    )

with ``model`` a fitted :class:`learning.findings.model.FindingsClassifier` (``predict_proba``
``(n, k)`` P(present)) or None before the first model (then the cold start chooses), and
``y_labeled`` the ``(n_labeled, k)`` answers (1 / 0 / -1).

Per-finding uncertainty is the binary margin ``1 - |2p - 1|`` or the binary entropy (in bits);
an item's score aggregates its findings by the mean or the max. Rare-positive search asks for
the items most likely present for the findings with fewer than ``min_positives`` positives,
so that a finding present in 2% of the pool is learned at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from learning.findings.arms import FindingsArms
from learning.findings.model import DEFAULT_UNCERTAIN, positives_per_finding
from learning.pool import DEFAULT_CHUNK_SIZE, allowed_mask, excluded_positions, pool_length
from learning.selection import diverse_top_n, top_n
from learning.strategy_base import (
    ColdStart,
    QueryResult,
    RandomSampling,
    Strategy,
    _result,
    _StrategyBase,
    pool_scores,
)

FindingsMeasure = Callable[[NDArray[np.float64]], NDArray[np.float64]]
MIN_POSITIVES = 5


def finding_margins(proba: ArrayLike) -> NDArray[np.float64]:
    """``1 - |p - (1 - p)|`` per item and finding, ``(n, k)``, in ``[0, 1]``; 1 at p = 0.5."""
    p = np.asarray(proba, dtype=np.float64)
    return 1.0 - np.abs(2.0 * p - 1.0)


def finding_entropies(proba: ArrayLike) -> NDArray[np.float64]:
    """Binary entropy in bits per item and finding, ``(n, k)``, in ``[0, 1]``."""
    p = np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1.0 - 1e-12)
    return -(p * np.log2(p) + (1.0 - p) * np.log2(1.0 - p))


def _aggregate(per_finding: Callable, how: str) -> FindingsMeasure:
    def measure(proba: NDArray[np.float64]) -> NDArray[np.float64]:
        values = per_finding(proba)
        if values.shape[1] == 0:
            return np.zeros(values.shape[0])
        return values.mean(axis=1) if how == "mean" else values.max(axis=1)

    measure.__name__ = f"{how}_{per_finding.__name__.removeprefix('finding_').rstrip('s')}"
    return measure


def _present(proba: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(proba, dtype=np.float64)


FINDINGS_MEASURES: dict[str, FindingsMeasure] = {
    "mean_present": _aggregate(_present, "mean"),
    "mean_margin": _aggregate(finding_margins, "mean"),
    "max_margin": _aggregate(finding_margins, "max"),
    "mean_entropy": _aggregate(finding_entropies, "mean"),
    "max_entropy": _aggregate(finding_entropies, "max"),
}
"""Item scores ``(n,)`` from P(present) ``(n, k)``; higher = ask first."""


def rare_findings(y_labeled: ArrayLike | None, min_positives: int = MIN_POSITIVES,
                  uncertain: str = DEFAULT_UNCERTAIN) -> NDArray[np.int64]:  # fmt: skip
    """Columns of the findings with fewer than ``min_positives`` positives among the answers."""
    if y_labeled is None or np.asarray(y_labeled).size == 0:
        return np.empty(0, dtype=np.int64)
    positives = positives_per_finding(y_labeled, uncertain)
    return np.flatnonzero(positives < min_positives).astype(np.int64)


def rare_search(
    model: Any, X_pool: Any, y_labeled: ArrayLike | None, n: int, settings: Any, *,
    allowed: NDArray[np.bool_], chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> NDArray[np.int64]:  # fmt: skip
    """The batch's rare-positive share: ``settings.rare_share`` of ``n`` (rounded) by
    :func:`rare_positive_positions` while some finding has fewer than
    ``settings.min_positives`` positives (answers read under ``settings.uncertain``). The
    picks are taken out of ``allowed`` (changed in place) for the rest of the batch."""
    rare = rare_findings(y_labeled, settings.min_positives, settings.uncertain)
    n_rare = int(np.floor(settings.rare_share * n + 0.5)) if len(rare) else 0
    picks = rare_positive_positions(
        model, X_pool, rare, n_rare, allowed=allowed, chunk_size=chunk_size
    )
    allowed[picks] = False
    return picks


def rare_positive_positions(
    model: Any, X_pool: Any, findings: NDArray[np.int64], n: int, *,
    allowed: NDArray[np.bool_], chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> NDArray[np.int64]:  # fmt: skip
    """Up to ``n`` allowed positions, the likeliest present for ``findings`` in turn (round
    robin, likeliest first). Findings the model has no positive for (``model.trained_``
    False) cannot rank anything and are passed over."""
    trained = getattr(model, "trained_", np.ones(len(model.classes_), dtype=bool))
    findings = np.asarray([j for j in findings if trained[j]], dtype=np.int64)
    if n <= 0 or not len(findings) or not allowed.any():
        return np.empty(0, dtype=np.int64)
    columns = np.empty((pool_length(X_pool), len(findings)))
    for start in range(0, len(columns), chunk_size):
        rows = np.asarray(X_pool[start : start + chunk_size], dtype=np.float32)
        columns[start : start + len(rows)] = model.predict_proba(rows)[:, findings]
    columns[~allowed] = -np.inf
    per_finding = min(n, int(allowed.sum()))
    ranked = [np.argsort(-columns[:, i], kind="stable")[:per_finding] for i in range(len(findings))]
    chosen: list[int] = []
    seen: set[int] = set()
    for depth in range(per_finding):
        for order in ranked:
            position = int(order[depth])
            if len(chosen) < n and position not in seen and columns[position].max() > -np.inf:
                chosen.append(position)
                seen.add(position)
    return np.asarray(chosen, dtype=np.int64)


def _ranked(positions: NDArray[np.int64]) -> QueryResult:
    # The scores of a mixed batch only encode its ask order.
    k = len(positions)
    return _result(positions, np.linspace(1.0, 0.0, k) if k > 1 else np.ones(k))


COLD_STARTS: dict[str, Callable[[], Strategy]] = {"typical": ColdStart, "random": RandomSampling}
"""The first batch, before any model: TypiClust's typical items of k-means clusters of the
features, or a seeded uniform draw."""


def starts_at_random(strategy: Strategy) -> bool:
    """Whether ``strategy``'s first batch (no model yet) is a uniform random draw."""
    return isinstance(strategy, RandomSampling) or getattr(strategy, "cold_start", "") == "random"


class _ModelOutputs:
    """The pool as the model sees it: rows of P(present) (``"proba"``) or clipped log-odds
    (``"logit"``) per finding, computed for the rows asked for only."""

    def __init__(self, model: Any, X_pool: Any, space: str) -> None:
        if space not in {"proba", "logit"}:
            raise ValueError(f"space must be 'features', 'proba' or 'logit', got {space!r}")
        self.model, self.X_pool, self.space = model, X_pool, space
        self.shape = (pool_length(X_pool), len(model.classes_))

    def __getitem__(self, index: Any) -> NDArray[np.float64]:
        rows = np.asarray(self.X_pool[index], dtype=np.float32)
        if self.space == "proba":
            return self.model.predict_proba(rows)
        return np.clip(self.model.decision_function(rows), -10.0, 10.0)


@dataclass(frozen=True)
class FindingsUncertainty(_StrategyBase):
    """Top-n (or a diverse batch) by an aggregated per-finding uncertainty, with a share
    ``rare_share`` of the batch from rare-positive search while some finding has fewer than
    ``min_positives`` positives.

    ``measure``: a name in :data:`FINDINGS_MEASURES` or a function ``(n, k) -> (n,)``.
    ``diverse``: the batch is chosen as the single-label default chooses it (weighted k-means
    over the ``candidate_factor * n`` most uncertain, or ``candidate_share`` of the pool, the
    item nearest each centre for ``pick="centroid"``; :func:`learning.selection.diverse_top_n`)
    in ``space``: the pool's ``"features"``, or what the model predicts for each item,
    ``"proba"`` (P(present) per finding) or ``"logit"`` (its clipped log-odds).
    ``cold_start``: the first batch, before any model (:data:`COLD_STARTS`).
    """

    measure: str | FindingsMeasure = "mean_margin"
    name: str | None = None
    diverse: bool = False
    candidate_factor: int = 10
    max_candidates: int = 10_000
    candidate_share: float | None = None
    pick: str = "most_uncertain"
    space: str = "features"
    cold_start: str = "typical"
    rare_share: float = 0.0
    min_positives: int = MIN_POSITIVES
    uncertain: str = DEFAULT_UNCERTAIN
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def __post_init__(self) -> None:
        if isinstance(self.measure, str) and self.measure not in FINDINGS_MEASURES:
            known = ", ".join(sorted(FINDINGS_MEASURES))
            raise ValueError(f"unknown findings measure {self.measure!r}; known: {known}")
        if not 0.0 <= self.rare_share <= 1.0:
            raise ValueError("rare_share must be in [0, 1]")
        if self.cold_start not in COLD_STARTS:
            raise ValueError(f"cold_start must be one of {', '.join(COLD_STARTS)}")
        if self.space not in {"features", "proba", "logit"}:
            raise ValueError(f"space must be 'features', 'proba' or 'logit', got {self.space!r}")
        if self.name is None:
            object.__setattr__(self, "name", getattr(self.measure, "__name__", self.measure))

    def query(self, model, X_pool, n, *, rng, X_labeled=None, y_labeled=None, exclude=None):
        excluded = excluded_positions(pool_length(X_pool), exclude)
        if model is None:
            return COLD_STARTS[self.cold_start]().query(None, X_pool, n, rng=rng, exclude=excluded)
        allowed = allowed_mask(pool_length(X_pool), excluded)
        n = min(int(n), int(allowed.sum()))
        rare_picks = rare_search(
            model, X_pool, y_labeled, n, self, allowed=allowed, chunk_size=self.chunk_size
        )
        measure = FINDINGS_MEASURES[self.measure] if isinstance(self.measure, str) else self.measure
        scores = pool_scores(
            X_pool,
            lambda rows, _index: measure(model.predict_proba(rows)),
            exclude=np.flatnonzero(~allowed),
            chunk_size=self.chunk_size,
        )
        n_rest = n - len(rare_picks)
        if self.diverse:
            space = X_pool if self.space == "features" else _ModelOutputs(model, X_pool, self.space)
            positions, chosen = diverse_top_n(
                scores, space, n_rest, rng, candidate_factor=self.candidate_factor,
                max_candidates=self.max_candidates, candidate_share=self.candidate_share,
                pick=self.pick,
            )  # fmt: skip
        else:
            positions, chosen = top_n(scores, n_rest, rng)
        if not len(rare_picks):
            return _result(positions, chosen)
        return _ranked(np.concatenate([rare_picks, positions]))


@dataclass(frozen=True)
class RarePositiveSearch(_StrategyBase):
    """The whole batch from rare-positive search; once no finding is rare (or the model can
    rank none of the rare ones), the rest by mean margin."""

    name: str = "rare_positive"
    min_positives: int = MIN_POSITIVES
    uncertain: str = DEFAULT_UNCERTAIN
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def query(self, model, X_pool, n, *, rng, X_labeled=None, y_labeled=None, exclude=None):
        return FindingsUncertainty(
            "mean_margin", name=self.name, rare_share=1.0, min_positives=self.min_positives,
            uncertain=self.uncertain, chunk_size=self.chunk_size,
        ).query(model, X_pool, n, rng=rng, y_labeled=y_labeled, exclude=exclude)  # fmt: skip


def findings_committee(
    model: Any, X_labeled: ArrayLike, y_labeled: ArrayLike, n_members: int,
    rng: np.random.Generator,
) -> list[Any]:  # fmt: skip
    """``n_members`` copies of ``model`` fitted on bootstrap resamples of the answers; each
    resample keeps one present item of every finding that has one."""
    X = np.asarray(X_labeled, dtype=np.float32)
    Y = np.asarray(y_labeled)
    anchors = np.unique([np.flatnonzero(Y[:, j] == 1)[0] for j in range(Y.shape[1])
                         if (Y[:, j] == 1).any()]).astype(np.int64)  # fmt: skip
    members = []
    for _ in range(n_members):
        sample = rng.integers(0, len(Y), size=len(Y))
        sample[: len(anchors)] = anchors[: len(sample)]
        member = model.committee_member().set_params(random_state=int(rng.integers(2**31 - 1)))
        members.append(member.fit(X[sample], Y[sample]))
    return members


def mean_consensus_kl(committee_proba: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mean over findings of the members' mean binary KL divergence from the consensus;
    ``(n_members, n, k) -> (n,)``."""
    p = np.clip(committee_proba, 1e-9, 1 - 1e-9)
    consensus = p.mean(axis=0)
    kl = p * np.log(p / consensus) + (1 - p) * np.log((1 - p) / (1 - consensus))
    return kl.mean(axis=0).mean(axis=1) if p.shape[2] else np.zeros(p.shape[1])


@dataclass(frozen=True)
class FindingsCommittee(_StrategyBase):
    """Top-n by committee disagreement (:func:`mean_consensus_kl`) of ``n_members`` bootstrap
    copies of the model fitted on ``X_labeled, y_labeled``."""

    name: str = "committee"
    n_members: int = 5
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def query(self, model, X_pool, n, *, rng, X_labeled=None, y_labeled=None, exclude=None):
        excluded = excluded_positions(pool_length(X_pool), exclude)
        if model is None:
            return ColdStart().query(None, X_pool, n, rng=rng, exclude=excluded)
        if X_labeled is None or y_labeled is None:
            raise ValueError(f"{self.name} needs X_labeled and y_labeled to build its committee")
        members = findings_committee(model, X_labeled, y_labeled, self.n_members, rng)
        scores = pool_scores(
            X_pool,
            lambda rows, _i: mean_consensus_kl(np.stack([m.predict_proba(rows) for m in members])),
            exclude=excluded,
            chunk_size=self.chunk_size,
        )
        return _result(*top_n(scores, n, rng))


def _uncertainty(name: str, measure: str, **settings: Any) -> Callable[..., Strategy]:
    def build(**params: Any) -> FindingsUncertainty:
        return FindingsUncertainty(**{"measure": measure, "name": name, **settings, **params})

    return build


FINDINGS_STRATEGIES: dict[str, Callable[..., Strategy]] = {
    "random": RandomSampling,
    "cold_start": ColdStart,
    "mean_margin": _uncertainty("mean_margin", "mean_margin"),
    "max_margin": _uncertainty("max_margin", "max_margin"),
    "mean_entropy": _uncertainty("mean_entropy", "mean_entropy"),
    "max_entropy": _uncertainty("max_entropy", "max_entropy"),
    "mean_margin_diverse": _uncertainty(
        "mean_margin_diverse",
        "mean_margin",
        diverse=True,
        candidate_factor=1000,
        pick="centroid",
    ),  # fmt: skip
    "committee": FindingsCommittee,
    "rare_positive": RarePositiveSearch,
    # The session-8 default (docs/benchmarks.md, "Label efficiency: findings"): a random first
    # batch, margin-weighted k-means over the model's P(present), the item nearest each centre,
    # half the batch searching positives of findings with fewer than 20. +0.030 +- 0.005 on the
    # digit canvases (280 labels to target, modAL's best 220) and +0.003 +- 0.007 on the Debian
    # tags (160, modAL's best 140): each cluster's likeliest-present uncertain item instead
    # reached 240 on the canvases but lost the text.
    "diverse_centre": _uncertainty(
        "diverse_centre",
        "mean_margin",
        diverse=True,
        candidate_factor=1000,
        pick="centroid",
        space="proba",
        cold_start="random",
        rare_share=0.5,
        min_positives=20,
    ),  # fmt: skip
    # The default (issue 21, session 9; docs/benchmarks.md, bench/label_efficiency.py
    # --findings, 5 seeds, budget 400): each batch split between the raw-feature clusters'
    # centres and the likeliest-present items, the split learned per project from how much the
    # latter's answers surprised the model (learning.findings.arms). 240 labels to target on
    # the canvases (modAL's best 220; AULC +0.031 +- 0.005) and 140 on the Debian tags
    # (modAL's best 120; +0.013 +- 0.008): within one batch of modAL's best on both.
    "default": FindingsArms,
}
"""Findings strategy factories by name; ``FINDINGS_STRATEGIES[name](**params)`` builds one."""

DEFAULT_FINDINGS_STRATEGY = "default"


def findings_strategy_names() -> list[str]:
    """Registered findings strategy names, sorted."""
    return sorted(FINDINGS_STRATEGIES)


def get_findings_strategy(name: str, /, **params: Any) -> Strategy:
    """Build the registered findings strategy ``name`` with ``params``."""
    try:
        factory = FINDINGS_STRATEGIES[name]
    except KeyError:
        known = ", ".join(findings_strategy_names())
        raise ValueError(f"unknown findings strategy {name!r}; known: {known}") from None
    return factory(**params)
