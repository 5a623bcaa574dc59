import numpy as np
import pytest

from learning.coverage import coverage_count, coverage_n, typical_items_safe
from learning.strategies import UncertaintySampling


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


def test_typical_items_are_safe_on_clear_clusters_not_on_dense_specks_in_a_cloud():
    features, _, _ = _separated_clusters()
    assert typical_items_safe(features, np.ones(len(features), dtype=bool))
    rng = np.random.default_rng(0)
    cloud = rng.normal(scale=3.0, size=(800, 8))
    specks = np.repeat(rng.normal(scale=2.0, size=(10, 8)), 20, axis=0)
    specks += rng.normal(scale=0.01, size=specks.shape)
    pool = np.concatenate([cloud, specks]).astype(np.float32)
    assert not typical_items_safe(pool, np.ones(len(pool), dtype=bool))


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
    covering = UncertaintySampling(diverse=True, candidate_factor=5, coverage_share=0.5)
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
