"""The team's own model against the loop's: distributions from partial scores, the
Jensen-Shannon measure, and the ``disagreement_external`` strategy's order."""

import numpy as np
import pytest

from learning.external import ExternalDisagreement, external_distribution, jensen_shannon
from learning.strategies import get_strategy


class FixedProbaModel:
    """A fitted stand-in: row i of the pool has the probabilities ``proba[i]``, read from the
    row's first feature (its position)."""

    def __init__(self, proba: np.ndarray, classes: list[str]) -> None:
        self.proba = proba
        self.classes_ = np.array(classes, dtype=object)

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        return self.proba[rows[:, 0].astype(int)]


def pool_of(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float32).reshape(-1, 1)


def test_partial_scores_share_the_rest_and_full_ones_are_normalised():
    classes = ["cat", "dog", "fox"]
    out = external_distribution(
        [{"cat": 0.8}, {"dog": None}, {"cat": 2.0, "dog": 2.0}, {"wolf": 0.9}], classes
    )
    np.testing.assert_allclose(out[0], [0.8, 0.1, 0.1])
    np.testing.assert_allclose(out[1], [0.0, 1.0, 0.0])
    np.testing.assert_allclose(out[2], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(out[3], [1 / 3, 1 / 3, 1 / 3])


def test_jensen_shannon_is_zero_on_agreement_and_ln2_on_opposite_certainties():
    p = np.array([[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])
    q = np.array([[0.0, 1.0], [0.5, 0.5], [0.1, 0.9]])
    scores = jensen_shannon(p, q)
    assert scores[0] == pytest.approx(np.log(2))
    assert scores[1] == pytest.approx(0.0)
    assert 0 < scores[2] < np.log(2)
    np.testing.assert_allclose(scores, jensen_shannon(q, p))


def test_disagreement_first_then_the_unpredicted_by_margin_never_the_excluded():
    rng = np.random.default_rng(0)
    loop = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.9, 0.1], [0.55, 0.45], [0.8, 0.2]])
    model = FixedProbaModel(loop, ["a", "b"])
    # The team agrees on 0, disagrees strongly on 1, mildly on 3, says nothing on 2 and 4;
    # 5, where it disagrees most, is excluded (already labeled).
    strategy = get_strategy(
        "disagreement_external",
        positions=np.array([0, 1, 3, 5]),
        proba=np.array([[0.9, 0.1], [0.0, 1.0], [0.5, 0.5], [0.0, 1.0]]),
        classes=("a", "b"),
    )
    result = strategy.query(model, pool_of(6), 5, rng=rng, exclude=np.array([5]))

    assert list(result.positions) == [1, 3, 0, 4, 2]
    assert np.all(np.diff(result.scores) <= 0)


def test_a_class_only_the_team_knows_counts_as_disagreement():
    model = FixedProbaModel(np.array([[0.9, 0.1], [0.9, 0.1]]), ["a", "b"])
    strategy = ExternalDisagreement(
        positions=np.array([0, 1]), proba=np.array([[1.0, 0.0], [0.0, 1.0]]), classes=("a", "c")
    )
    result = strategy.query(model, pool_of(2), 2, rng=np.random.default_rng(0))
    assert list(result.positions) == [1, 0]
    assert result.scores[0] > 0.5


def test_without_the_teams_predictions_it_is_margin_sampling_and_before_a_model_cold_start():
    loop = np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3]])
    model = FixedProbaModel(loop, ["a", "b"])
    rng = np.random.default_rng(0)
    assert list(get_strategy("disagreement_external")(model, pool_of(3), 3, rng=rng)) == [1, 2, 0]
    cold = get_strategy("disagreement_external").query(None, pool_of(3), 2, rng=rng)
    assert len(cold.positions) == 2


def test_positions_and_proba_must_agree_in_shape():
    with pytest.raises(ValueError):
        ExternalDisagreement(positions=np.array([0, 1]), proba=np.ones((1, 2)), classes=("a", "b"))
    with pytest.raises(ValueError):
        ExternalDisagreement(positions=np.array([0]))
