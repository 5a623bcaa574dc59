"""A team's own image encoder as an ONNX file (the ``onnx_encoder`` representation): its rows
are what the network computes on the documented preprocessing, on the providers ONNX Runtime
has; a graph that does not take images is refused with a reason."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
from PIL import Image

from learning.onnx_encoder import IMAGENET_MEAN, IMAGENET_STD, OnnxImageEncoder, onnx_providers
from learning.representations import FeaturizerOptions, get_representation, resolve_representation
from tests.onnx_models import ENCODER_DIM, encode_with_torch, tiny_encoder_onnx


def _images(folder, n: int = 5, size=(20, 12)) -> list[str]:
    rng = np.random.default_rng(1)
    paths = []
    for index in range(n):
        path = folder / f"{index}.png"
        Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths


def _preprocessed(paths, size, mean, std, mode="RGB") -> np.ndarray:
    rows = []
    for path in paths:
        image = Image.open(path).convert(mode).resize(size[::-1], Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.float32).reshape(size[0], size[1], -1) / 255.0
        rows.append(((array - np.float32(mean)) / np.float32(std)).transpose(2, 0, 1))
    return np.stack(rows)


def test_rows_are_the_networks_features_of_the_resized_standardised_images(tmp_path):
    path = tmp_path / "encoder.onnx"
    module = tiny_encoder_onnx(path, size=(16, 16))
    images = _images(tmp_path)

    representation = get_representation("onnx_encoder")
    options = FeaturizerOptions(resources={"image_encoder_onnx": str(path)})
    featurizer = representation.featurizer(options)
    rows = featurizer.fit(images).transform(images)

    expected = encode_with_torch(
        module, _preprocessed(images, (16, 16), IMAGENET_MEAN, IMAGENET_STD)
    )
    assert rows.dtype == np.float32 and rows.shape == (5, ENCODER_DIM)
    difference = float(np.abs(rows - expected).max())
    print(f"max difference ONNX Runtime vs torch: {difference:.2e}")
    assert difference < 1e-5


def test_grayscale_dynamic_size_and_the_graphs_own_mean_and_std(tmp_path):
    path = tmp_path / "gray.onnx"
    module = tiny_encoder_onnx(path, channels=1, size=None, metadata={"mean": [0.5], "std": [0.25]})
    images = _images(tmp_path, n=3)
    encoder = OnnxImageEncoder(path, batch_size=2)

    rows = encoder.transform(images)

    expected = encode_with_torch(module, _preprocessed(images, (224, 224), 0.5, 0.25, "L"))
    np.testing.assert_allclose(rows, expected, atol=1e-5)


def test_cuda_is_asked_for_only_where_onnx_runtime_has_it():
    providers = onnx_providers()
    assert providers[-1] == "CPUExecutionProvider"
    has_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    assert ("CUDAExecutionProvider" in providers) == has_cuda
    assert onnx_providers("cpu") == ["CPUExecutionProvider"]


def test_a_graph_that_does_not_take_images_is_refused_naming_its_input(tmp_path):
    import torch

    path = tmp_path / "flat.onnx"
    torch.onnx.export(
        torch.nn.Linear(4, 2), (torch.zeros(1, 4),), str(path), input_names=["x"], dynamo=False
    )
    with pytest.raises(ValueError, match="must be \\(batch, 1 or 3 channels"):
        OnnxImageEncoder(path).transform(_images(tmp_path, n=1))


def test_without_the_file_configured_the_representation_says_what_it_needs():
    with pytest.raises(ValueError, match="needs image_encoder_onnx"):
        resolve_representation("onnx_encoder", "image", 10)
