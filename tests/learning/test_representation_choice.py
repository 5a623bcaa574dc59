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


def test_auto_keeps_the_raw_pixels_ready_beside_the_pool_fitted_first_choice():
    from learning.representations import SPECTRAL_MAX_ITEMS, auto_candidates

    assert auto_candidates("image", 1000) == ["spectral", "pixels"]
    assert auto_candidates("image", SPECTRAL_MAX_ITEMS + 1) == ["landmark_spectral", "pixels"]
    # Text serves its sentence embeddings: nothing to re-decide.
    assert len(auto_candidates("text", 1000)) == 1


def _marked_images(n_per_class: int, seed: int = 0):
    """8×8 images of four noisy patterns; one noise-free pixel alone says the class: raw
    pixels separate the classes by construction, a neighbour graph of the images does not."""
    patterns = np.random.default_rng(7).choice([30, 220], size=(4, 8, 8))
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for index in range(2 * n_per_class):
        image = patterns[index % 4] + rng.normal(0, 20, size=(8, 8))
        image[0, 0] = 140 if index % 2 else 120
        images.append(np.clip(image, 0, 255).astype(np.uint8))
        labels.append("marked" if index % 2 else "plain")
    return np.stack(images), np.array(labels)


def test_the_simulator_re_decides_an_image_arrays_representation_as_the_app_does(tmp_path):
    import json

    from learning import simulate

    X, y = _marked_images(150)
    np.savez(tmp_path / "marked.npz", X=X, y=y)
    out = tmp_path / "results.json"
    args = [str(tmp_path / "marked.npz"), "--strategies", "default", "--repeats", "1"]
    args += ["--budget", "90", "--no-progress", "--out", str(out)]
    assert simulate.main(args) == 0
    curve = json.loads(out.read_text())[0]["curves"][0]
    assert curve["served"][0] == "spectral" and curve["served"][-1] == "pixels"
    assert curve["points"][-1][1] > 0.9
