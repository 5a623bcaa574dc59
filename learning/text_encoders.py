"""Fast text representations derived from the shipped all-MiniLM-L6-v2.

- :class:`FastMiniLMEmbedder`: the exact MiniLM network, tuned for CPU throughput (a
  ``max_seq_length`` of 128 word pieces, the length MiniLM was trained at; every torch
  thread of the machine; optional int8 dynamic quantisation of its linear layers).
- :class:`StaticMiniLMEmbedder`: a *static* embedding distilled from MiniLM on this machine
  (the Model2Vec recipe, Tulkens & van Dongen 2024): each word piece of MiniLM's vocabulary
  is run through MiniLM once, the token vectors are reduced by PCA, and a text is the
  SIF-weighted mean of its word pieces' vectors (weights from the pool's own token
  frequencies, Arora et al. 2017). Thousands of texts per second, no network at run time.

Distillation needs about a minute of CPU once per model; the vectors are cached as an ``.npz``
beside the caller's ``cache_dir`` (or under ``~/.cache/tweezers``). The ``model2vec``
library's own distiller pins an older ``transformers`` than sentence-transformers needs here,
so the recipe is written out (40 lines) on top of the same tokenizer and weights.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from learning.features import MiniLMEmbedder, minilm_model_path


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def torch_device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class FastMiniLMEmbedder(MiniLMEmbedder):
    """The exact all-MiniLM-L6-v2, tuned for throughput: ``transform(texts) -> (n, 384)``.

    ``max_seq_length`` word pieces per text (MiniLM was trained on 128; the shipped config
    allows 256, which costs time on long descriptions for a cosine of 0.99 to the full
    embedding). ``quantize`` applies torch's dynamic int8 quantisation to the linear layers
    on CPU. ``threads`` sets torch's intra-op threads (default: all cores). Uses CUDA when
    torch sees one (then ``quantize`` is ignored). L2-normalised float32.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        batch_size: int = 32,
        max_seq_length: int = 128,
        quantize: bool = False,
        threads: int | None = None,
        device: str | None = None,
    ) -> None:
        super().__init__(model_path, batch_size=batch_size, device=device or "auto")
        self.max_seq_length = max_seq_length
        self.quantize = quantize
        self.threads = threads

    def _load(self) -> Any:
        if self._model is None:
            import torch

            if self.device == "auto":
                self.device = torch_device()
            if self.threads:
                torch.set_num_threads(self.threads)
            model = super()._load()
            model.max_seq_length = self.max_seq_length
            if self.quantize and self.device == "cpu":
                model = torch.ao.quantization.quantize_dynamic(
                    model, {torch.nn.Linear}, dtype=torch.qint8
                )
            self._model = model
        return self._model


def _distilled_path(model_dir: Path, n_components: int, cache_dir: Path | None) -> Path:
    digest = hashlib.sha256()
    weights = model_dir / "model.safetensors"
    digest.update(str(weights.stat().st_size if weights.exists() else model_dir).encode())
    digest.update(str(model_dir.resolve()).encode())
    folder = cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    name = f"static-minilm-{digest.hexdigest()[:12]}-{n_components}.npz"
    return (folder if cache_dir else folder / "tweezers") / name


def distill_token_vectors(
    model_dir: str | Path,
    *,
    n_components: int = 256,
    batch_size: int = 1024,
    random_state: int = 0,
) -> NDArray[np.float32]:
    """One vector per word piece of the model's vocabulary: ``(vocab_size, n_components)``.

    Each token ``t`` is encoded as ``[CLS] t [SEP]`` and mean-pooled over the three
    positions (as MiniLM pools a sentence); PCA then centres and rotates the table (keeping
    ``n_components`` directions), which removes the common direction every token shares.
    """
    _offline()
    import torch
    from sklearn.decomposition import PCA
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    network = AutoModel.from_pretrained(str(model_dir)).eval()
    device = torch_device()
    network.to(device)
    vocab_size = int(tokenizer.vocab_size)
    rows = []
    with torch.inference_mode():
        for start in range(0, vocab_size, batch_size):
            ids = torch.arange(start, min(start + batch_size, vocab_size))
            batch = torch.stack(
                [
                    torch.full_like(ids, tokenizer.cls_token_id),
                    ids,
                    torch.full_like(ids, tokenizer.sep_token_id),
                ],
                dim=1,
            ).to(device)
            hidden = network(input_ids=batch, attention_mask=torch.ones_like(batch))
            rows.append(hidden.last_hidden_state.mean(dim=1).float().cpu().numpy())
    table = np.concatenate(rows).astype(np.float64)
    n_components = min(n_components, table.shape[1])
    reduced = PCA(n_components=n_components, random_state=random_state).fit_transform(table)
    return reduced.astype(np.float32)


class StaticMiniLMEmbedder:
    """A static (bag of word pieces) embedding distilled from all-MiniLM-L6-v2.

    ``fit(texts)`` loads (or distills once and caches) the ``(vocab, n_components)`` token
    table and computes SIF weights ``a / (a + p(token))`` from the token frequencies of
    ``texts`` (the pool). ``transform(texts) -> float32 (n, n_components)``, L2-normalised:
    the weighted mean of each text's word-piece vectors. Deterministic; no network.
    Fitted attributes: ``token_vectors_``, ``token_weights_``.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        n_components: int = 256,
        sif_coefficient: float = 1e-3,
        max_tokens: int = 512,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.model_path = model_path
        self.n_components = n_components
        self.sif_coefficient = sif_coefficient
        self.max_tokens = max_tokens
        self.cache_dir = cache_dir
        self._tokenizer: Any = None

    def _model_dir(self) -> Path:
        return Path(self.model_path) if self.model_path else minilm_model_path()

    def _tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(self._model_dir() / "tokenizer.json"))
            self._tokenizer.no_truncation()
            self._tokenizer.no_padding()
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [e.ids[: self.max_tokens] for e in encodings]

    def _counts(self, texts: Sequence[str]) -> Any:
        from scipy.sparse import csr_matrix

        ids = self._tokenize(texts)
        lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        columns = np.fromiter((t for row in ids for t in row), dtype=np.int64, count=indptr[-1])
        counts = csr_matrix(
            (np.ones(len(columns), dtype=np.float32), columns, indptr),
            shape=(len(ids), len(self.token_vectors_)),
        )
        counts.sum_duplicates()
        return counts

    def fit(self, texts: Sequence[str]) -> StaticMiniLMEmbedder:
        model_dir = self._model_dir()
        cache = _distilled_path(
            model_dir, self.n_components, Path(self.cache_dir) if self.cache_dir else None
        )
        if cache.exists():
            self.token_vectors_ = np.load(cache)["token_vectors"]
        else:
            self.token_vectors_ = distill_token_vectors(model_dir, n_components=self.n_components)
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_name(cache.name + ".partial.npz")
            np.savez(partial, token_vectors=self.token_vectors_)
            os.replace(partial, cache)
        # Token probabilities from the pool, add-one smoothed so unseen tokens weigh most.
        frequency = np.asarray(self._counts(texts).sum(axis=0)).ravel() + 1.0
        probability = frequency / frequency.sum()
        self.token_weights_ = (self.sif_coefficient / (self.sif_coefficient + probability)).astype(
            np.float32
        )
        return self

    @property
    def dimension(self) -> int:
        return int(self.n_components)

    def transform(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Float32 ``(n, n_components)``; a text with no word piece maps to zeros."""
        if not hasattr(self, "token_vectors_"):
            raise RuntimeError("StaticMiniLMEmbedder: call fit(texts) before transform")
        if len(texts) == 0:
            return np.empty((0, self.token_vectors_.shape[1]), dtype=np.float32)
        weighted = self._counts(texts).multiply(self.token_weights_[None, :]).tocsr()
        sums = np.asarray(weighted @ self.token_vectors_, dtype=np.float32)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return (sums / np.maximum(norms, 1e-12)).astype(np.float32)

    def fit_transform(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self.fit(texts).transform(texts)


class StaticMiniLMPoolFeaturizer:
    """Registry adapter: texts → :class:`StaticMiniLMEmbedder` (SIF weights fitted on the
    pool; any text can be transformed afterwards). ``options``: a
    :class:`learning.representations.FeaturizerOptions`."""

    def __init__(self, options: Any) -> None:
        self.embedder = StaticMiniLMEmbedder()

    def fit(self, raw: Sequence[str]) -> StaticMiniLMPoolFeaturizer:
        self.embedder.fit(list(raw))
        return self

    def transform(self, raw: Sequence[str]) -> NDArray[np.float32]:
        """Float32 ``(len(raw), 256)``."""
        return self.embedder.transform(list(raw))
