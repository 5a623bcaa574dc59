import numpy as np
import pytest

from learning.agreement import fleiss_kappa, rating_counts


def test_fleiss_kappa_is_one_when_every_rater_agrees_on_every_item():
    counts = rating_counts([["a", "a", "a"], ["b", "b", "b"], ["a", "a", "a"]], ["a", "b"])

    assert fleiss_kappa(counts) == pytest.approx(1.0)


def test_fleiss_kappa_matches_the_worked_example_of_fleiss_1971():
    # The 10-subject, 14-rater, 5-category table from Fleiss (1971) / Wikipedia: 0.210.
    table = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )

    assert fleiss_kappa(table) == pytest.approx(0.210, abs=0.001)


def test_fleiss_kappa_is_near_zero_for_random_raters():
    rng = np.random.default_rng(0)
    ratings = rng.integers(0, 3, size=(2000, 4))
    counts = np.stack([np.bincount(row, minlength=3) for row in ratings])

    assert abs(fleiss_kappa(counts)) < 0.05


def test_fleiss_kappa_refuses_items_with_different_numbers_of_ratings():
    with pytest.raises(ValueError, match="same number of ratings"):
        fleiss_kappa([[2, 0], [1, 0]])
