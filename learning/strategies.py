"""Query strategies and their registry.

A strategy is a measure composed with a selector. Every strategy has the same call::

    result = strategy.query(model, X_pool, n, rng=rng, X_labeled=..., y_labeled=..., exclude=...)

``model`` is a fitted estimator with ``predict_proba`` (or ``None`` before the first model:
then every model-based strategy falls back to the cold-start selection). ``X_pool`` is the
``(n_items, d)`` float32 pool (array, ``np.memmap`` or :func:`learning.features.open_shards`
view); it is scored in chunks of ``chunk_size`` rows so a million-item pool stays in bounded
memory. ``exclude`` lists positions that must never be returned (e.g. already labeled rows
when the pool is the whole shard). The :class:`QueryResult` holds distinct positions, most
informative first, and their non-increasing scores. A seed fixes the result.

The measure of an uncertainty strategy (and the disagreement of a committee) is a registered
name or any function of the same shape::

    UncertaintySampling(measure="margin")
    UncertaintySampling(measure=lambda proba: 1.0 - proba.max(axis=1))  # (n, c) -> (n,)

and ``strategy.name`` says what runs: the registry's name, or the function's ``__name__``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

# QueryResult and bootstrap_committee are re-exported (``as`` themselves): callers import
# every strategy name from here, wherever it is defined (strategy_base, committee).
from learning.committee import QueryByCommittee
from learning.committee import bootstrap_committee as bootstrap_committee
from learning.measures import UNCERTAINTY_MEASURES, Measure
from learning.pool import (
    DEFAULT_CHUNK_SIZE,
    excluded_positions,
    pool_length,
)
from learning.selection import COLD_STARTS, diverse_top_n, order_by_score, top_n
from learning.strategy_base import (
    ColdStart,
    RandomSampling,
    Strategy,
    _name_after_measure,
    _resolve_measure,
    _result,
    _StrategyBase,
    measure_name,
    pool_scores,
)
from learning.strategy_base import QueryResult as QueryResult


@dataclass(frozen=True)
class UncertaintySampling(_StrategyBase):
    """Top-n by an uncertainty measure of ``model.predict_proba``; optionally diversified (see
    :func:`learning.selection.diverse_top_n`).

    ``measure``: a name in :data:`learning.measures.UNCERTAINTY_MEASURES` (least confidence,
    margin, entropy) or a function ``proba (n_items, n_classes) -> scores (n_items,)``, higher
    = ask first. ``name`` defaults to the measure's name (a function's ``__name__``).
    """

    measure: str | Measure = "margin"
    name: str | None = None
    diverse: bool = False
    candidate_factor: int = 10
    max_candidates: int = 10_000
    candidate_share: float | None = None
    random_share: float = 0.0
    pick: str = "most_uncertain"
    standardize: bool = False
    cold_start: str = "typical"
    coverage_share: float = 0.0
    coverage_labels_per_class: int | None = None
    coverage_neighbors: int = 20
    coverage_pools: str = "flat"
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def __post_init__(self) -> None:
        if not 0.0 <= self.coverage_share <= 1.0:
            raise ValueError("coverage_share must be in [0, 1]")
        if self.coverage_pools not in {"flat", "safe"}:
            raise ValueError("coverage_pools must be 'flat' or 'safe'")
        if self.cold_start not in COLD_STARTS:
            raise ValueError(f"cold_start must be one of {', '.join(COLD_STARTS)}")
        if self.pick not in {"most_uncertain", "centroid"}:
            raise ValueError(f"unknown pick {self.pick!r}: 'most_uncertain' or 'centroid'")
        if self.candidate_share is not None and not 0.0 < self.candidate_share <= 1.0:
            raise ValueError("candidate_share must be in (0, 1]")
        _resolve_measure(self.measure, UNCERTAINTY_MEASURES, "uncertainty measure")
        _name_after_measure(self, self.measure)
        if not 0.0 <= self.random_share < 1.0:
            raise ValueError("random_share must be in [0, 1)")

    def query(self, model, X_pool, n, *, rng, X_labeled=None, y_labeled=None, exclude=None):
        excluded = excluded_positions(pool_length(X_pool), exclude)
        if model is None:
            cold = ColdStart(coverage=self.cold_start)
            return cold.query(None, X_pool, n, rng=rng, exclude=excluded)
        measure = _resolve_measure(self.measure, UNCERTAINTY_MEASURES, "uncertainty measure")
        scores = pool_scores(
            X_pool,
            lambda rows, _index: measure(model.predict_proba(rows)),
            exclude=excluded,
            chunk_size=self.chunk_size,
        )
        covered = self._coverage(X_pool, n, rng, scores, X_labeled, y_labeled)
        scores_left = scores
        if len(covered):
            scores_left = scores.copy()
            scores_left[covered] = -np.inf
            n -= len(covered)
        if self.diverse:
            positions, chosen = diverse_top_n(
                scores_left,
                X_pool,
                n,
                rng,
                candidate_factor=self.candidate_factor,
                max_candidates=self.max_candidates,
                candidate_share=self.candidate_share,
                random_share=self.random_share,
                pick=self.pick,
                standardize=self.standardize,
            )
        else:
            positions, chosen = top_n(scores_left, n, rng)
        if len(covered):
            positions = np.concatenate([covered, positions])
            positions, chosen = order_by_score(positions, scores[positions], rng)
        return _result(positions, chosen)

    def _coverage(self, X_pool, n, rng, scores, X_labeled, y_labeled) -> NDArray[np.int64]:
        """The positions :func:`learning.coverage.coverage_n` fills this batch with (none when
        the share is 0, past the phase, or where the pool does not suit it)."""
        from learning.coverage import coverage_applies, coverage_count, coverage_n

        n_cover = coverage_count(
            n, y_labeled, share=self.coverage_share,
            labels_per_class=self.coverage_labels_per_class,
        )  # fmt: skip
        allowed = scores > -np.inf
        if n_cover == 0 or X_labeled is None:
            return np.empty(0, dtype=np.int64)
        if not coverage_applies(X_pool, self.coverage_pools):
            return np.empty(0, dtype=np.int64)
        return coverage_n(
            X_pool, n_cover, rng, X_labeled=X_labeled, allowed=allowed,
            n_neighbors=self.coverage_neighbors,
        )  # fmt: skip


def _uncertainty(name: str, measure: str, **settings: Any) -> Callable[..., Strategy]:
    """The factory of registered uncertainty strategy ``name``: ``settings`` are its defaults,
    which the caller's params override. A caller's own ``measure`` names the strategy after
    both, e.g. ``margin_diverse(my_scores)``, unless the caller names it."""

    def build(**params: Any) -> UncertaintySampling:
        built = {"measure": measure, "name": name, **settings, **params}
        if "measure" in params and "name" not in params:
            built["name"] = f"{name}({measure_name(params['measure'])})"
        return UncertaintySampling(**built)

    return build


# Margin-weighted k-means over the most uncertain 10% of the pool (at least 5·k, at most
# 10,000 items), the most uncertain item of each cluster. Issue 20: the "up to 10,000
# candidates" of before were the whole of any smaller pool, so each pick was the centre of a
# cluster of everything; hence the 10% share. Session 8 (docs/benchmarks.md, issue 20's
# done-when table, 3 seeds, budget 500): the item nearest each cluster's centre (CLUE's pick,
# kept until then) fell below random on a hard image set (digits_clutter on its spectral
# embedding: AULC 0.400 against random's 0.488) and needed 210 labels to target on the demo
# corpus against TypiClust's 160; the most uncertain of each cluster: 0.466 and 140 labels
# (AULC 0.754 against 0.741), the same 20 labels on digits.
# Its cold start (session 9) checks the clusters first: each k-means cluster's typical item
# where the clusters are clear (learning.selection.cluster_strength) or the typical items no
# denser than the rest (density_contrast: sentence embeddings), else a random member.
# The typical items of a poor embedding are its dense cores (digits_clutter: backgrounds);
# the default from them stayed 1.9 points of AULC below random labels on the same features
# (-0.019 +- 0.004, 20 seeds), from random members +0.004 +- 0.005; shapes_clutter +0.013
# against +0.004. Where the clusters are clear the typical items reached the target first
# (digits70k: 70 labels, random members 140).
# Then (session 9, fortunes_minilm) on a pool without clear clusters whose typical items are
# no denser than the rest (sentence embeddings; learning.coverage.coverage_applies), the
# whole batch is TypiClust's coverage pick (the typical item, by 5 neighbours, of each of the
# largest of n_labeled + n k-means clusters holding no label) until 15 labels per class are
# in. 3 seeds: fortunes_minilm 100 labels to target (300 before, TypiClust 130), the demo
# corpus 70 (170, TypiClust 160). A share of each batch did less (half: 210 on fortunes), as
# did typicality by 20 neighbours (150). On clear clusters the phase cost labels (digits70k:
# 110 against 70), so it stays off there, as on the cluttered sets' dense specks.
_default = _uncertainty(
    "default",
    "margin",
    diverse=True,
    candidate_factor=5,
    candidate_share=0.1,
    max_candidates=10_000,
    random_share=0.0,
    pick="most_uncertain",
    cold_start="checked",
    coverage_share=1.0,
    coverage_labels_per_class=15,
    coverage_neighbors=5,
    coverage_pools="flat",
)


def _committee(name: str, disagreement: str) -> Callable[..., Strategy]:
    def build(**params: Any) -> QueryByCommittee:
        built = {"disagreement": disagreement, "name": name, **params}
        if "disagreement" in params and "name" not in params:
            built["name"] = f"{name}({measure_name(params['disagreement'])})"
        return QueryByCommittee(**built)

    return build


def _external(**params: Any) -> Strategy:
    # learning.external builds on this module's pieces, so it loads when first asked for.
    from learning.external import ExternalDisagreement

    return ExternalDisagreement(**params)


STRATEGIES: dict[str, Callable[..., Strategy]] = {
    "random": RandomSampling,
    "least_confidence": _uncertainty("least_confidence", "least_confidence"),
    "margin": _uncertainty("margin", "margin"),
    "entropy": _uncertainty("entropy", "entropy"),
    "margin_diverse": _uncertainty("margin_diverse", "margin", diverse=True),
    "qbc": _committee("qbc", "vote_entropy"),
    "qbc_kl": _committee("qbc_kl", "consensus_kl"),
    "cold_start": ColdStart,
    "default": _default,
    # A team's own model against the loop's (labeler/engine/suggestions.py passes its
    # predictions); without them, margin sampling.
    "disagreement_external": _external,
}
"""Strategy factories by name; ``STRATEGIES[name](**params)`` builds one."""

DEFAULT_STRATEGY = "default"


def strategy_names() -> list[str]:
    """Registered strategy names, sorted."""
    return sorted(STRATEGIES)


def get_strategy(name: str, **params: Any) -> Strategy:
    """Build the registered strategy ``name`` with ``params`` (dataclass fields)."""
    try:
        factory = STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}; known: {', '.join(strategy_names())}"
        ) from None
    return factory(**params)
