"""One contract, run against every registered strategy."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learning.disagreement import vote_entropy
from learning.measures import margin_scores
from learning.models import make_model
from learning.strategies import (
    STRATEGIES,
    QueryByCommittee,
    QueryResult,
    UncertaintySampling,
    get_strategy,
    strategy_names,
)
from tests.learning.conftest import make_blobs_problem

REQUIRED = {
    "random",
    "least_confidence",
    "margin",
    "entropy",
    "qbc",
    "qbc_kl",
    "cold_start",
    "default",
}


@functools.cache
def _fitted():
    problem = make_blobs_problem(n_pool=200)
    model = make_model("logreg", random_state=0).fit(problem.X_labeled, problem.y_labeled)
    return problem, model


def _query(name, model, X_pool, n, seed, exclude=None, **params):
    problem, _ = _fitted()
    return get_strategy(name, **params).query(
        model,
        X_pool,
        n,
        rng=np.random.default_rng(seed),
        X_labeled=problem.X_labeled,
        y_labeled=problem.y_labeled,
        exclude=exclude,
    )


def test_the_registry_holds_every_strategy_the_web_app_names():
    assert set(strategy_names()) >= REQUIRED
    assert strategy_names() == sorted(STRATEGIES)
    with pytest.raises(ValueError, match="unknown strategy"):
        get_strategy("clairvoyant")


@pytest.mark.parametrize("name", strategy_names())
@given(
    n=st.integers(0, 60),
    n_excluded=st.integers(0, 190),
    seed=st.integers(0, 2**32 - 1),
    with_model=st.booleans(),
)
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_strategy_returns_distinct_ranked_never_excluded_positions(
    name, n, n_excluded, seed, with_model
):
    problem, model = _fitted()
    n_pool = len(problem.X_pool)
    excluded = np.random.default_rng(seed).choice(n_pool, size=n_excluded, replace=False)
    result = _query(name, model if with_model else None, problem.X_pool, n, seed, excluded)
    assert isinstance(result, QueryResult)
    assert result.positions.dtype == np.int64 and result.scores.dtype == np.float64
    assert len(result.positions) == min(n, n_pool - n_excluded) == len(result.scores)
    assert len(np.unique(result.positions)) == len(result.positions)
    assert np.all((result.positions >= 0) & (result.positions < n_pool))
    assert not np.isin(result.positions, excluded).any()
    assert np.all(np.isfinite(result.scores))
    assert np.all(np.diff(result.scores) <= 0)


@pytest.mark.parametrize("name", strategy_names())
@pytest.mark.parametrize("with_model", [True, False])
def test_same_seed_same_choice_and_scores(name, with_model):
    problem, model = _fitted()
    fitted = model if with_model else None
    first = _query(name, fitted, problem.X_pool, 15, seed=7)
    second = _query(name, fitted, problem.X_pool, 15, seed=7)
    np.testing.assert_array_equal(first.positions, second.positions)
    np.testing.assert_array_equal(first.scores, second.scores)


@pytest.mark.parametrize("name", strategy_names())
def test_a_memmapped_pool_scored_in_small_chunks_gives_the_in_memory_answer(name, tmp_path):
    problem, model = _fitted()
    path = tmp_path / "pool.npy"
    np.save(path, problem.X_pool)
    mapped = np.load(path, mmap_mode="r")
    params = {"chunk_size": 37} if "chunk_size" in _field_names(name) else {}
    in_memory = _query(name, model, problem.X_pool, 12, seed=3)
    chunked = _query(name, model, mapped, 12, seed=3, **params)
    np.testing.assert_array_equal(in_memory.positions, chunked.positions)
    np.testing.assert_allclose(in_memory.scores, chunked.scores, rtol=1e-12)


def _field_names(name):
    import dataclasses

    return {f.name for f in dataclasses.fields(get_strategy(name))}


@pytest.mark.parametrize("name", strategy_names())
def test_calling_the_strategy_returns_the_positions_of_query(name):
    problem, model = _fitted()
    strategy = get_strategy(name)
    kwargs = {"X_labeled": problem.X_labeled, "y_labeled": problem.y_labeled}
    called = strategy(model, problem.X_pool, 5, rng=np.random.default_rng(2), **kwargs)
    queried = strategy.query(model, problem.X_pool, 5, rng=np.random.default_rng(2), **kwargs)
    np.testing.assert_array_equal(called, queried.positions)


@pytest.mark.parametrize("name", strategy_names())
def test_a_boolean_mask_excludes_the_masked_items_and_only_those(name):
    problem, model = _fitted()
    X_pool = problem.X_pool[:50]
    excluded = np.zeros(50, dtype=bool)
    excluded[[10, 20]] = True
    result = _query(name, model, X_pool, 50, seed=1, exclude=excluded)
    assert sorted(result.positions.tolist()) == [i for i in range(50) if i not in (10, 20)]


@pytest.mark.parametrize("name", strategy_names())
def test_a_boolean_mask_and_the_same_positions_give_the_same_choice(name):
    problem, model = _fitted()
    mask = np.zeros(len(problem.X_pool), dtype=bool)
    mask[::3] = True
    by_mask = _query(name, model, problem.X_pool, 12, seed=5, exclude=mask)
    by_positions = _query(name, model, problem.X_pool, 12, seed=5, exclude=np.flatnonzero(mask))
    np.testing.assert_array_equal(by_mask.positions, by_positions.positions)


@pytest.mark.parametrize(
    ("exclude", "error", "message"),
    [
        (np.array([1.0, 2.0]), TypeError, "boolean mask or integer positions"),
        (np.zeros(49, dtype=bool), ValueError, "mask of length 49"),
        (np.array([3, -1]), ValueError, "negative"),
        (np.array([3, 200]), ValueError, "outside the pool"),
        (np.array([[1, 2]]), ValueError, "1-D"),
        (["a"], TypeError, "boolean mask or integer positions"),
    ],
)
@pytest.mark.parametrize("name", strategy_names())
def test_an_exclude_that_is_neither_mask_nor_positions_is_refused(name, exclude, error, message):
    problem, model = _fitted()
    with pytest.raises(error, match=message):
        _query(name, model, problem.X_pool, 5, seed=0, exclude=exclude)


@pytest.mark.parametrize("name", strategy_names())
def test_an_empty_exclude_list_excludes_nothing(name):
    problem, model = _fitted()
    nothing = _query(name, model, problem.X_pool, 7, seed=4)
    empty = _query(name, model, problem.X_pool, 7, seed=4, exclude=[])
    np.testing.assert_array_equal(nothing.positions, empty.positions)


def _likeliest_second_class(proba):
    return proba[:, 1]


def test_a_measure_function_runs_like_its_registered_name_and_reports_its_own_name():
    problem, model = _fitted()
    rng = np.random.default_rng
    by_name = UncertaintySampling(measure="margin").query(model, problem.X_pool, 10, rng=rng(3))
    by_function = UncertaintySampling(measure=margin_scores)
    result = by_function.query(model, problem.X_pool, 10, rng=rng(3))
    np.testing.assert_array_equal(by_name.positions, result.positions)
    assert UncertaintySampling(measure="margin").name == "margin"
    assert by_function.name == "margin_scores"


def test_a_callers_own_measure_picks_what_it_scores_highest():
    problem, model = _fitted()
    strategy = UncertaintySampling(measure=_likeliest_second_class)
    result = strategy.query(model, problem.X_pool, 5, rng=np.random.default_rng(0))
    expected = np.argsort(-model.predict_proba(problem.X_pool)[:, 1], kind="stable")[:5]
    assert result.positions.tolist() == expected.tolist()
    assert strategy.name == "_likeliest_second_class"


def test_a_registered_strategy_with_a_callers_measure_is_named_after_both():
    problem, model = _fitted()
    strategy = get_strategy("default", measure=_likeliest_second_class)
    assert strategy.name == "default(_likeliest_second_class)"
    assert get_strategy("default").name == "default"
    assert len(strategy(model, problem.X_pool, 6, rng=np.random.default_rng(0))) == 6
    committee = get_strategy("qbc", disagreement=vote_entropy)
    assert committee.name == "qbc(vote_entropy)"
    assert QueryByCommittee(disagreement=vote_entropy).name == "vote_entropy"


def test_an_unknown_measure_name_or_a_measure_that_is_no_function_is_refused():
    with pytest.raises(ValueError, match="unknown uncertainty measure 'margn'; known: entropy"):
        UncertaintySampling(measure="margn")
    with pytest.raises(TypeError, match="name or a function, got int"):
        UncertaintySampling(measure=3)
    with pytest.raises(ValueError, match="unknown disagreement measure"):
        QueryByCommittee(disagreement="shouting")
