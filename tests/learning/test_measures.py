import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from learning.measures import (
    entropy_scores,
    least_confidence_scores,
    margin_scores,
    uncertainty_scores,
)
from learning.strategies import get_strategy
from tests.learning.conftest import FixedProbaModel

MEASURES = [least_confidence_scores, margin_scores, entropy_scores]

probabilities = st.floats(min_value=0.0, max_value=1.0, allow_nan=False, width=32)


def _probability_rows(draw_values: np.ndarray) -> np.ndarray:
    rows = np.abs(draw_values) + 1e-3
    return rows / rows.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("measure", MEASURES)
@given(p=arrays(np.float64, st.integers(1, 50), elements=probabilities))
def test_two_class_scores_rank_items_by_closeness_to_one_half(measure, p):
    scores = measure(np.column_stack([1.0 - p, p]))
    closeness = np.abs(p - 0.5)
    # strictly closer to 0.5 must never score lower (up to float rounding)
    for i in range(len(p)):
        closer = closeness < closeness[i] - 1e-9
        assert np.all(scores[closer] >= scores[i] - 1e-9)


@pytest.mark.parametrize("name", ["least_confidence", "margin", "entropy"])
@given(
    p=arrays(np.float64, st.integers(2, 40), elements=probabilities, unique=True).filter(
        lambda a: len(np.unique(np.round(np.abs(a - 0.5), 6))) == len(a)
    )
)
@settings(max_examples=40, deadline=None)
def test_uncertainty_strategy_picks_the_point_nearest_one_half(name, p):
    pool = np.column_stack([p, np.zeros_like(p)]).astype(np.float32)
    p32 = pool[:, 0].astype(np.float64)
    result = get_strategy(name).query(FixedProbaModel(), pool, 1, rng=np.random.default_rng(0))
    assert result.positions[0] == np.argmin(np.abs(p32 - 0.5))


@pytest.mark.parametrize("measure", MEASURES)
@given(
    values=arrays(
        np.float64,
        st.tuples(st.integers(1, 20), st.integers(2, 6)),
        elements=st.floats(0.0, 1.0, allow_nan=False),
    )
)
def test_uniform_rows_score_at_least_as_high_as_any_row(measure, values):
    rows = _probability_rows(values)
    uniform = np.full((1, rows.shape[1]), 1.0 / rows.shape[1])
    assert measure(uniform)[0] >= measure(rows).max() - 1e-9
    one_hot = np.eye(rows.shape[1])
    np.testing.assert_allclose(measure(one_hot), 0.0, atol=1e-12)


def test_uncertainty_scores_dispatches_by_name_and_rejects_unknown_names():
    proba = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    np.testing.assert_allclose(uncertainty_scores(proba, "margin"), margin_scores(proba))
    np.testing.assert_allclose(uncertainty_scores(proba, "entropy"), entropy_scores(proba))
    with pytest.raises(ValueError, match="unknown uncertainty measure"):
        uncertainty_scores(proba, "confusion")


def test_measures_reject_non_matrix_input():
    with pytest.raises(ValueError, match="2-D"):
        margin_scores(np.array([0.2, 0.8]))
