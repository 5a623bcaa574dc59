"""The metrics, kappa and Wilson interval now come from scikit-learn and SciPy: the same numbers
as the formulas the engine wrote by hand before (kept here as the reference), edge cases
included."""

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from learning.evaluation import evaluate, wilson_interval
from learning.stopping import cohens_kappa


def _hand_wilson(successes, n, confidence=0.95):
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    proportion = successes / n
    denominator = 1.0 + z * z / n
    centre = (proportion + z * z / (2.0 * n)) / denominator
    half_width = z * math.sqrt(proportion * (1 - proportion) / n + z * z / (4.0 * n * n))
    half_width /= denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half_width)
    high = 1.0 if successes == n else min(1.0, centre + half_width)
    return low, high


def _hand_kappa(a, b):
    a, b = np.asarray(a), np.asarray(b)
    labels, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    a_index, b_index = inverse[: len(a)], inverse[len(a) :]
    observed = float(np.mean(a_index == b_index))
    a_share = np.bincount(a_index, minlength=len(labels)) / len(a)
    b_share = np.bincount(b_index, minlength=len(labels)) / len(b)
    expected = float(np.dot(a_share, b_share))
    if expected >= 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def _hand_macro_f1(truth, predicted, labels):
    scores = []
    for label in labels:
        correct = np.sum((truth == label) & (predicted == label))
        denominator = np.sum(truth == label) + np.sum(predicted == label)
        scores.append(2.0 * correct / denominator if denominator else 0.0)
    return float(np.mean(scores))


@pytest.mark.parametrize(
    ("successes", "n", "confidence"),
    [(0, 0, 0.95), (0, 1, 0.95), (1, 1, 0.95), (0, 40, 0.95), (40, 40, 0.95), (17, 40, 0.95),
     (3, 7, 0.9), (999, 1000, 0.99), (1, 1000, 0.5), (5000, 10_000, 0.95)],
)  # fmt: skip
def test_wilson_interval_from_scipy_is_the_hand_written_formula(successes, n, confidence):
    low, high = wilson_interval(successes, n, confidence)
    expected_low, expected_high = _hand_wilson(successes, n, confidence)
    assert low == pytest.approx(expected_low, abs=1e-12)
    assert high == pytest.approx(expected_high, abs=1e-12)
    if successes == 0:
        assert low == 0.0
    if successes == n:
        assert high == 1.0


@given(n=st.integers(1, 3000), data=st.data())
def test_wilson_interval_matches_the_formula_for_any_count(n, data):
    k = data.draw(st.integers(0, n))
    assert wilson_interval(k, n) == pytest.approx(_hand_wilson(k, n), abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (["x"] * 5, ["x"] * 5),  # one class only: chance agreement 1
        (["x"] * 5, ["y"] * 5),  # each model constant, never agreeing
        ([1, 1, 2, 2], [1, 1, 2, 2]),
        ([1, 2, 1, 2], [2, 1, 2, 1]),
        (["a", "b", "c", "a", "b"], ["a", "b", "a", "a", "c"]),
        ([0], [0]),
    ],
)
def test_kappa_from_scikit_learn_is_the_hand_written_formula(a, b):
    assert cohens_kappa(a, b) == pytest.approx(_hand_kappa(a, b), abs=1e-12)


@given(
    pairs=st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), min_size=1, max_size=80
    )
)
def test_kappa_matches_the_formula_on_any_predictions(pairs):
    a = [x for x, _ in pairs]
    b = [y for _, y in pairs]
    assert cohens_kappa(a, b) == pytest.approx(_hand_kappa(a, b), abs=1e-12)


def test_kappa_still_refuses_empty_or_mismatched_predictions():
    with pytest.raises(ValueError, match="at least one"):
        cohens_kappa([], [])
    with pytest.raises(ValueError, match="same length"):
        cohens_kappa([1, 2], [1])


@given(
    pairs=st.lists(
        st.tuples(st.sampled_from("abcd"), st.sampled_from("abcd")), min_size=1, max_size=60
    )
)
def test_macro_f1_matches_the_formula_with_classes_absent_from_the_set(pairs):
    truth = np.array([t for t, _ in pairs])
    predicted = np.array([p for _, p in pairs])
    classes = ["a", "b", "c", "d", "e"]  # "e" is never seen: its F1 counts as 0
    report = evaluate(truth, predicted, classes)
    assert report["macro_f1"] == pytest.approx(_hand_macro_f1(truth, predicted, classes), abs=1e-12)
    assert report["per_class_recall"]["e"] is None


def test_an_empty_evaluation_set_still_gives_a_report():
    report = evaluate([], [], ["a", "b"])
    assert report == {
        "accuracy": 0.0,
        "macro_f1": 0.0,
        "per_class_recall": {"a": None, "b": None},
        "confusion_matrix": [[0, 0], [0, 0]],
        "n": 0,
    }


def test_a_set_of_one_class_predicted_right_is_perfect():
    report = evaluate(["a", "a", "a"], ["a", "a", "a"], ["a", "b"])
    assert report["accuracy"] == 1.0
    assert report["per_class_recall"] == {"a": 1.0, "b": None}
    assert report["macro_f1"] == pytest.approx(0.5)  # b's F1 is 0: never true, never predicted
    assert report["confusion_matrix"] == [[3, 0], [0, 0]]
