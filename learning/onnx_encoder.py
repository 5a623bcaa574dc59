"""A team's own image encoder, given as an ONNX file, as a representation (``onnx_encoder``):
run by ONNX Runtime on CUDA where its CUDA provider is installed and a GPU is there, else on
the CPU. Like the ``backbone`` representation (a local TorchScript or ``torch.export`` file),
nothing is downloaded: the administrator names the file (``TWEEZERS_IMAGE_ENCODER_ONNX``).

The graph's first input is images, float32 ``(batch, channels, height, width)`` with 1
(grayscale) or 3 (RGB) channels; its first output is the features, flattened to
``(batch, d)``. Fixed height and width in the graph are the size images are resized to
(bilinear); dynamic ones take 224 x 224.
Pixels are scaled to 0..1 and standardised with the graph's metadata ``mean`` and ``std``
(JSON lists, one value per channel) when it has them, else ImageNet's for RGB and none for
grayscale.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from learning.features import _open_image
from learning.representations import FeaturizerOptions

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_SIZE = (224, 224)
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def onnx_providers(device: str | None = None) -> list[str]:
    """ONNX Runtime's execution providers to try, best first: CUDA where the installed build
    has it (``onnxruntime-gpu``) unless ``device`` is "cpu", then the CPU."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    wanted = [CUDA] if device != "cpu" and CUDA in available else []
    return [*wanted, CPU]


def _fixed(dimension: Any) -> int | None:
    return dimension if isinstance(dimension, int) and dimension > 0 else None


class OnnxImageEncoder:
    """Embeddings from an ONNX image encoder in a local file (see the module's contract)."""

    def __init__(
        self,
        path: str | Path,
        *,
        batch_size: int = 32,
        device: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.batch_size = batch_size
        self.device = device
        self._session: Any = None

    def _load(self) -> Any:
        if self._session is None:
            import onnxruntime

            if not self.path.is_file():
                raise FileNotFoundError(f"ONNX image encoder not found: {self.path}")
            session = onnxruntime.InferenceSession(
                str(self.path), providers=onnx_providers(self.device)
            )
            shape = session.get_inputs()[0].shape
            if len(shape) != 4 or _fixed(shape[1]) not in (1, 3):
                raise ValueError(
                    f"{self.path.name}: the encoder's input must be (batch, 1 or 3 channels, "
                    f"height, width), not {shape}"
                )
            self.channels_ = int(shape[1])
            height, width = _fixed(shape[2]), _fixed(shape[3])
            self.size_ = (height, width) if height and width else DEFAULT_SIZE
            metadata = session.get_modelmeta().custom_metadata_map
            rgb = self.channels_ == 3
            self.mean_ = self._channel_values(metadata, "mean", IMAGENET_MEAN if rgb else (0.0,))
            self.std_ = self._channel_values(metadata, "std", IMAGENET_STD if rgb else (1.0,))
            self._session = session
        return self._session

    def _channel_values(self, metadata: dict, key: str, default: tuple) -> NDArray[np.float32]:
        values = json.loads(metadata[key]) if key in metadata else list(default)
        if len(values) != self.channels_:
            raise ValueError(f"{self.path.name}: metadata {key!r} needs one value per channel")
        return np.asarray(values, dtype=np.float32).reshape(-1, 1, 1)

    @property
    def providers(self) -> list[str]:
        """The providers the session runs on (CUDA first where it is used)."""
        return list(self._load().get_providers())

    def _pixels(self, source: Any) -> NDArray[np.float32]:
        from PIL import Image

        height, width = self.size_
        mode = "RGB" if self.channels_ == 3 else "L"
        image = _open_image(source).convert(mode).resize((width, height), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.float32).reshape(height, width, -1) / 255.0
        return (array.transpose(2, 0, 1) - self.mean_) / self.std_

    def transform(self, images: Sequence[Any]) -> NDArray[np.float32]:
        """Embed image paths or PIL images; returns float32 ``(n, d)``."""
        session = self._load()
        name = session.get_inputs()[0].name
        outputs = []
        for start in range(0, len(images), self.batch_size):
            batch = np.stack([self._pixels(s) for s in images[start : start + self.batch_size]])
            features = session.run(None, {name: batch.astype(np.float32)})[0]
            outputs.append(np.asarray(features, dtype=np.float32).reshape(len(batch), -1))
        if not outputs:
            raise ValueError("no images to embed")
        return np.ascontiguousarray(np.concatenate(outputs), dtype=np.float32)


class OnnxEncoderFeaturizer:
    """The ``onnx_encoder`` representation's featurizer: per item, nothing fitted."""

    def __init__(self, options: FeaturizerOptions) -> None:
        self.encoder = OnnxImageEncoder(
            options.resources["image_encoder_onnx"], device=options.device
        )

    def fit(self, raw: Sequence[Any]) -> OnnxEncoderFeaturizer:
        return self

    def transform(self, raw: Sequence[Any]) -> NDArray[np.float32]:
        return self.encoder.transform(list(raw))
