"""A tiny image encoder exported to ONNX, standing in for a team's own (torch is a test
dependency already; nothing is downloaded)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

ENCODER_DIM = 6


def tiny_encoder_module(channels: int = 3, seed: int = 0):
    """Convolution, ReLU, global average pooling, linear: ``(n, channels, h, w) -> (n, 6)``."""
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(channels, 4, kernel_size=3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, ENCODER_DIM),
    ).eval()


def tiny_encoder_onnx(
    path: Path,
    *,
    channels: int = 3,
    size: tuple[int, int] | None = (16, 16),
    metadata: dict | None = None,
):
    """Export :func:`tiny_encoder_module` to ``path``; ``size`` None leaves height and width
    dynamic. Returns the torch module, to compare against."""
    import onnx
    import torch

    module = tiny_encoder_module(channels)
    height, width = size or (16, 16)
    example = torch.zeros(2, channels, height, width)
    dynamic = {0: "batch"} if size else {0: "batch", 2: "height", 3: "width"}
    buffer = io.BytesIO()
    torch.onnx.export(
        module,
        (example,),
        buffer,
        input_names=["images"],
        output_names=["features"],
        dynamic_axes={"images": dynamic, "features": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    model = onnx.load_from_string(buffer.getvalue())
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save(model, str(path))
    return module


def encode_with_torch(module, pixels: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return module(torch.from_numpy(pixels.astype(np.float32))).numpy()
