"""The evidence of the findings default's arms (:mod:`learning.findings.arms`): per-item rewards
of the labeled items an arm chose, from the model's P(present) when it chose them and the
answers they got, and the arms' shares of the next batch that they give."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from learning.findings.model import DEFAULT_UNCERTAIN, training_targets

OTHER, CENTRE, POSITIVE, FEATURES, TOP = -1, 0, 1, 2, 3
"""Arm codes (:mod:`learning.findings.arms` describes the arms): ``OTHER`` for picks no arm
made (the first batch, rare-positive search, a batch too small to cluster); they are not
evidence."""
ARM_CODES = {"centre": CENTRE, "positive": POSITIVE, "features": FEATURES, "top": TOP}
"""``top``: the candidates with the highest mean P(present), no clustering (modAL's
avg_confidence)."""


def _cells(proba: ArrayLike, Y: ArrayLike, uncertain: str):
    p = np.clip(np.asarray(proba, dtype=np.float64), 1e-6, 1.0 - 1e-6)
    targets, mask = training_targets(Y, uncertain)
    return p, targets.astype(np.float64), mask


def _masked_mean(values: NDArray[np.float64], mask: NDArray[np.bool_]) -> NDArray[np.float64]:
    counts = mask.sum(axis=1)
    return np.where(counts > 0, (values * mask).sum(axis=1) / np.maximum(counts, 1), 0.0)


def log_loss_reward(proba: ArrayLike, Y: ArrayLike, uncertain: str = DEFAULT_UNCERTAIN):
    """Per item ``(m,)``: the model's pre-label binary log-loss, mean over the findings that
    train (how much the answer told the model it did not know)."""
    p, y, mask = _cells(proba, Y, uncertain)
    loss = -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    return _masked_mean(loss, mask)


def surprise_reward(proba: ArrayLike, Y: ArrayLike, uncertain: str = DEFAULT_UNCERTAIN):
    """Per item ``(m,)``: log-loss minus the loss the model expected (its own binary entropy),
    mean over the findings that train: 0 on average where the model is calibrated, so an arm
    that merely picks uncertain items earns nothing for it."""
    p, y, mask = _cells(proba, Y, uncertain)
    loss = -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    entropy = -(p * np.log(p) + (1.0 - p) * np.log(1.0 - p))
    return _masked_mean(loss - entropy, mask)


def positives_reward(proba: ArrayLike, Y: ArrayLike, uncertain: str = DEFAULT_UNCERTAIN):
    """Per item ``(m,)``: the positives its answer gave that the model did not expect,
    ``sum(y * (1 - p))`` over the findings that train."""
    p, y, mask = _cells(proba, Y, uncertain)
    return (y * (1.0 - p) * mask).sum(axis=1)


def excess_reward(proba: ArrayLike, Y: ArrayLike, uncertain: str = DEFAULT_UNCERTAIN):
    """Per item ``(m,)``: answers minus the model's expectation, ``mean(y - p)`` over the
    findings that train: above 0 where the item held more findings than the model thought."""
    p, y, mask = _cells(proba, Y, uncertain)
    return _masked_mean(y - p, mask)


REWARDS: dict[str, Callable[..., NDArray[np.float64]]] = {
    "log_loss": log_loss_reward,
    "surprise": surprise_reward,
    "positives": positives_reward,
    "excess": excess_reward,
}
"""Per-item rewards of an arm's labeled items, ``(proba (m, k), Y (m, k)) -> (m,)``."""


RULES = ("contrast", "calibration")
"""How :func:`arm_shares` weighs the arms: each against the others (``contrast``), or the last
arm against the model's own expectation (``calibration``)."""


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def arm_shares(
    arms: ArrayLike, proba: ArrayLike, Y: ArrayLike, *,
    names: tuple[str, ...] = ("centre", "positive"), reward: str = "log_loss",
    floor: float = 0.2, uncertain: str = DEFAULT_UNCERTAIN, rule: str = "contrast",
) -> tuple[float, ...]:  # fmt: skip
    """Each arm's share of the next batch's clusters (in ``names`` order), from the evidence:
    ``arms`` ``(m,)`` (arm codes, :data:`OTHER` ignored), ``proba`` ``(m, k)`` the model's
    P(present) when each item was chosen, ``Y`` ``(m, k)`` its answers (1 / 0 / -1).

    ``rule="calibration"`` (the default's): the last arm's share is
    ``floor + (1 - len(names) floor) Φ(z)``, ``z`` its items' mean reward over its standard
    error (against 0, what the surprise reward averages where the model's probabilities are
    right), the other arms share the rest equally. ``rule="contrast"``: arm ``a`` weighs
    ``Φ(z_a)``, ``z_a`` its mean reward's difference from the other arms' items over the
    standard error (Welch), and the shares are ``floor + (1 - len(names) floor)`` times the
    normalised weights (measured: every pre-label reward favoured the likeliest-present arms
    on both sets, since their items are the uncertain ones). Equal shares until each arm has
    two labeled items; no arm ever gets less than ``floor``, so the evidence keeps coming."""
    m = len(names)
    equal = tuple(1.0 / m for _ in names)
    arms = np.asarray(arms, dtype=np.int64).ravel()
    if not len(arms) or m < 2:
        return equal
    rewards = REWARDS[reward](proba, Y, uncertain)
    codes = [ARM_CODES[name] for name in names]
    groups = [rewards[arms == code] for code in codes]
    if any(len(group) < 2 for group in groups):
        return equal
    if rule == "calibration":
        # The last arm against the model's own expectation (a reward of 0 on average where
        # its probabilities are right), not against the other arms: an arm that seeks what
        # the model thinks likely earns more only where it finds more than it expected.
        last = groups[-1]
        spread = math.sqrt(last.var(ddof=1) / len(last))
        mean = float(last.mean())
        z = mean / spread if spread > 0 else (0.0 if mean == 0 else math.copysign(10.0, mean))
        share = floor + (1.0 - m * floor) * _normal_cdf(z)
        rest = (1.0 - share) / (m - 1)
        return tuple([rest] * (m - 1) + [share])
    weights = []
    for i, group in enumerate(groups):
        others = np.concatenate([g for j, g in enumerate(groups) if j != i])
        spread = math.sqrt(group.var(ddof=1) / len(group) + others.var(ddof=1) / len(others))
        difference = float(group.mean() - others.mean())
        if spread <= 0.0:
            z = 0.0 if difference == 0.0 else math.copysign(10.0, difference)
        else:
            z = difference / spread
        weights.append(_normal_cdf(z))
    total = sum(weights)
    return tuple(floor + (1.0 - m * floor) * w / total for w in weights)


def positive_share(arms: ArrayLike, proba: ArrayLike, Y: ArrayLike, **settings: Any) -> float:
    """The positive arm's share of the two arms ``centre`` and ``positive``
    (:func:`arm_shares`)."""
    return arm_shares(arms, proba, Y, names=("centre", "positive"), **settings)[1]


def arm_counts(shares: tuple[float, ...], n: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """``n`` split by ``shares`` (largest remainders, ties drawn by ``rng``)."""
    exact = np.asarray(shares, dtype=np.float64) / max(sum(shares), 1e-12) * n
    counts = np.floor(exact + 1e-9).astype(np.int64)
    left = n - int(counts.sum())
    if left > 0:
        remainder = exact - counts + rng.random(len(exact)) * 1e-9
        counts[np.argsort(-remainder, kind="stable")[:left]] += 1
    return counts
