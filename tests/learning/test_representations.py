"""The representation registry: every entry builds a featurizer that keeps the contract, and
"auto" is resolved from the modality and the pool size."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from learning.models import model_names
from learning.representations import (
    REPRESENTATIONS,
    FeaturizerOptions,
    auto_representation,
    get_representation,
    image_size_for,
    representation_names,
    resolve_representation,
)


def _images(folder, n=12):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"{i}.png"
        Image.fromarray((rng.random((10, 14)) * 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths


TEXTS = [f"{word} number {i} about {word}" for i in range(12) for word in ("cats", "rockets")]


@pytest.mark.parametrize(
    "name", sorted(set(REPRESENTATIONS) - {"minilm", "backbone", "onnx_encoder"})
)
def test_every_local_representation_fits_and_transforms_to_float32_rows(name, tmp_path):
    representation = get_representation(name)
    raw = TEXTS if representation.modality == "text" else _images(tmp_path)
    options = FeaturizerOptions(random_state=0, image_size=image_size_for(14, 10))
    featurizer = representation.featurizer(options)
    assert featurizer.fit(raw) is featurizer
    first, rest = featurizer.transform(raw[:5]), featurizer.transform(raw[5:])
    assert first.dtype == np.float32 and first.ndim == 2 and len(first) == 5
    assert rest.shape == (len(raw) - 5, first.shape[1])
    assert np.isfinite(np.concatenate([first, rest])).all()
    assert representation.default_model in model_names()


def test_auto_picks_minilm_for_text_and_spectral_for_images_until_its_pool_limit():
    assert auto_representation("text", 20_000).name == "minilm"
    assert auto_representation("image", 1_000).name == "spectral"
    limit = get_representation("spectral").max_items
    # Past the exact embedding's wall, the landmark one; past that, pixels.
    assert auto_representation("image", limit + 1).name == "landmark_spectral"
    landmark_limit = get_representation("landmark_spectral").max_items
    assert auto_representation("image", landmark_limit + 1).name == "pixels"
    weights = {"image_backbone_weights": "/srv/backbone.pt2"}
    assert auto_representation("image", 1_000, resources=weights).name == "backbone"


def test_a_named_representation_that_does_not_apply_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="represents texts, not images"):
        resolve_representation("minilm", "image", 10)
    with pytest.raises(ValueError, match="needs image_backbone_weights"):
        resolve_representation("backbone", "image", 10)
    with pytest.raises(ValueError, match="handles 3 to 50000 items"):
        resolve_representation("spectral", "image", 60_000)
    with pytest.raises(ValueError, match="unknown representation"):
        resolve_representation("sift", "image", 10)


def test_names_per_modality_list_auto_candidates_first():
    assert representation_names("text")[0] == "minilm"
    assert set(representation_names("image")) >= {"spectral", "pixels", "backbone"}


def test_pixel_size_keeps_the_aspect_and_never_enlarges():
    assert image_size_for(8, 8) == (8, 8)
    assert image_size_for(640, 480) == (24, 32)
