"""Committee disagreement measures for query-by-committee (higher = ask first).

``committee_proba`` has shape ``(n_members, n_items, n_classes)``: each member's class
probabilities over the same class columns. Scores have shape ``(n_items,)``, float64.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

Disagreement = Callable[[ArrayLike], NDArray[np.float64]]

_EPS = 1e-12


def _as_committee(committee_proba: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(committee_proba, dtype=np.float64)
    if array.ndim != 3:
        raise ValueError(
            f"committee_proba must be 3-D (n_members, n_items, n_classes), got shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError("a committee needs at least one member")
    return array


def vote_entropy(committee_proba: ArrayLike) -> NDArray[np.float64]:
    """Entropy of the members' hard votes (Dagan & Engelson); shape ``(n_items,)``.

    0 when every member predicts the same class, ``log(min(n_members, n_classes))`` at most.
    """
    array = _as_committee(committee_proba)
    n_members, n_items, n_classes = array.shape
    votes = array.argmax(axis=2)  # (n_members, n_items)
    counts = np.zeros((n_items, n_classes))
    np.add.at(counts, (np.arange(n_items)[None, :].repeat(n_members, 0), votes), 1.0)
    fractions = counts / n_members
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(fractions > 0.0, fractions * np.log(fractions), 0.0)
    return -terms.sum(axis=1)


def consensus_kl(committee_proba: ArrayLike) -> NDArray[np.float64]:
    """Mean KL divergence of each member from the consensus (mean) distribution.

    ``(1/M) sum_m KL(p_m || p_mean)`` (McCallum & Nigam); shape ``(n_items,)``, >= 0, and 0
    exactly when all members agree on the whole distribution.
    """
    array = _as_committee(committee_proba)
    consensus = array.mean(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(
            array > 0.0, array * (np.log(array) - np.log(np.maximum(consensus, _EPS))), 0.0
        )
    return np.maximum(terms.sum(axis=2).mean(axis=0), 0.0)


DISAGREEMENT_MEASURES: dict[str, Disagreement] = {
    "vote_entropy": vote_entropy,
    "consensus_kl": consensus_kl,
}
