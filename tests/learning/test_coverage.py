import numpy as np
import pytest

from learning.coverage import coverage_applies, coverage_count, coverage_n
from learning.strategies import UncertaintySampling, get_strategy


def _separated_clusters(seed: int = 0, n_clusters: int = 12, per_cluster: int = 60):
    """``n_clusters`` well-separated clusters, each a tight core (first third of its members)
    in a wider halo: ``(features, cluster, in_core)``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=60.0, size=(n_clusters, 6))
    cluster = np.repeat(np.arange(n_clusters), per_cluster)
    in_core = np.tile(np.arange(per_cluster) < per_cluster // 3, n_clusters)
    spread = np.where(in_core, 0.05, 2.0)[:, None]
    features = centres[cluster] + rng.normal(size=(len(cluster), 6)) * spread
    return features.astype(np.float32), cluster, in_core


def test_coverage_asks_for_typical_items_of_clusters_without_labels():
    features, cluster, in_core = _separated_clusters()
    labeled = np.flatnonzero(np.isin(cluster, [0, 1, 2, 3]))[::20]  # clusters 0-3 covered
    allowed = np.ones(len(features), dtype=bool)
    allowed[labeled] = False
    for seed in range(3):
        picked = coverage_n(
            features, 8, np.random.default_rng(seed), X_labeled=features[labeled], allowed=allowed
        )
        assert len(picked) == len(np.unique(picked)) == 8
        assert allowed[picked].all()
        assert sorted(cluster[picked].tolist()) == list(range(4, 12))
        assert in_core[picked].all()


@pytest.mark.parametrize(
    ("n", "labels", "share", "per_class", "expected"),
    [
        (10, [0, 1] * 10, 0.0, None, 0),
        (10, [0, 1] * 10, 0.5, None, 5),
        (10, [0, 1] * 10, 1.0, 10, 0),  # 20 labels = 10 per class: the phase is over
        (10, [0, 1] * 9, 1.0, 10, 10),
        (3, [0, 1], 0.1, None, 1),  # a share rounds to at least one item
    ],
)
def test_coverage_count_is_a_share_of_the_batch_during_the_phase(
    n, labels, share, per_class, expected
):
    assert coverage_count(n, labels, share=share, labels_per_class=per_class) == expected


def _specks_in_a_cloud() -> np.ndarray:
    """No clusters, but ten dense specks of 20 near-identical items in a Gaussian cloud."""
    rng = np.random.default_rng(0)
    cloud = rng.normal(scale=3.0, size=(800, 8))
    specks = np.repeat(rng.normal(scale=2.0, size=(10, 8)), 20, axis=0)
    specks += rng.normal(scale=0.01, size=specks.shape)
    return np.concatenate([cloud, specks]).astype(np.float32)


def test_coverage_applies_to_flat_pools_and_with_safe_to_clear_clusters_never_to_specks():
    clusters, _, _ = _separated_clusters()
    flat = np.random.default_rng(0).normal(size=(1500, 300)).astype(np.float32)
    specks = _specks_in_a_cloud()
    assert coverage_applies(clusters, "safe")
    assert not coverage_applies(clusters, "flat")
    assert coverage_applies(flat, "flat")
    assert coverage_applies(flat, "safe")
    for pools in ("flat", "safe"):
        assert not coverage_applies(specks, pools)
        assert not coverage_applies(specks, pools)  # remembered: the same answer


class _Confident:
    """A model sure of everything but one cluster (uncertainty sampling stays there)."""

    classes_ = np.array([0, 1])

    def __init__(self, uncertain: np.ndarray):
        self.uncertain = uncertain

    def predict_proba(self, rows):
        inside = np.isin(np.arange(len(rows)), self.uncertain)
        p = np.where(inside, 0.5, 0.99)
        return np.column_stack([p, 1 - p])


def test_a_coverage_share_spreads_a_batch_over_clusters_uncertainty_never_reaches():
    features, cluster, _ = _separated_clusters()
    labeled = np.flatnonzero(cluster == 0)[:5]
    model = _Confident(np.flatnonzero(cluster == 1))
    query = {"X_labeled": features[labeled], "y_labeled": np.array([0, 1, 0, 1, 0])}
    plain = UncertaintySampling(diverse=True, candidate_factor=5)
    covering = UncertaintySampling(
        diverse=True, candidate_factor=5, coverage_share=0.5, coverage_pools="safe"
    )
    without = plain.query(model, features, 10, rng=np.random.default_rng(0), exclude=labeled,
                          **query)  # fmt: skip
    with_cover = covering.query(model, features, 10, rng=np.random.default_rng(0),
                                exclude=labeled, **query)  # fmt: skip
    assert set(cluster[without.positions]) == {1}
    assert len(with_cover.positions) == len(np.unique(with_cover.positions)) == 10
    assert np.all(np.diff(with_cover.scores) <= 0)
    assert not np.isin(with_cover.positions, labeled).any()
    # k = 5 labeled + 5 clusters over 12 real ones: one pick may share a merged cluster.
    assert len(set(cluster[with_cover.positions]) - {0, 1}) >= 4


def _flat_pool() -> np.ndarray:
    """No clear clusters, no dense specks: close to sentence embeddings (issue 20)."""
    return np.random.default_rng(0).normal(size=(1500, 300)).astype(np.float32)


def _weak_start(n_labeled):
    """The labels so far (rows 0..n-1, two classes) and a model unsure of rows 100-199 only."""
    labeled = np.arange(n_labeled)
    query = {"X_labeled": _flat_pool()[labeled], "y_labeled": np.arange(n_labeled) % 2}
    return labeled, _Confident(np.arange(100, 200)), query


def test_the_default_covers_the_pool_while_the_labels_are_few():
    """Issue 20, session 9 (fortunes_minilm): while fewer than 15 labels per class are in,
    the default on a pool without clear clusters asks for TypiClust's picks (the typical items
    of the largest clusters without labels), not for the model's uncertain corner."""
    pool = _flat_pool()
    labeled, model, query = _weak_start(6)
    allowed = np.ones(len(pool), dtype=bool)
    allowed[labeled] = False
    for seed in range(2):
        batch = get_strategy("default").query(
            model, pool, 8, rng=np.random.default_rng(seed), exclude=labeled, **query
        )
        covered = coverage_n(pool, 8, np.random.default_rng(seed), X_labeled=pool[labeled],
                             allowed=allowed, n_neighbors=5)  # fmt: skip
        assert sorted(batch.positions.tolist()) == sorted(covered.tolist())
        assert np.count_nonzero((batch.positions >= 100) & (batch.positions < 200)) <= 2


def test_the_default_is_uncertainty_sampling_after_the_coverage_phase():
    pool = _flat_pool()
    labeled, model, query = _weak_start(30)  # 15 per class
    without = get_strategy("default", coverage_share=0.0)
    for seed in range(2):
        got = get_strategy("default").query(
            model, pool, 8, rng=np.random.default_rng(seed), exclude=labeled, **query
        )
        expected = without.query(
            model, pool, 8, rng=np.random.default_rng(seed), exclude=labeled, **query
        )
        np.testing.assert_array_equal(got.positions, expected.positions)
        assert ((got.positions >= 100) & (got.positions < 200)).all()


@pytest.mark.parametrize("pool", ["clusters", "specks"])
def test_the_default_does_not_cover_clear_clusters_or_dense_specks(pool):
    """Clear clusters: the cold start's typical items covered them and margin sampling did
    the rest (digits70k); dense specks: the typical items are backgrounds (digits_clutter)."""
    features = _separated_clusters()[0] if pool == "clusters" else _specks_in_a_cloud()
    labeled = np.arange(6)
    query = {"X_labeled": features[labeled], "y_labeled": np.arange(6) % 2}
    model = _Confident(np.arange(100, 200))
    got = get_strategy("default").query(
        model, features, 8, rng=np.random.default_rng(1), exclude=labeled, **query
    )
    expected = get_strategy("default", coverage_share=0.0).query(
        model, features, 8, rng=np.random.default_rng(1), exclude=labeled, **query
    )
    np.testing.assert_array_equal(got.positions, expected.positions)


@pytest.mark.parametrize(
    "params", [{"coverage_share": 1.5}, {"coverage_share": -0.1}, {"coverage_pools": "all"}]
)
def test_bad_coverage_settings_are_refused(params):
    with pytest.raises(ValueError):
        UncertaintySampling(**params)
