import numpy as np
import pytest

from learning.representation_choice import compare_representations, stack_blocks
from learning.simulate import SimulationSetup
from learning.switching import run_switching_curve


def _two_views(n: int = 400, seed: int = 0):
    """One view carries the class (signal), the other only noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    signal = (rng.normal(size=(n, 8)) + 4.0 * np.eye(8)[y]).astype(np.float32)
    noise = rng.normal(size=(n, 8)).astype(np.float32)
    return signal, noise, y


def test_a_clearly_better_representation_takes_over_with_its_evidence():
    signal, noise, y = _two_views()
    evidence = compare_representations({"noise": noise, "signal": signal}, y, serving="noise")
    assert evidence.switch and evidence.chosen == "signal"
    assert evidence.scores["signal"][0] > evidence.scores["noise"][0] + 0.3
    assert "signal" in evidence.reason and evidence.as_json()["n_labels"] == len(y)


def test_the_serving_representation_stays_when_no_challenger_beats_it_by_the_margin():
    signal, _, y = _two_views()
    evidence = compare_representations(
        {"signal": signal, "copy": signal.copy()}, y, serving="signal"
    )
    assert not evidence.switch and evidence.chosen == "signal"


def test_too_few_labels_keep_the_serving_representation_without_scores():
    signal, noise, y = _two_views()
    evidence = compare_representations(
        {"noise": noise[:20], "signal": signal[:20]}, y[:20], serving="noise"
    )
    assert evidence.chosen == "noise" and evidence.scores == {}


def test_rows_of_different_items_are_refused():
    signal, noise, y = _two_views()
    with pytest.raises(ValueError, match="one row per label"):
        compare_representations({"noise": noise[:10], "signal": signal}, y, serving="signal")
    with pytest.raises(ValueError, match="not among"):
        compare_representations({"signal": signal}, y, serving="pixels")


def test_stacked_blocks_weigh_the_same_whatever_their_width():
    rng = np.random.default_rng(0)
    narrow, wide = rng.normal(size=(500, 2)) * 100, rng.normal(size=(500, 200))
    stacked = stack_blocks([narrow, wide])
    assert stacked.shape == (500, 202)
    np.testing.assert_allclose(stacked[:, :2].var(axis=0).sum(), 1.0, rtol=1e-4)
    np.testing.assert_allclose(stacked[:, 2:].var(axis=0).sum(), 1.0, rtol=1e-4)


def test_the_simulated_loop_switches_to_the_representation_the_labels_favour():
    signal, noise, y = _two_views(n=600)
    representations = {
        "noise": (noise[:450], noise[450:]),
        "signal": (signal[:450], signal[450:]),
    }
    setup = SimulationSetup(20, 10, 90, 1, 0, "logreg", {})
    served: list[tuple[int, str]] = []
    points = run_switching_curve(
        "default", representations, y[:450], y[450:], setup, 0, first="noise", served=served
    )
    assert [p[0] for p in points] == [n for n, _ in served]
    assert served[0][1] == "noise" and served[-1][1] == "signal"
    assert points[-1][1] > 0.9
