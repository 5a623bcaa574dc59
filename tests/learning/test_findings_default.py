"""The findings default as measured (docs/benchmarks.md, "Label efficiency: findings"): a random
first batch, then a batch spread over what the model predicts (P(present) per finding), not
over the raw features; the simulator starts every random-first runner of a seed from the same
labels; a pool-fitted scaler replaces the labels' standardisation when given."""

import numpy as np
import pytest

from learning.findings.arms import distinct_first
from learning.findings.model import FindingsClassifier
from learning.findings.simulate import FindingsSetup, run_findings_curve
from learning.findings.strategies import get_findings_strategy, starts_at_random
from learning.preprocessing import pool_scaler
from learning.strategies import RandomSampling


def copies_along_an_ignored_feature(n_base: int = 120, copies: int = 10):
    """``n_base`` items on three informative features, each repeated ``copies`` times at
    offsets 0, 50, 100, ... of a fourth feature; the first copy (offset 0) is the labeled set,
    so the model gives the fourth feature no weight and every copy of an item gets the same
    prediction. Each finding has over 20 positives among the labeled items: no rare-positive
    search, the whole batch is the diverse one."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(n_base, 3)).astype(np.float32)
    Y_base = np.stack([base[:, 0] > 0, base[:, 1] > 0, base[:, 2] > 0.3], axis=1).astype(np.int8)
    offsets = np.repeat(np.arange(copies) * 50.0, n_base)
    X = np.column_stack([np.tile(base, (copies, 1)), offsets]).astype(np.float32)
    return X, np.tile(Y_base, (copies, 1)), np.arange(n_base)


@pytest.mark.parametrize(
    "name, params",
    [("diverse_centre", {}), ("default", {"arms": ("centre", "positive")})],
)
def test_a_batch_clustered_on_the_predictions_is_spread_over_them_not_the_raw_features(
    name, params
):
    # The session-8 default, and the session-9 default's arms that cluster the predictions.
    # (Its "features" arm clusters the raw features and its "top" arm does not cluster: the
    # evidence decides how much of the batch each gets, docs/benchmarks.md, session 9. Copies
    # the model cannot tell apart are not copies in the features; exact and near copies are
    # checked below for the default as registered.)
    X, Y, labeled = copies_along_an_ignored_feature()
    model = FindingsClassifier(C=1.0, random_state=0).fit(X[labeled], Y[labeled])
    assert np.allclose(model.coef_[:, 3], 0.0)

    for seed in range(3):
        chosen = get_findings_strategy(name, **params).query(
            model, X, 10, rng=np.random.default_rng(seed), y_labeled=Y[labeled], exclude=labeled
        )
        items = chosen.positions % len(labeled)
        # Ten different items, not ten copies of one: clustering the raw features spread the
        # batch along the offset the model ignores (8 of 10 picks were one item's copies).
        assert len(set(items.tolist())) == 10


def exact_copy_groups(n_labeled: int = 60, n_groups: int = 120, copies: int = 6):
    """``n_labeled`` distinct labeled items (over 5 positives a finding: no rare-positive
    search) and a pool of ``n_groups`` other items, each ``copies`` times, exactly (re-scans,
    a report pasted twice); the labeled items come first."""
    rng = np.random.default_rng(1)
    base = rng.normal(size=(n_labeled + n_groups, 3)).astype(np.float32)
    Y_base = np.stack([base[:, 0] > 0, base[:, 1] > 0, base[:, 2] > 0.3], axis=1).astype(np.int8)
    X = np.concatenate([base[:n_labeled], np.repeat(base[n_labeled:], copies, axis=0)])
    Y = np.concatenate([Y_base[:n_labeled], np.repeat(Y_base[n_labeled:], copies, axis=0)])
    group = np.r_[np.arange(n_labeled), np.repeat(n_labeled + np.arange(n_groups), copies)]
    return X, Y, np.arange(n_labeled), group


@pytest.mark.parametrize("shares", [None, (0.05, 0.95), (0.0, 1.0)])
def test_the_defaults_batch_holds_no_two_copies_of_one_item(shares):
    # The "top" arm takes the likeliest-present items, and all copies of an item are equally
    # likely: before it skipped near copies, it filled its share with copies of one item.
    X, Y, labeled, group = exact_copy_groups()
    model = FindingsClassifier(C=1.0, random_state=0).fit(X[labeled], Y[labeled])
    strategy = get_findings_strategy("default", shares=shares)

    for seed in range(3):
        chosen = strategy.query(
            model, X, 10, rng=np.random.default_rng(seed), X_labeled=X[labeled],
            y_labeled=Y[labeled], exclude=labeled,
        )  # fmt: skip
        assert len(chosen.positions) == 10
        assert len(set(group[chosen.positions].tolist())) == 10


def test_the_defaults_top_arm_skips_copies_of_labeled_items():
    X, Y, labeled, group = exact_copy_groups()
    model = FindingsClassifier(C=1.0, random_state=0).fit(X[labeled], Y[labeled])
    # A labeled copy of the likeliest-present pool item: its other copies are not asked again.
    pool_order = np.argsort(-model.predict_proba(X).mean(axis=1), kind="stable")
    likeliest = pool_order[~np.isin(pool_order, labeled)][0]
    copies = np.flatnonzero(group == group[likeliest])
    labeled = np.r_[labeled, copies[0]]

    chosen = get_findings_strategy("default", shares=(0.0, 1.0)).query(
        model, X, 10, rng=np.random.default_rng(0), X_labeled=X[labeled],
        y_labeled=Y[labeled], exclude=labeled,
    )  # fmt: skip
    assert not np.isin(chosen.positions, copies).any()


def test_the_defaults_first_batch_is_a_seeded_random_draw():
    X, _, _ = copies_along_an_ignored_feature()
    strategy = get_findings_strategy("default")
    exclude = np.arange(5)

    first = strategy.query(None, X, 20, rng=np.random.default_rng(3), exclude=exclude)
    drawn = RandomSampling().query(None, X, 20, rng=np.random.default_rng(3), exclude=exclude)

    assert starts_at_random(strategy)
    assert first.positions.tolist() == drawn.positions.tolist()


def test_random_and_the_default_start_a_simulated_repeat_from_the_same_labels():
    X, Y, _ = copies_along_an_ignored_feature()
    setup = FindingsSetup(initial=20, batch=10, budget=20, repeats=1, seed=0, C=1.0)

    def first_point(name):
        return run_findings_curve(name, X[:300], Y[:300], X[300:], Y[300:], setup, 0)[0]

    assert first_point("default") == first_point("random")


def test_a_pool_scaler_standardises_on_the_pool_not_the_labels():
    X, Y, labeled = copies_along_an_ignored_feature()
    scaler = pool_scaler(X)

    model = FindingsClassifier(C=1.0, scaler=scaler).fit(X[labeled], Y[labeled])

    assert np.allclose(model.mean_, X.mean(axis=0), atol=1e-3)
    assert model.scale_[3] > 100  # the labels alone have no spread on the offset feature
    assert model.next_round().scaler is scaler


def test_distinct_first_keeps_the_order_and_skips_near_copies_and_blank_rows():
    rows = np.array([[1, 0], [1, 0.001], [0, 0], [0, 1], [0, 0], [2, 2]], dtype=np.float32)

    assert distinct_first(rows, 4).tolist() == [0, 2, 3, 5]
    assert distinct_first(rows, 2).tolist() == [0, 2]
    # Copies of a labeled row are skipped too; fewer come back when the rows run out.
    assert distinct_first(rows, 4, seen=np.array([[3.0, 0.0]])).tolist() == [2, 3, 5]
