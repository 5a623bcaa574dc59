"""Image representations learned from the unlabeled pool: the landmark spectral embedding,
the contrastive encoder, and stacking them with raw features."""

import numpy as np
import pytest

from learning.contrastive import ContrastiveImageEncoder, StackedFeaturizer, encoder_input_size
from learning.models import make_model
from learning.spectral import LandmarkSpectralFeaturizer


def _moons(n: int, seed: int = 0):
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=0.05, random_state=seed)
    return X.astype(np.float32), y


def test_landmark_spectral_separates_moons_from_six_labels_like_the_exact_embedding():
    from learning.features import SpectralFeaturizer

    X, y = _moons(400)
    features = LandmarkSpectralFeaturizer(n_components=4, random_state=0).fit_transform(X)
    assert features.shape == (400, 4) and features.dtype == np.float32
    exact = SpectralFeaturizer(n_components=4, random_state=0).fit_transform(X)
    labeled = np.concatenate([np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:3]])

    def accuracy(rows):
        return (
            make_model("logreg_fixed", random_state=0).fit(rows[labeled], y[labeled]).score(rows, y)
        )

    assert accuracy(features) > 0.97
    assert accuracy(features) >= accuracy(exact) - 0.02
    assert accuracy(X) < 0.9


def test_landmark_spectral_extends_to_new_items_from_a_bounded_landmark_set():
    X, y = _moons(3000)
    featurizer = LandmarkSpectralFeaturizer(n_components=4, max_landmarks=500, chunk_size=256)
    featurizer.fit(X[:2000])
    assert len(featurizer.landmarks_) == 500
    assert featurizer.landmark_embedding_.shape == (500, 4)
    pool, new = featurizer.transform(X[:2000]), featurizer.transform(X[2000:])
    assert new.shape == (1000, 4) and new.dtype == np.float32
    # A model trained on pool items classifies items the embedding never saw.
    labeled = np.concatenate([np.flatnonzero(y[:2000] == c)[:5] for c in (0, 1)])
    model = make_model("logreg_fixed", random_state=0).fit(pool[labeled], y[labeled])
    assert model.score(new, y[2000:]) > 0.95
    # Chunking does not change the answer.
    whole = LandmarkSpectralFeaturizer(n_components=4, max_landmarks=500, chunk_size=10**6)
    np.testing.assert_allclose(whole.fit(X[:2000]).transform(X[2000:]), new, atol=1e-6)


def test_landmark_spectral_is_deterministic_for_a_seed():
    X, _ = _moons(400)
    first = LandmarkSpectralFeaturizer(n_components=3, random_state=3).fit_transform(X)
    second = LandmarkSpectralFeaturizer(n_components=3, random_state=3).fit_transform(X)
    np.testing.assert_array_equal(first, second)


def test_landmark_spectral_refuses_to_transform_before_fit():
    with pytest.raises(RuntimeError, match="fit"):
        LandmarkSpectralFeaturizer().transform(np.zeros((2, 2), dtype=np.float32))


def _strokes(n: int, seed: int = 0):
    """8x8 images of a horizontal or a vertical bar at a random place, with noise."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0.0, 0.05, size=(n, 8, 8)).astype(np.float32)
    y = rng.integers(0, 2, size=n)
    where = rng.integers(1, 7, size=n)
    for i in range(n):
        if y[i]:
            images[i, :, where[i]] += 1.0
        else:
            images[i, where[i], :] += 1.0
    return np.clip(images, 0, 1).reshape(n, 64), y


def test_contrastive_encoder_gives_standardised_features_deterministically():
    X, _ = _strokes(120)
    settings = dict(width=4, dimension=16, steps=4, batch_size=32, random_state=1)
    encoder = ContrastiveImageEncoder((8, 8), **settings).fit(X)
    features = encoder.transform(X)
    assert features.shape == (120, 16) and features.dtype == np.float32
    assert np.isfinite(encoder.losses_).all() and len(encoder.losses_) == 4
    np.testing.assert_allclose(features.mean(axis=0), 0.0, atol=1e-4)
    again = ContrastiveImageEncoder((8, 8), **settings).fit(X).transform(X)
    np.testing.assert_array_equal(features, again)
    new, _ = _strokes(10, seed=5)
    assert encoder.transform(new).shape == (10, 16)


@pytest.mark.slow
def test_contrastive_training_lowers_the_loss_and_learns_the_stroke_direction():
    X, y = _strokes(400)
    encoder = ContrastiveImageEncoder(
        (8, 8), width=8, dimension=32, steps=80, batch_size=64, random_state=0
    ).fit(X)
    assert encoder.losses_[-10:].mean() < encoder.losses_[:10].mean()
    features = encoder.transform(X)
    labeled = np.concatenate([np.flatnonzero(y == c)[:10] for c in (0, 1)])
    model = make_model("logreg_fixed", random_state=0).fit(features[labeled], y[labeled])
    assert model.score(features, y) > 0.9


def test_contrastive_encoder_rejects_rows_of_the_wrong_size():
    with pytest.raises(ValueError, match="image_shape"):
        ContrastiveImageEncoder((8, 8), steps=1).fit(np.zeros((4, 60), dtype=np.float32))


def test_encoder_input_size_follows_the_images_within_bounds():
    assert encoder_input_size([8, 8, 8]) == 8
    assert encoder_input_size([28, 28, 30]) == 24
    assert encoder_input_size([512, 1024, 768]) == 96
    with pytest.raises(ValueError):
        encoder_input_size([])


def test_stacked_features_keep_the_raw_block_and_balance_block_variance():
    X, y = _moons(300)
    stacked = StackedFeaturizer([LandmarkSpectralFeaturizer(n_components=4), None]).fit(X)
    features = stacked.transform(X)
    assert features.shape == (300, 6) and features.dtype == np.float32
    spectral_block, raw_block = features[:, :4], features[:, 4:]
    np.testing.assert_allclose(spectral_block.var(axis=0).sum(), 1.0, rtol=1e-3)
    np.testing.assert_allclose(raw_block.var(axis=0).sum(), 1.0, rtol=1e-3)
    # The raw block is an affine image of the input: nothing of it is lost.
    np.testing.assert_allclose(np.corrcoef(raw_block[:, 0], X[:, 0])[0, 1], 1.0, atol=1e-6)
    with pytest.raises(RuntimeError):
        StackedFeaturizer([None]).transform(X)
