"""A scan (series or study) is one item: slice rows pooled per scan, by the mean while labels
are few and by learned gated attention once they allow; the evidence slices are the ones the
pattern is on."""

from __future__ import annotations

import numpy as np
import pytest

from learning.scans import (
    ATTENTION_MIN_LABELS,
    ScanBags,
    ScanPooler,
    evidence_slices,
    max_pool,
    mean_pool,
)
from learning.training import train_model

N_SLICES = 40


def _scans(n_scans: int, seed: int) -> tuple[ScanBags, np.ndarray, list[np.ndarray]]:
    """8-d noise slices; a positive scan has 2 or 3 slices shifted on two features. The mean
    over 40 slices dilutes that shift to about one noise standard deviation."""
    rng = np.random.default_rng(seed)
    bags, labels, pattern_slices = [], [], []
    for index in range(n_scans):
        rows = rng.normal(size=(N_SLICES, 8)).astype(np.float32)
        places = np.empty(0, dtype=np.int64)
        if index % 2:
            places = rng.choice(N_SLICES, size=int(rng.integers(2, 4)), replace=False)
            rows[places, :2] += 4.0
        bags.append(rows)
        labels.append(index % 2)
        pattern_slices.append(np.sort(places))
    return ScanBags.from_lists(bags), np.array(labels), pattern_slices


def test_bags_pool_each_scan_over_its_own_slices_only():
    bags = ScanBags.from_lists([[[1.0, 5.0], [3.0, 1.0]], [[10.0, -2.0]], [[0, 0], [2, 2], [4, 4]]])
    assert len(bags) == 3 and bags.sizes.tolist() == [2, 1, 3]
    np.testing.assert_allclose(mean_pool(bags), [[2.0, 3.0], [10.0, -2.0], [2.0, 2.0]])
    np.testing.assert_allclose(max_pool(bags), [[3.0, 5.0], [10.0, -2.0], [4.0, 4.0]])
    np.testing.assert_allclose(mean_pool(bags.subset([2, 0])), [[2.0, 2.0], [2.0, 3.0]])


def test_bags_refuse_a_scan_without_slices():
    with pytest.raises(ValueError, match="at least one slice"):
        ScanBags(np.zeros((2, 3), np.float32), np.array([0, 2, 2]))


def test_a_pooler_fitted_before_any_label_pools_by_the_mean():
    bags, _, _ = _scans(5, seed=0)
    pooler = ScanPooler(random_state=0).fit(bags.subset([]), None)
    np.testing.assert_allclose(pooler.transform(bags), mean_pool(bags))


def test_auto_pooling_takes_the_mean_while_labels_are_few_then_attention():
    bags, y, _ = _scans(60, seed=1)
    few = ScanPooler(random_state=0).fit(bags.subset(np.arange(6)), y[:6])
    assert few.pooling_ == "mean" and few.attention_ is None
    enough = ScanPooler(random_state=0).fit(bags.subset(np.arange(40)), y[:40])
    assert ATTENTION_MIN_LABELS <= 40 and enough.pooling_ == "attention"
    assert enough.transform(bags).shape == (60, 8)
    weights = enough.slice_weights(bags)
    np.testing.assert_allclose(np.add.reduceat(weights, bags.offsets[:-1]), 1.0, atol=1e-5)


def test_attention_pooling_finds_a_pattern_on_few_slices_that_the_mean_dilutes():
    train, y_train, _ = _scans(60, seed=2)
    test, y_test, patterns = _scans(200, seed=3)
    accuracy = {}
    for pooling in ("mean", "attention"):
        pooler = ScanPooler(pooling, random_state=0).fit(train, y_train)
        model = train_model("logreg", pooler.transform(train), y_train, random_state=0)
        accuracy[pooling] = float(np.mean(model.predict(pooler.transform(test)) == y_test))
    assert accuracy["attention"] >= 0.95
    assert accuracy["attention"] > accuracy["mean"] + 0.1
    # Attention on a positive scan sits on its pattern slices.
    weights = pooler.slice_weights(test)
    positive = [i for i in range(len(test)) if y_test[i] == 1]
    on_pattern = [
        weights[test.offsets[i] : test.offsets[i + 1]][patterns[i]].sum() for i in positive
    ]
    assert np.median(on_pattern) > 0.5


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_evidence_slices_of_a_positive_scan_are_its_pattern_slices(pooling):
    train, y_train, _ = _scans(80, seed=4)
    test, y_test, patterns = _scans(40, seed=5)
    pooler = ScanPooler(pooling, random_state=0).fit(train, y_train)
    model = train_model("logreg", pooler.transform(train), y_train, random_state=0)
    evidence = evidence_slices(pooler, model, test, k=2)
    positive = [i for i in range(len(test)) if y_test[i] == 1]
    hits = [set(evidence[i].tolist()) <= set(patterns[i].tolist()) for i in positive]
    assert all(len(e) == 2 for e in evidence)
    assert np.mean(hits) >= 0.8


def test_a_one_slice_scan_pools_to_that_slice():
    train, y_train, _ = _scans(40, seed=6)
    single = ScanBags(train.rows[:5], np.arange(6, dtype=np.int64))
    for pooling in ("mean", "attention"):
        pooler = ScanPooler(pooling, random_state=0).fit(train, y_train)
        np.testing.assert_allclose(pooler.transform(single), train.rows[:5], atol=1e-5)


def test_attention_training_is_seeded():
    train, y_train, _ = _scans(30, seed=7)
    first = ScanPooler("attention", random_state=3).fit(train, y_train).slice_weights(train)
    again = ScanPooler("attention", random_state=3).fit(train, y_train).slice_weights(train)
    np.testing.assert_array_equal(first, again)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_strategy_queries_scans_on_pooled_rows():
    from learning.scan_simulate import run_scan_curve
    from learning.simulate import SimulationSetup
    from learning.strategies import strategy_names

    train, y_train, _ = _scans(30, seed=8)
    test, y_test, _ = _scans(20, seed=9)
    setup = SimulationSetup(6, 4, 18, 1, 0, "logreg", {})
    for name in strategy_names():
        # Mean pooling: the contract is the strategies' on pooled rows (attention is above).
        points = run_scan_curve(name, train, y_train, test, y_test, setup, 0, pooling="mean")
        assert [p[0] for p in points] == [6, 10, 14, 18], name


def test_wide_slice_rows_are_attended_through_a_projection_and_pooled_in_full():
    train, y_train, _ = _scans(60, seed=10)
    test, y_test, _ = _scans(100, seed=11)
    rng = np.random.default_rng(0)

    def widened(bags: ScanBags) -> ScanBags:
        noise = rng.normal(size=(len(bags.rows), 120)).astype(np.float32)
        return ScanBags(np.hstack([bags.rows, noise]), bags.offsets)

    wide_train, wide_test = widened(train), widened(test)
    pooler = ScanPooler("attention", random_state=0).fit(wide_train, y_train)
    assert pooler.attention_.projection_.shape == (128, 64)
    pooled = pooler.transform(wide_test)
    assert pooled.shape == (100, 128)
    model = train_model("logreg", pooler.transform(wide_train), y_train, random_state=0)
    assert np.mean(model.predict(pooled) == y_test) >= 0.85
