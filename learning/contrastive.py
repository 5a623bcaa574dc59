"""A small image encoder learned self-supervised on the unlabeled pool (SimCLR).

:class:`ContrastiveImageEncoder` trains a four-block CNN with the NT-Xent loss of SimCLR
(Chen et al. 2020): two random augmentations of each image (a random affine crop — scale,
rotation, shift —, brightness and contrast jitter, Gaussian noise) must be each other's
nearest neighbours among the batch. No labels. The augmentations run on whole batches as
tensors (``affine_grid``/``grid_sample``), so the same code is fast on a GPU, which is used
when torch sees one. The network is fully convolutional with global pooling, so it takes any
input size: :func:`encoder_input_size` picks one that suits the pool's images.

:class:`StackedFeaturizer` joins representations side by side (each block standardised and
scaled by ``1/sqrt(width)`` so no block dominates by its width); stacking a compact learned
or spectral representation with the raw pixels lets a model use the raw features once there
are labels enough, so the compact representation does not cap the final accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from learning.pool import iter_chunks, pool_length, take_rows


def encoder_input_size(sides: Sequence[int], *, smallest: int = 8, largest: int = 96) -> int:
    """A square input side for the encoder from the pool's image sides (heights and widths):
    the median side, clipped to ``[smallest, largest]`` and rounded down to a multiple of 8
    (sides below 16 are kept as they are). Small images are not blown up; large ones are
    reduced only as far as CPU training needs."""
    if len(sides) == 0:
        raise ValueError("no image sizes given")
    side = int(np.clip(np.median(np.asarray(sides)), smallest, largest))
    return side if side < 16 else side - side % 8


def _network(channels: int, width: int, dimension: int) -> Any:
    from torch import nn

    def block(inputs: int, outputs: int, stride: int) -> list[Any]:
        return [
            nn.Conv2d(inputs, outputs, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(outputs),
            nn.ReLU(inplace=True),
        ]

    return nn.Sequential(
        *block(channels, width, 1),
        *block(width, width * 2, 2),
        *block(width * 2, width * 4, 2),
        *block(width * 4, dimension, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


def _augment(images: Any, generator: Any, strength: float) -> Any:
    """A random view of each image of ``images`` ``(b, c, h, w)`` in 0..1, same shape."""
    import math

    import torch
    import torch.nn.functional as F

    b = images.shape[0]

    def uniform(low: float, high: float) -> Any:
        return (
            torch.rand(b, generator=generator, device="cpu").to(images.device) * (high - low) + low
        )

    scale = uniform(1.0 - 0.25 * strength, 1.0 + 0.1 * strength)
    angle = uniform(-math.pi / 12 * strength, math.pi / 12 * strength)
    shift_x, shift_y = (
        uniform(-0.15 * strength, 0.15 * strength),
        uniform(-0.15 * strength, 0.15 * strength),
    )
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    views = F.grid_sample(images, grid, padding_mode="zeros", align_corners=False)
    contrast = uniform(1.0 - 0.4 * strength, 1.0 + 0.4 * strength)[:, None, None, None]
    brightness = uniform(-0.2 * strength, 0.2 * strength)[:, None, None, None]
    mean = views.mean(dim=(1, 2, 3), keepdim=True)
    views = (views - mean) * contrast + mean + brightness
    noise = torch.randn(views.shape, generator=generator, device="cpu").to(images.device)
    return views + 0.05 * strength * noise


def nt_xent_loss(first: Any, second: Any, temperature: float) -> Any:
    """SimCLR's normalised-temperature cross entropy for two ``(b, d)`` batches of views."""
    import torch
    import torch.nn.functional as F

    z = F.normalize(torch.cat([first, second]), dim=1)
    similarity = z @ z.T / temperature
    n = first.shape[0]
    similarity.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(similarity, targets)


class ContrastiveImageEncoder:
    """A CNN trained by SimCLR on the pool's images; ``transform`` gives its features.

    ``X``: ``(n, channels * h * w)`` float rows in 0..1 (the pixel rows of
    :func:`learning.features.image_pixels`, row-major per channel), reshaped to
    ``image_shape`` = (h, w); it may be an array, memmap or sharded pool view. ``fit(X)``
    trains for ``steps`` batches of ``batch_size`` images drawn from the pool (bounded work
    whatever the pool size; refit when the pool has grown). ``transform(X) ->
    float32 (n, dimension)``, standardised on the fitted pool. CUDA when torch sees one.
    Deterministic for a ``random_state`` on CPU. Fitted attributes: ``network_``,
    ``losses_`` (per-step training loss), ``mean_``, ``scale_``.
    """

    def __init__(
        self,
        image_shape: tuple[int, int],
        *,
        channels: int = 1,
        width: int = 32,
        dimension: int = 128,
        steps: int = 600,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        temperature: float = 0.2,
        augment_strength: float = 1.0,
        chunk_size: int = 4096,
        device: str | None = None,
        random_state: int = 0,
    ) -> None:
        self.image_shape = image_shape
        self.channels = channels
        self.width = width
        self.dimension = dimension
        self.steps = steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.temperature = temperature
        self.augment_strength = augment_strength
        self.chunk_size = chunk_size
        self.device = device
        self.random_state = random_state

    def _device(self) -> str:
        import torch

        return self.device or ("cuda" if torch.cuda.is_available() else "cpu")

    def _images(self, rows: NDArray[Any]) -> Any:
        import torch

        height, width = self.image_shape
        expected = self.channels * height * width
        if rows.shape[1] != expected:
            raise ValueError(
                f"rows have {rows.shape[1]} values, image_shape {self.image_shape} with "
                f"{self.channels} channel(s) needs {expected}"
            )
        batch = np.asarray(rows, dtype=np.float32).reshape(-1, self.channels, height, width)
        return torch.from_numpy(np.ascontiguousarray(batch)).to(self._device())

    def fit(self, X: Any) -> ContrastiveImageEncoder:
        import torch
        from torch import nn

        n_rows = pool_length(X)
        if n_rows < 2:
            raise ValueError(f"contrastive training needs at least 2 images, got {n_rows}")
        device = self._device()
        torch.manual_seed(self.random_state)
        generator = torch.Generator().manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        network = _network(self.channels, self.width, self.dimension).to(device)
        head = nn.Sequential(
            nn.Linear(self.dimension, self.dimension),
            nn.ReLU(inplace=True),
            nn.Linear(self.dimension, 64),
        ).to(device)
        parameters = list(network.parameters()) + list(head.parameters())
        optimiser = torch.optim.AdamW(parameters, lr=self.learning_rate, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=self.steps)
        batch_size = min(self.batch_size, n_rows)
        losses = []
        network.train()
        head.train()
        for _ in range(self.steps):
            positions = np.sort(rng.choice(n_rows, size=batch_size, replace=False))
            images = self._images(take_rows(X, positions.astype(np.int64)))
            first = head(network(_augment(images, generator, self.augment_strength)))
            second = head(network(_augment(images, generator, self.augment_strength)))
            loss = nt_xent_loss(first, second, self.temperature)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(float(loss.detach()))
        network.eval()
        self.network_ = network.cpu() if device == "cpu" else network
        self.losses_ = np.asarray(losses)
        raw = self._encode(X)
        self.mean_ = raw.mean(axis=0)
        scale = raw.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0).astype(np.float32)
        return self

    def _encode(self, X: Any) -> NDArray[np.float32]:
        import torch

        out = np.empty((pool_length(X), self.dimension), dtype=np.float32)
        with torch.inference_mode():
            for start, rows in iter_chunks(X, self.chunk_size):
                features = self.network_(self._images(rows))
                out[start : start + len(rows)] = features.float().cpu().numpy()
        return out

    def transform(self, X: Any) -> NDArray[np.float32]:
        """Encoder features of ``X`` ``(m, channels*h*w)``: float32 ``(m, dimension)``."""
        if not hasattr(self, "network_"):
            raise RuntimeError("ContrastiveImageEncoder: call fit(X) before transform")
        return ((self._encode(X) - self.mean_) / self.scale_).astype(np.float32)

    def fit_transform(self, X: Any) -> NDArray[np.float32]:
        return self.fit(X).transform(X)


class StackedFeaturizer:
    """Several representations of the same rows side by side.

    ``featurizers``: objects with ``fit``/``transform`` (``None`` stands for the input rows
    themselves). ``fit(X)`` fits each on ``X``; ``transform(X) -> float32 (n, sum d_i)``,
    each block standardised on the fitted rows and divided by ``sqrt(d_i)`` so every block
    has the same total variance, whatever its width.
    """

    def __init__(self, featurizers: Sequence[Any | None]) -> None:
        self.featurizers = featurizers

    def _block(self, featurizer: Any | None, X: Any) -> NDArray[np.float32]:
        if featurizer is None:
            return np.asarray(X[:], dtype=np.float32)
        return np.asarray(featurizer.transform(X), dtype=np.float32)

    def fit(self, X: Any) -> StackedFeaturizer:
        if not self.featurizers:
            raise ValueError("StackedFeaturizer needs at least one featurizer")
        self.scalers_ = []
        for featurizer in self.featurizers:
            if featurizer is not None:
                featurizer.fit(X)
            block = self._block(featurizer, X)
            scale = block.std(axis=0)
            scale = np.where(scale > 0, scale, 1.0) * np.sqrt(block.shape[1])
            self.scalers_.append((block.mean(axis=0), scale.astype(np.float32)))
        return self

    def transform(self, X: Any) -> NDArray[np.float32]:
        """Float32 ``(n, sum of block widths)``."""
        if not hasattr(self, "scalers_"):
            raise RuntimeError("StackedFeaturizer: call fit(X) before transform")
        blocks = [
            (self._block(f, X) - mean) / scale
            for f, (mean, scale) in zip(self.featurizers, self.scalers_, strict=True)
        ]
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def fit_transform(self, X: Any) -> NDArray[np.float32]:
        return self.fit(X).transform(X)


def _image_sides(raw: Sequence[Any], limit: int = 200) -> list[int]:
    """Heights and widths of up to ``limit`` images, read from their headers."""
    from PIL import Image

    sides: list[int] = []
    for source in list(raw)[:limit]:
        if isinstance(source, Image.Image):
            sides += list(source.size)
            continue
        with Image.open(source) as image:
            sides += list(image.size)
    return sides


class ContrastivePoolFeaturizer:
    """Registry adapter: images (file paths) → a SimCLR encoder trained on the pool, its
    features stacked with the raw pixels at the same size (``with_pixels``, so the compact
    features never cap what labels can buy).

    ``options`` is a :class:`learning.representations.FeaturizerOptions` (``random_state``,
    ``device``). The input size is the encoder's own (:func:`encoder_input_size` of the pool's
    images, at most ``largest`` px), not the 32-px pixel size. Training steps grow with the
    pool (``n // 8``, between 40 and ``max_steps``), so a tiny pool trains in seconds.
    ``transform`` takes any image (the encoder is per item once trained).
    """

    def __init__(
        self,
        options: Any,
        *,
        with_pixels: bool = True,
        largest: int = 64,
        max_steps: int = 600,
    ) -> None:
        self.random_state = options.random_state
        self.device = options.device
        self.with_pixels = with_pixels
        self.largest = largest
        self.max_steps = max_steps

    def _pixels(self, raw: Sequence[Any]) -> NDArray[np.float32]:
        from learning.features import image_pixels

        side = self.side_
        if len(raw) == 0:
            return np.empty((0, side * side), dtype=np.float32)
        return np.stack([image_pixels(path, size=(side, side)) for path in raw])

    def fit(self, raw: Sequence[Any]) -> ContrastivePoolFeaturizer:
        self.side_ = encoder_input_size(_image_sides(raw), largest=self.largest)
        steps = int(np.clip(len(raw) // 8, 40, self.max_steps))
        encoder = ContrastiveImageEncoder(
            (self.side_, self.side_),
            steps=steps,
            device=self.device,
            random_state=self.random_state,
        )
        self.featurizer_ = StackedFeaturizer([encoder, None]) if self.with_pixels else encoder
        self.featurizer_.fit(self._pixels(raw))
        return self

    def transform(self, raw: Sequence[Any]) -> NDArray[np.float32]:
        """Float32 ``(len(raw), 128 [+ side²])``."""
        return self.featurizer_.transform(self._pixels(raw))
