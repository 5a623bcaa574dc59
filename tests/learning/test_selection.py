import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from learning.selection import (
    COLD_STARTS,
    STRONG_CLUSTERS,
    cluster_strength,
    cold_start_n,
    diverse_top_n,
    top_n,
    typical_diverse_n,
)
from learning.strategies import get_strategy


@given(
    scores=arrays(np.float64, st.integers(1, 200), elements=st.floats(-1e6, 1e6)),
    n=st.integers(0, 250),
    seed=st.integers(0, 1000),
)
def test_top_n_returns_the_n_highest_scores_in_order(scores, n, seed):
    positions, chosen = top_n(scores, n, np.random.default_rng(seed))
    k = min(n, len(scores))
    assert len(positions) == k == len(np.unique(positions))
    np.testing.assert_array_equal(chosen, scores[positions])
    assert np.all(np.diff(chosen) <= 0)
    if k:
        assert chosen.min() >= np.sort(scores)[::-1][k - 1]


def test_top_n_breaks_ties_by_seed_not_by_array_order():
    scores = np.zeros(1000)
    picks = {tuple(top_n(scores, 5, np.random.default_rng(seed))[0]) for seed in range(5)}
    assert len(picks) == 5
    assert top_n(scores, 5, np.random.default_rng(1))[0].tolist() == list(
        top_n(scores, 5, np.random.default_rng(1))[0]
    )


def test_top_n_never_picks_minus_infinity():
    scores = np.array([-np.inf, 0.1, -np.inf, 0.2])
    positions, _ = top_n(scores, 10, np.random.default_rng(0))
    assert sorted(positions.tolist()) == [1, 3]


def _tripled_pool(seed: int, n_distinct: int = 200):
    rng = np.random.default_rng(seed)
    distinct = rng.normal(size=(n_distinct, 8)).astype(np.float32)
    uncertainty = rng.random(n_distinct)
    features = np.repeat(distinct, 3, axis=0)
    scores = np.repeat(uncertainty, 3)
    return features, scores, np.repeat(np.arange(n_distinct), 3)


@given(seed=st.integers(0, 10_000))
@settings(max_examples=15, deadline=None)
def test_diverse_batch_has_no_duplicates_where_top_k_is_mostly_duplicates(seed):
    features, scores, origin = _tripled_pool(seed)
    rng = np.random.default_rng(seed)
    plain, _ = top_n(scores, 21, rng)
    diverse, chosen = diverse_top_n(scores, features, 21, rng)
    assert len(np.unique(origin[plain])) <= 8
    assert len(np.unique(origin[diverse])) == 21
    assert np.all(np.diff(chosen) <= 0)


def test_centroid_pick_takes_each_clusters_central_candidate_not_its_most_uncertain():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
    features = np.concatenate([c + rng.normal(size=(30, 2)) for c in centres]).astype(np.float32)
    # The most uncertain item of every cluster sits at its edge.
    distance = np.linalg.norm(features - np.repeat(centres, 30, axis=0), axis=1)
    scores = 1.0 + 0.1 * distance
    central, _ = diverse_top_n(scores, features, 3, np.random.default_rng(1), pick="centroid")
    edge, _ = diverse_top_n(scores, features, 3, np.random.default_rng(1))
    assert sorted(central // 30) == sorted(edge // 30) == [0, 1, 2]
    assert distance[central].max() < distance[edge].min()
    with pytest.raises(ValueError, match="pick"):
        diverse_top_n(scores, features, 3, rng, pick="nearest")


@pytest.mark.parametrize("n", [2, 5, 10, 40])
def test_random_share_mixes_in_items_outside_the_uncertainty_candidates(n):
    rng = np.random.default_rng(n)
    scores = rng.random(50_000)
    features = rng.normal(size=(50_000, 4)).astype(np.float32)
    positions, _ = diverse_top_n(
        scores, features, n, np.random.default_rng(0), candidate_factor=2, random_share=0.5
    )
    n_random = int(np.floor(0.5 * n + 0.5))
    candidate_cut = np.sort(scores)[::-1][2 * (n - n_random) - 1]
    assert len(positions) == n
    assert np.sum(scores[positions] < candidate_cut) == n_random


def test_cold_start_takes_one_item_from_each_separated_cluster():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=50.0, size=(6, 10))
    labels = rng.integers(0, 6, size=600)
    features = (centres[labels] + rng.normal(size=(600, 10))).astype(np.float32)
    positions, scores = typical_diverse_n(features, 6, np.random.default_rng(1))
    assert sorted(labels[positions].tolist()) == list(range(6))
    assert np.all(np.diff(scores) <= 0)


def test_cold_start_labels_train_a_better_first_model_than_random_labels():
    from sklearn.datasets import load_digits

    from learning.models import make_model

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    wins = 0
    for seed in range(5):
        accuracies = {}
        for name in ["cold_start", "random"]:
            chosen = get_strategy(name).query(None, X, 20, rng=np.random.default_rng(seed))
            model = make_model("logreg", random_state=seed).fit(
                X[chosen.positions], y[chosen.positions]
            )
            accuracies[name] = model.score(X, y)
        wins += accuracies["cold_start"] > accuracies["random"]
    assert wins >= 4


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 50),
    n_allowed=st.integers(1, 200_000),
    share=st.floats(0.01, 0.5),
    factor=st.integers(1, 20),
)
def test_candidate_count_is_a_share_of_the_pool_with_a_floor_and_a_ceiling(
    n, n_allowed, share, factor
):
    from learning.selection import candidate_count

    count = candidate_count(
        n, n_allowed, candidate_factor=factor, max_candidates=10_000, candidate_share=share
    )
    assert min(n, n_allowed) <= count <= min(10_000, n_allowed)
    assert count >= min(factor * n, n_allowed, 10_000)
    assert count >= min(int(np.ceil(share * n_allowed)), 10_000)
    if factor * n < share * n_allowed <= 10_000 - 1:
        # The pool is large for the batch: the candidates are its share, not all of it.
        assert count == int(np.ceil(share * n_allowed)) < n_allowed


def test_diverse_batch_with_a_candidate_share_comes_from_the_most_uncertain_share():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2000, 4))
    scores = rng.random(2000)
    positions, _ = diverse_top_n(
        scores, features, 10, np.random.default_rng(1), candidate_factor=2, candidate_share=0.1
    )
    threshold = np.sort(scores)[::-1][199]  # the 10% most uncertain: 200 items
    assert len(positions) == 10
    assert scores[positions].min() >= threshold
    # Spread over the candidates, not just their top 10.
    assert set(positions.tolist()) != set(np.argsort(-scores)[:10].tolist())


def test_default_strategy_does_not_take_a_small_pool_whole():
    """Issue 20: with up to 10,000 candidates a 2,000-item pool was the candidate set, and
    the batch the centres of clusters of everything; the default takes its uncertain share."""
    from learning.selection import candidate_count

    strategy = get_strategy("default")
    count = candidate_count(
        10,
        2000,
        candidate_factor=strategy.candidate_factor,
        max_candidates=strategy.max_candidates,
        candidate_share=strategy.candidate_share,
    )
    assert count < 2000 / 2


@pytest.mark.parametrize("seed", range(5))
def test_default_strategy_asks_for_the_most_uncertain_item_of_the_pool(seed):
    """Session 8: the default picked the item nearest each cluster's centre among its
    uncertain candidates (typical, often already known to the model), which fell below random
    on a hard image set; it now picks each cluster's most uncertain item, so the single most
    uncertain item of the pool is always asked for."""
    from sklearn.linear_model import LogisticRegression

    from learning.measures import margin_scores

    rng = np.random.default_rng(seed)
    X_pool = rng.normal(size=(2000, 2)).astype(np.float32)
    X_labeled = rng.normal(size=(40, 2)).astype(np.float32)
    model = LogisticRegression().fit(X_labeled, X_labeled[:, 0] > 0)
    most_uncertain = int(np.argmax(margin_scores(model.predict_proba(X_pool))))

    batch = get_strategy("default").query(model, X_pool, 10, rng=np.random.default_rng(seed))

    assert len(batch.positions) == 10
    assert most_uncertain in batch.positions.tolist()


def _cores_and_halos(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ten well-separated clusters, each a tight core (30% of its members) inside a wide halo
    (70%): ``(features (1000, 5), in_core (1000,))``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=100.0, size=(10, 5))
    cluster = np.repeat(np.arange(10), 100)
    in_core = np.tile(np.arange(100) < 30, 10)
    spread = np.where(in_core, 0.05, 3.0)[:, None]
    features = centres[cluster] + rng.normal(size=(1000, 5)) * spread
    return features.astype(np.float32), in_core


def test_stratified_cold_start_covers_every_separated_cluster():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=50.0, size=(6, 10))
    labels = rng.integers(0, 6, size=600)
    features = (centres[labels] + rng.normal(size=(600, 10))).astype(np.float32)
    for seed in range(5):
        positions, _ = cold_start_n(features, 6, np.random.default_rng(seed), coverage="stratified")
        assert sorted(labels[positions].tolist()) == list(range(6))


def test_stratified_cold_start_does_not_concentrate_on_the_dense_cores():
    """Typical items are the dense cores of the clusters (a poor embedding's cores are its
    backgrounds, not its classes: issue 20, digits_clutter); the stratified cold start still
    covers every cluster but samples within it as the pool is, about 30% core."""
    core_shares = {"typical": [], "stratified": []}
    for seed in range(10):
        features, in_core = _cores_and_halos(seed)
        for coverage, shares in core_shares.items():
            positions, _ = cold_start_n(
                features, 10, np.random.default_rng(seed), coverage=coverage
            )
            assert len(np.unique(positions)) == 10
            shares.append(in_core[positions].mean())
    assert np.mean(core_shares["typical"]) == 1.0
    assert 0.1 < np.mean(core_shares["stratified"]) < 0.5


@pytest.mark.parametrize("coverage", COLD_STARTS)
def test_every_cold_start_returns_distinct_allowed_positions(coverage):
    features, _ = _cores_and_halos(0)
    allowed = np.ones(len(features), dtype=bool)
    allowed[::3] = False
    positions, scores = cold_start_n(
        features, 20, np.random.default_rng(0), allowed=allowed, coverage=coverage
    )
    assert len(positions) == len(np.unique(positions)) == len(scores) == 20
    assert allowed[positions].all()


def _specks_in_a_cloud(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """No cluster structure, but dense specks: 800 items of one Gaussian cloud and ten specks
    of 20 near-identical items inside it (a cluttered image set's repeated backgrounds):
    ``(features (1000, 8), in_speck (1000,))``."""
    rng = np.random.default_rng(seed)
    cloud = rng.normal(scale=3.0, size=(800, 8))
    centres = rng.normal(scale=2.0, size=(10, 8))
    specks = np.repeat(centres, 20, axis=0) + rng.normal(scale=0.01, size=(200, 8))
    in_speck = np.arange(1000) >= 800
    return np.concatenate([cloud, specks]).astype(np.float32), in_speck


def test_cluster_strength_separates_clear_clusters_from_structureless_pools():
    from sklearn.cluster import KMeans

    def strength(features):
        rows = features.astype(np.float64)
        return cluster_strength(rows, KMeans(10, n_init=1, random_state=0).fit_predict(rows))

    rng = np.random.default_rng(0)
    assert strength(_cores_and_halos(0)[0]) > 0.5
    for dimensions in (2, 16, 64):
        assert abs(strength(rng.normal(size=(1500, dimensions)))) < 0.1
    assert strength(_specks_in_a_cloud(0)[0]) < STRONG_CLUSTERS


def test_the_checked_cold_start_takes_the_typical_items_of_clear_clusters():
    for seed in range(3):
        features, in_core = _cores_and_halos(seed)
        checked, _ = cold_start_n(features, 10, np.random.default_rng(seed), coverage="checked")
        typical, _ = cold_start_n(features, 10, np.random.default_rng(seed), coverage="typical")
        np.testing.assert_array_equal(checked, typical)
        assert in_core[checked].all()
        assert len(np.unique(checked // 100)) == 10  # one item of every cluster


def test_the_checked_cold_start_does_not_concentrate_on_dense_specks_without_clusters():
    """Typical items of a structureless pool's k-means clusters are its densest specks; the
    checked cold start sees the clusters are not real and samples them as the pool is (20%
    specks)."""
    speck_shares = {"typical": [], "checked": []}
    for seed in range(10):
        features, in_speck = _specks_in_a_cloud(seed)
        for coverage, shares in speck_shares.items():
            positions, _ = cold_start_n(
                features, 10, np.random.default_rng(seed), coverage=coverage
            )
            shares.append(in_speck[positions].mean())
    assert np.mean(speck_shares["typical"]) >= 0.6
    assert np.mean(speck_shares["checked"]) <= 0.4


def test_the_checked_cold_start_keeps_typical_items_no_denser_than_the_rest():
    """A high-dimensional pool without clusters or specks (sentence embeddings are close to
    it): each cluster's typical item is only a little denser than its members, so it is a
    central item, not a speck, and the checked cold start takes it."""
    features = np.random.default_rng(0).normal(size=(1500, 300)).astype(np.float32)
    checked, _ = cold_start_n(features, 10, np.random.default_rng(1), coverage="checked")
    typical, _ = cold_start_n(features, 10, np.random.default_rng(1), coverage="typical")
    np.testing.assert_array_equal(checked, typical)


@pytest.mark.parametrize("n", [1, 2, 29, 30, 40])
def test_the_checked_cold_start_asks_for_nearly_the_whole_of_a_small_pool(n):
    features = np.random.default_rng(n).normal(size=(30, 4)).astype(np.float32)
    positions, _ = cold_start_n(features, n, np.random.default_rng(0), coverage="checked")
    assert len(positions) == len(np.unique(positions)) == min(n, 30)


def test_the_default_strategy_starts_with_the_checked_cold_start():
    features, _ = _specks_in_a_cloud(3)
    first = get_strategy("default").query(None, features, 10, rng=np.random.default_rng(4))
    expected, _ = cold_start_n(features, 10, np.random.default_rng(4), coverage="checked")
    np.testing.assert_array_equal(first.positions, expected)


def test_an_unknown_cold_start_is_refused():
    with pytest.raises(ValueError, match="cold_start"):
        get_strategy("default", cold_start="densest")
    with pytest.raises(ValueError, match="coverage"):
        get_strategy("cold_start", coverage="densest")
