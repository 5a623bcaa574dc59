import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

from learning.evaluation import evaluate, wilson_interval

labels = st.sampled_from(["a", "b", "c", "d"])


@given(pairs=st.lists(st.tuples(labels, labels), min_size=1, max_size=60))
def test_evaluate_agrees_with_scikit_learn(pairs):
    classes = ["a", "b", "c", "d"]
    y_true = np.array([t for t, _ in pairs])
    y_pred = np.array([p for _, p in pairs])
    report = evaluate(y_true, y_pred, classes)
    assert report["n"] == len(pairs)
    assert report["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert report["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)
    )
    assert report["confusion_matrix"] == confusion_matrix(y_true, y_pred, labels=classes).tolist()
    for label in classes:
        if label in set(y_true.tolist()):
            assert report["per_class_recall"][label] == pytest.approx(
                recall_score(y_true, y_pred, labels=[label], average="macro")
            )
        else:
            assert report["per_class_recall"][label] is None


def test_evaluate_rejects_labels_outside_the_classes():
    with pytest.raises(ValueError, match="not in classes"):
        evaluate(["a", "z"], ["a", "a"], ["a", "b"])


@given(n=st.integers(1, 5000), data=st.data())
def test_wilson_interval_contains_the_observed_proportion_and_is_symmetric(n, data):
    k = data.draw(st.integers(0, n))
    low, high = wilson_interval(k, n)
    assert 0.0 <= low <= k / n <= high <= 1.0
    mirror_low, mirror_high = wilson_interval(n - k, n)
    assert low == pytest.approx(1.0 - mirror_high) and high == pytest.approx(1.0 - mirror_low)


def test_wilson_interval_narrows_with_more_items_and_widens_with_confidence():
    width = lambda k, n, c=0.95: np.subtract(*wilson_interval(k, n, c)[::-1])  # noqa: E731
    assert width(90, 100) > width(900, 1000)
    assert width(90, 100, 0.99) > width(90, 100, 0.90)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(5, 3)


def test_wilson_interval_covers_the_true_rate_about_as_often_as_promised():
    rng = np.random.default_rng(0)
    successes = rng.binomial(40, 0.85, size=4000)
    covered = [
        low <= 0.85 <= high for low, high in (wilson_interval(int(k), 40) for k in successes)
    ]
    assert 0.92 <= np.mean(covered) <= 0.98
