import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from learning.stopping import cohens_kappa, kappa_history, stopping_signal


@given(pairs=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=80))
def test_kappa_agrees_with_scikit_learn_where_that_is_defined(pairs):
    a = np.array([p for p, _ in pairs])
    b = np.array([q for _, q in pairs])
    ours = cohens_kappa(a, b)
    if len(set(a.tolist()) | set(b.tolist())) == 1:
        assert ours == 1.0
    else:
        assert ours == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)


def test_kappa_history_compares_each_model_with_the_previous_one():
    runs = [np.array([0, 1, 1, 0]), np.array([0, 1, 1, 0]), np.array([1, 0, 0, 1])]
    assert kappa_history(runs) == [1.0, -1.0]


def test_three_stable_rounds_advise_stopping_and_two_do_not():
    assert not stopping_signal([0.5, 0.995, 0.999]).should_stop
    signal = stopping_signal([0.5, 0.995, 0.999, 1.0])
    assert signal.should_stop and "stabilised" in signal.reason
    assert not stopping_signal([0.999, 0.999, 0.98]).should_stop


def test_target_and_budget_stop_with_their_own_reason():
    assert "target" in stopping_signal([], metric=0.91, target=0.9).reason
    assert not stopping_signal([], metric=0.89, target=0.9).should_stop
    budget = stopping_signal([0.2], labels_spent=500, budget=500)
    assert budget.should_stop and "budget" in budget.reason
    assert not stopping_signal([0.2], labels_spent=499, budget=500).should_stop
