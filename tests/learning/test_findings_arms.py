"""The findings default's arms (issue 21, session 9): each batch is split between ways of
choosing (the centre of clusters of the raw features, the likeliest-present items, the centre
or the likeliest-present item of clusters of the predictions), and the split is learned from
how much each arm's labeled items surprised the model before their answers came in."""

import numpy as np
import pytest

from learning.findings.arms import (
    CENTRE,
    FEATURES,
    OTHER,
    POSITIVE,
    TOP,
    FindingsArms,
    arm_shares,
    positive_share,
)
from learning.findings.model import FindingsClassifier
from learning.findings.simulate import FindingsSetup, run_findings_curve
from learning.findings.strategies import get_findings_strategy
from tests.learning.test_findings_default import copies_along_an_ignored_feature


def evidence(surprising_arm: int, n: int = 6):
    """``n`` items per arm, all predicted 10% present on two findings; the items of
    ``surprising_arm`` turned out present on both, the other arm's absent on both."""
    arms = np.repeat([CENTRE, POSITIVE], n)
    proba = np.full((2 * n, 2), 0.1)
    Y = np.where(arms[:, None] == surprising_arm, 1, 0).repeat(2, axis=1).astype(np.int8)
    return arms, proba, Y


@pytest.mark.parametrize("reward", ["log_loss", "surprise", "positives"])
def test_the_share_moves_to_the_arm_whose_labeled_items_surprised_the_model(reward):
    up = positive_share(*evidence(POSITIVE), reward=reward, floor=0.2)
    down = positive_share(*evidence(CENTRE), reward=reward, floor=0.2)

    assert up == pytest.approx(0.8, abs=0.01)  # 1 - floor: the other arm keeps its floor
    assert down == pytest.approx(0.2, abs=0.01)


def test_the_split_stays_even_until_each_arm_has_two_labeled_items():
    arms, proba, Y = evidence(POSITIVE)
    rows = np.r_[0, np.flatnonzero(arms == POSITIVE)]

    assert positive_share(arms[rows], proba[rows], Y[rows]) == 0.5
    # Items no arm chose (first batch, rare-positive search) are no evidence either.
    assert positive_share(np.full(len(arms), OTHER), proba, Y) == 0.5


def test_equal_rewards_keep_the_split_even():
    arms = np.repeat([CENTRE, POSITIVE], 4)
    proba = np.tile([[0.2, 0.7], [0.6, 0.1]], (4, 1))
    Y = np.tile([[0, 1], [1, 0]], (4, 1)).astype(np.int8)

    assert positive_share(arms, proba, Y) == pytest.approx(0.5)


@pytest.mark.parametrize("share, positives", [(0.0, 0), (0.5, 5), (1.0, 10)])
def test_the_default_gives_the_positive_arm_its_share_of_the_clusters(share, positives):
    X, Y, labeled = copies_along_an_ignored_feature()
    model = FindingsClassifier(C=1.0, random_state=0).fit(X[labeled], Y[labeled])
    strategy = FindingsArms(arms=("centre", "positive"), positive_share=share, learn=False)

    choice = strategy.choose(
        model, X, 10, rng=np.random.default_rng(0), y_labeled=Y[labeled], exclude=labeled
    )

    assert len(set(choice.result.positions.tolist())) == 10
    assert not np.isin(choice.result.positions, labeled).any()
    assert (choice.arms == POSITIVE).sum() == positives
    assert (choice.arms == CENTRE).sum() == 10 - positives
    expected = model.predict_proba(X[choice.result.positions])
    assert np.allclose(choice.proba, expected, atol=1e-6)
    assert (
        choice.result.positions.tolist()
        == strategy.query(
            model, X, 10, rng=np.random.default_rng(0), y_labeled=Y[labeled], exclude=labeled
        ).positions.tolist()
    )


def test_the_positive_arm_picks_likelier_present_items_than_the_centre():
    X, Y, labeled = copies_along_an_ignored_feature()
    model = FindingsClassifier(C=1.0, random_state=0).fit(X[labeled], Y[labeled])

    def mean_present(share):
        choice = FindingsArms(arms=("centre", "positive"), positive_share=share).choose(
            model, X, 10, rng=np.random.default_rng(1), y_labeled=Y[labeled], exclude=labeled
        )
        return choice.proba.mean()

    assert mean_present(1.0) > mean_present(0.0)


def test_the_simulated_loop_hands_the_default_its_arms_labeled_items(monkeypatch):
    X, Y, _ = copies_along_an_ignored_feature()
    seen = []
    original = FindingsArms.with_evidence

    def spy(self, arms, proba, Y_answers):
        seen.append((len(arms), proba.shape, Y_answers.shape))
        return original(self, arms, proba, Y_answers)

    monkeypatch.setattr(FindingsArms, "with_evidence", spy)
    setup = FindingsSetup(initial=20, batch=10, budget=50, repeats=1, seed=0, C=1.0)

    run_findings_curve("default", X[:300], Y[:300], X[300:], Y[300:], setup, 0)

    # Rounds at 30 and 40 labels: the batches chosen at 20 and at 30 labels are evidence.
    assert seen == [(10, (10, 3), (10, 3)), (20, (20, 3), (20, 3))]


def test_the_registered_default_learns_its_split():
    strategy = get_findings_strategy("default")

    assert isinstance(strategy, FindingsArms) and strategy.learn
    assert strategy.arms == ("features", "top")
    assert (strategy.rule, strategy.reward, strategy.floor) == ("calibration", "surprise", 0.05)
    assert (strategy.rare_share, strategy.min_positives) == (0.2, 5)
    fixed = FindingsArms(learn=False).with_evidence(*evidence(POSITIVE))
    assert fixed.current_shares() == (0.5, 0.5)


def calibration_evidence(top_present: bool, n: int = 8):
    """``n`` items per arm, predicted 30% present on two findings; the top arm's items turned
    out present on both (``top_present``) or absent on both; the features arm's always
    present, so that only the top arm against its own prediction can decide."""
    arms = np.repeat([FEATURES, TOP], n)
    proba = np.full((2 * n, 2), 0.3)
    Y = np.ones((2 * n, 2), dtype=np.int8)
    if not top_present:
        Y[arms == TOP] = 0
    return arms, proba, Y


def test_the_top_arm_grows_only_where_its_items_hold_more_than_the_model_expected():
    names = ("features", "top")
    settings = {"names": names, "rule": "calibration", "reward": "surprise", "floor": 0.05}

    up = arm_shares(*calibration_evidence(True), **settings)
    down = arm_shares(*calibration_evidence(False), **settings)

    assert up == pytest.approx((0.05, 0.95), abs=0.01)
    # Absent where the model said 30%: less surprising than its own uncertainty, so the
    # features arm takes the batch although its items surprised the model more.
    assert down == pytest.approx((0.95, 0.05), abs=0.01)
    strategy = get_findings_strategy("default").with_evidence(*calibration_evidence(True))
    assert strategy.current_shares() == pytest.approx(up)


def test_three_arms_share_the_clusters_and_the_evidence():
    X, Y, labeled = copies_along_an_ignored_feature()
    model = FindingsClassifier(C=1.0, random_state=0).fit(X[labeled], Y[labeled])
    strategy = FindingsArms(
        arms=("features", "centre", "positive"), floor=0.1, rule="contrast", reward="log_loss"
    )

    choice = strategy.choose(
        model, X, 9, rng=np.random.default_rng(0), y_labeled=Y[labeled], exclude=labeled
    )

    assert sorted(choice.arms.tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert len(set(choice.result.positions.tolist())) == 9
    arms = np.repeat([2, 0, 1], 4)
    proba = np.full((12, 2), 0.1)
    Y_answers = np.where(arms[:, None] == 2, 1, 0).repeat(2, axis=1).astype(np.int8)
    shares = strategy.with_evidence(arms, proba, Y_answers).current_shares()
    assert shares[0] > 0.7 and min(shares) >= 0.1 and sum(shares) == pytest.approx(1.0)
