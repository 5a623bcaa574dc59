"""Models out: a fitted classifier, or a whole per-item pipeline, as ONNX and TorchScript.

Every registered model (:data:`learning.models.MODELS`), and the model AutoML chose, is
re-expressed as a torch module that maps feature rows to class probabilities
(:mod:`learning.onnx_classifier`), and ``torch.onnx`` writes it. The same module, put behind
an encoder, gives the whole pipeline in one graph:

- ``minilm``: token ids + attention mask -> MiniLM -> mean pooling -> L2 normalisation ->
  classifier. The tokenizer is not a graph: its files travel beside the graph
  (:func:`minilm_tokenizer_files`); :func:`minilm_tokenize` is how the app tokenizes.
- ``pixels``: grayscale images ``(n, h, w)`` in 0..1 -> flatten -> classifier. The resize to
  ``(h, w)`` (PIL bilinear) happens before the graph.
- ``simclr``: grayscale images ``(n, side, side)`` in 0..1 -> the CNN learned on the pool,
  its features standardised, beside the standardised pixels -> classifier.

:data:`NOT_EXPORTABLE_WHOLE` says why the other representations export their classifier only.
Inputs and outputs: ``features`` float32 ``(n, d)`` (or ``input_ids`` / ``attention_mask``
int64 ``(n, tokens)``, or ``images`` float32 ``(n, h, w)``) -> ``probabilities`` float32
``(n, n_classes)``, columns in ``classes_`` order (also in the graph's metadata, ``classes``).
torch is imported when an export runs, never when this module is imported.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from learning.onnx_classifier import classes_of, probability_module

__all__ = [
    "NOT_EXPORTABLE_WHOLE",
    "WHOLE_PIPELINES",
    "classes_of",
    "export_minilm_pipeline",
    "export_minilm_torchscript",
    "export_onnx",
    "export_pixels_pipeline",
    "export_simclr_pipeline",
    "export_simclr_torchscript",
    "minilm_tokenize",
    "minilm_tokenizer_files",
    "probability_module",
]

OPSET = 17
PROBABILITIES = "probabilities"

WHOLE_PIPELINES = ("minilm", "pixels", "simclr")
"""Representations whose whole pipeline, from the item to the probabilities, is one graph."""

NOT_EXPORTABLE_WHOLE: dict[str, str] = {
    "tfidf": "TF-IDF's vocabulary and tokenisation are Python (scikit-learn) fitted on the "
    "pool; only the classifier on its SVD rows is exported.",
    "static_minilm": "its static vocabulary and tokenisation are distilled on the pool in "
    "Python; only the classifier on its rows is exported.",
    "spectral": "a spectral embedding is transductive: it has no function for an item outside "
    "the pool it was fitted on; only the classifier on its rows is exported.",
    "landmark_spectral": "its out-of-sample step is a nearest-landmark search over the pool's "
    "landmarks, not a fixed network; only the classifier on its rows is exported.",
    "backbone": "the backbone is the administrator's own file; this export gives the "
    "classifier on its rows (the backbone is already TorchScript or torch.export).",
    "onnx_encoder": "the encoder is the team's own ONNX file; this export gives the "
    "classifier on its rows, to chain after it.",
    "embeddings": "the rows were computed outside Tweezers.",
}


def _torch() -> Any:
    import torch

    return torch


def _onnx_bytes(module: Any, example: tuple, input_names: list[str], dynamic: dict) -> bytes:
    torch = _torch()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript-based exporter: deprecated in favour of the torch.export one, which
        # needs onnxscript and takes minutes for MiniLM on a CPU; this one takes seconds.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            example,
            buffer,
            input_names=input_names,
            output_names=[PROBABILITIES],
            dynamic_axes={**dynamic, PROBABILITIES: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    return buffer.getvalue()


def _with_metadata(graph: bytes, metadata: dict[str, str]) -> bytes:
    import onnx

    proto = onnx.load_from_string(graph)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "tweezers"
    return proto.SerializeToString()


def export_onnx(model: Any, n_features: int) -> bytes:
    """The classifier as an ONNX graph: ``features`` float32 ``(n, n_features)`` ->
    ``probabilities`` float32 ``(n, n_classes)`` in ``classes_`` order."""
    torch = _torch()
    module = probability_module(model)
    example = (torch.zeros((2, n_features), dtype=torch.float32),)
    graph = _onnx_bytes(module, example, ["features"], {"features": {0: "batch"}})
    return _with_metadata(graph, {"classes": json.dumps(classes_of(model))})


# --- whole pipelines --------------------------------------------------------------------------


def _minilm(model_path: str | Path | None = None) -> Any:
    from learning.features import MiniLMEmbedder

    return MiniLMEmbedder(model_path, device="cpu")._load()


def minilm_tokenize(
    texts: list[str], model_path: str | Path | None = None
) -> dict[str, NDArray[np.int64]]:
    """``input_ids`` and ``attention_mask`` int64 ``(n, tokens)`` for the MiniLM graphs, as
    the app tokenizes (padded to the longest text, cut at the model's maximum length)."""
    encoder = _minilm(model_path)
    tokens = encoder.tokenizer(
        list(texts),
        padding=True,
        truncation=True,
        max_length=encoder.max_seq_length,
        return_tensors="np",
    )
    return {
        "input_ids": tokens["input_ids"].astype(np.int64),
        "attention_mask": tokens["attention_mask"].astype(np.int64),
    }


def minilm_tokenizer_files(model_path: str | Path | None = None) -> dict[str, bytes]:
    """The tokenizer's files (Hugging Face ``tokenizers`` format) to ship beside the graph.

    ``tokenizer.json`` is set to tokenize as the app does: cut at the sentence model's
    maximum length (256; the file as shipped says 128) and padded to the longest text of a
    batch, so ``tokenizers.Tokenizer.from_file`` alone gives the graph's inputs.
    """
    from learning.features import minilm_model_path

    folder = Path(model_path) if model_path else minilm_model_path()
    names = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
    files = {name: (folder / name).read_bytes() for name in names if (folder / name).is_file()}
    if "tokenizer.json" in files:
        tokenizer = json.loads(files["tokenizer.json"])
        maximum = int(_minilm(model_path).max_seq_length)
        if tokenizer.get("truncation"):
            tokenizer["truncation"]["max_length"] = maximum
        if tokenizer.get("padding"):
            tokenizer["padding"]["strategy"] = "BatchLongest"
        files["tokenizer.json"] = json.dumps(tokenizer, ensure_ascii=False).encode()
    return files


def _minilm_encoder_module(model_path: str | Path | None = None) -> Any:
    """MiniLM + mean pooling + L2 normalisation: (input_ids, attention_mask) -> (n, 384)."""
    torch = _torch()
    from torch import nn

    transformer = _minilm(model_path)[0].auto_model.eval()

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.transformer(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            )[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / torch.clamp(mask.sum(dim=1), min=1e-9)
            return nn.functional.normalize(pooled, p=2.0, dim=1)

    return Encoder().eval()


class _Chain:
    @staticmethod
    def build(encoder: Any, head: Any) -> Any:
        from torch import nn

        class Chain(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder, self.head = encoder, head

            def forward(self, *inputs: Any) -> Any:
                return self.head(self.encoder(*inputs))

        return Chain().eval()


def _minilm_example() -> tuple:
    torch = _torch()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.int64)
    return ids, (ids != 0).to(torch.int64)


def export_minilm_pipeline(model: Any, model_path: str | Path | None = None) -> bytes:
    """The whole text pipeline as one ONNX graph: ``input_ids``, ``attention_mask`` int64
    ``(n, tokens)`` -> ``probabilities`` float32 ``(n, n_classes)``."""
    chain = _Chain.build(_minilm_encoder_module(model_path), probability_module(model))
    dynamic = {name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask")}
    graph = _onnx_bytes(chain, _minilm_example(), ["input_ids", "attention_mask"], dynamic)
    return _with_metadata(graph, {"classes": json.dumps(classes_of(model))})


def export_minilm_torchscript(model_path: str | Path | None = None) -> bytes:
    """The MiniLM encoder with its pooling and normalisation as TorchScript (traced):
    ``(input_ids, attention_mask)`` int64 -> float32 ``(n, 384)`` embeddings."""
    torch = _torch()
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(_minilm_encoder_module(model_path), _minilm_example())
        torch.jit.save(traced, buffer)
    return buffer.getvalue()


def _simclr_encoder_module(featurizer: Any) -> Any:
    """The learned image encoder of a ``simclr`` featurizer
    (:class:`learning.contrastive.ContrastivePoolFeaturizer`) as one module: images
    ``(n, side, side)`` in 0..1 -> its feature rows ``(n, d)``, exactly as ``transform`` makes
    them (the CNN's features standardised on the pool, beside the pixels, each block
    standardised and scaled as :class:`learning.contrastive.StackedFeaturizer` does)."""
    torch = _torch()
    from torch import nn

    from learning.contrastive import ContrastiveImageEncoder

    stacked = featurizer.featurizer_
    if isinstance(stacked, ContrastiveImageEncoder):
        blocks, scalers = [stacked], [(np.zeros(stacked.dimension), np.ones(stacked.dimension))]
    else:
        blocks, scalers = list(stacked.featurizers), list(stacked.scalers_)

    def tensor(values: Any) -> Any:
        return torch.as_tensor(np.asarray(values, dtype=np.float32))

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.networks = nn.ModuleList()
            self.kinds: list[str] = []
            for index, (block, (mean, scale)) in enumerate(zip(blocks, scalers, strict=True)):
                if block is None:
                    self.kinds.append("pixels")
                else:
                    self.kinds.append("encoder")
                    self.networks.append(block.network_.cpu().eval())
                    self.register_buffer(f"feature_mean{index}", tensor(block.mean_))
                    self.register_buffer(f"feature_scale{index}", tensor(block.scale_))
                self.register_buffer(f"mean{index}", tensor(mean))
                self.register_buffer(f"scale{index}", tensor(scale))

        def forward(self, images: Any) -> Any:
            parts = []
            networks = iter(self.networks)
            for index, kind in enumerate(self.kinds):
                if kind == "pixels":
                    part = images.flatten(1)
                else:
                    features = next(networks)(images.unsqueeze(1))
                    mean = getattr(self, f"feature_mean{index}")
                    part = (features - mean) / getattr(self, f"feature_scale{index}")
                mean, scale = getattr(self, f"mean{index}"), getattr(self, f"scale{index}")
                parts.append((part - mean) / scale)
            return torch.cat(parts, dim=1)

    return Encoder().eval()


def export_simclr_pipeline(model: Any, featurizer: Any) -> bytes:
    """The learned image encoder's whole pipeline: ``images`` float32 ``(n, side, side)``
    grayscale in 0..1 (PIL bilinear resize to ``featurizer.side_``) -> encoder features and
    pixels -> classifier -> ``probabilities``."""
    torch = _torch()

    side = int(featurizer.side_)
    chain = _Chain.build(_simclr_encoder_module(featurizer), probability_module(model))
    example = (torch.zeros((2, side, side), dtype=torch.float32),)
    graph = _onnx_bytes(chain, example, ["images"], {"images": {0: "batch"}})
    metadata = {"classes": json.dumps(classes_of(model)), "image_size": json.dumps([side, side])}
    return _with_metadata(graph, metadata)


def export_simclr_torchscript(featurizer: Any) -> bytes:
    """The learned image encoder as TorchScript (traced): images float32 ``(n, side, side)``
    in 0..1 -> the project's feature rows ``(n, d)``."""
    torch = _torch()
    side = int(featurizer.side_)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        example = torch.zeros((2, side, side), dtype=torch.float32)
        traced = torch.jit.trace(_simclr_encoder_module(featurizer), (example,))
        torch.jit.save(traced, buffer)
    return buffer.getvalue()


def export_pixels_pipeline(model: Any, image_size: tuple[int, int]) -> bytes:
    """The pixels pipeline: ``images`` float32 ``(n, h, w)`` grayscale in 0..1 (already
    resized to ``image_size``) -> flatten -> ``probabilities``."""
    torch = _torch()
    from torch import nn

    height, width = image_size
    chain = _Chain.build(nn.Flatten(1), probability_module(model))
    example = (torch.zeros((2, height, width), dtype=torch.float32),)
    graph = _onnx_bytes(chain, example, ["images"], {"images": {0: "batch"}})
    metadata = {"classes": json.dumps(classes_of(model)), "image_size": json.dumps(image_size)}
    return _with_metadata(graph, metadata)
