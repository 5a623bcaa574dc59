"""Harder image sets than the digits, built from offline material only (issue 20).

- ``shapes_clutter``: 28×28 canvases, each with one large shape (the class: disc, square,
  triangle, cross, ring or bar pair) at a random position, size and rotation, two to four
  smaller shapes of any kind beside it, on a textured background (a random patch of
  scikit-learn's bundled sample photographs) with pixel noise.
- ``digits_clutter``: scikit-learn's 8×8 digits enlarged to 24×24, rotated by up to ±40°,
  scaled and shifted, drawn over a textured photograph patch with noise; three views of each
  digit, split by the original so no test image has a sibling in the pool.

Both return ``(X_pool, y_pool, X_test, y_test)``: float32 rows of grey values in 0..1
(row-major images) and int labels; the pool is 75% of the set, seeded.
"""

from __future__ import annotations

import numpy as np

SHAPES = ("disc", "square", "triangle", "cross", "ring", "bars")


def _texture_patches(n: int, side: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, side, side)`` grey patches of the bundled sample photographs, contrast 0.5."""
    from sklearn.datasets import load_sample_images

    photos = [image.mean(axis=2) / 255.0 for image in load_sample_images().images]
    which = rng.integers(0, len(photos), size=n)
    patches = np.empty((n, side, side), dtype=np.float32)
    for index, photo in enumerate(which):
        image = photos[photo]
        stride = int(rng.integers(1, 4))  # zoom: 1-3 photo pixels per canvas pixel
        top = int(rng.integers(0, image.shape[0] - side * stride))
        left = int(rng.integers(0, image.shape[1] - side * stride))
        patch = image[top : top + side * stride : stride, left : left + side * stride : stride]
        patches[index] = 0.5 * (patch - patch.mean()) + 0.3
    return patches


def _shape_mask(kind: str, u: np.ndarray, v: np.ndarray, size: float) -> np.ndarray:
    """Coverage of shape ``kind`` at shape-frame coordinates ``(u, v)`` (pixels)."""
    r = np.hypot(u, v)
    if kind == "disc":
        return r < size
    if kind == "ring":
        return (r < size) & (r > 0.55 * size)
    if kind == "square":
        return np.maximum(np.abs(u), np.abs(v)) < 0.8 * size
    if kind == "triangle":
        return (v > -0.6 * size) & (np.abs(u) * 1.7 < 0.9 * size - v)
    if kind == "cross":
        arm = 0.3 * size
        return ((np.abs(u) < arm) & (np.abs(v) < size)) | ((np.abs(v) < arm) & (np.abs(u) < size))
    if kind == "bars":
        return (np.abs(v) < size) & (np.abs(np.abs(u) - 0.55 * size) < 0.22 * size)
    raise ValueError(kind)


def _draw(canvas: np.ndarray, kind: str, rng: np.random.Generator, size: float, supersample: int):
    side = canvas.shape[0]
    fine = side * supersample
    coords = (np.arange(fine) + 0.5) / supersample
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    margin = min(size, side / 2 - 1)
    cx, cy = rng.uniform(margin, side - margin, size=2)
    angle = rng.uniform(0, 2 * np.pi)
    cos, sin = np.cos(angle), np.sin(angle)
    u = cos * (xx - cx) + sin * (yy - cy)
    v = -sin * (xx - cx) + cos * (yy - cy)
    mask = _shape_mask(kind, u, v, size).astype(np.float32)
    coverage = mask.reshape(side, supersample, side, supersample).mean(axis=(1, 3))
    shade = rng.uniform(0.75, 1.0)
    canvas[:] = canvas * (1 - coverage) + shade * coverage


def shapes_clutter(n: int = 8000, side: int = 28, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    canvases = _texture_patches(n, side, rng)
    labels = rng.integers(0, len(SHAPES), size=n)
    for index in range(n):
        canvas = canvases[index]
        for _ in range(int(rng.integers(2, 5))):
            distractor = SHAPES[int(rng.integers(0, len(SHAPES)))]
            _draw(canvas, distractor, rng, rng.uniform(2.0, 3.5), 2)
        _draw(canvas, SHAPES[labels[index]], rng, rng.uniform(6.0, 9.0), 2)
        canvas += rng.normal(0, 0.06, size=canvas.shape).astype(np.float32)
    X = np.clip(canvases, 0, 1).reshape(n, -1).astype(np.float32)
    pool = rng.permutation(n)
    cut = int(0.75 * n)
    return X[pool[:cut]], labels[pool[:cut]], X[pool[cut:]], labels[pool[cut:]]


def digits_clutter(copies: int = 3, side: int = 24, seed: int = 0) -> tuple[np.ndarray, ...]:
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    digits = torch.from_numpy((X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8))
    big = F.interpolate(digits, size=(side, side), mode="bilinear", align_corners=False)
    views = []
    for _ in range(copies):
        n = len(big)
        angle = (torch.rand(n, generator=generator) - 0.5) * (2 * np.pi * 40 / 180)
        scale = 1.0 + 0.5 * torch.rand(n, generator=generator)  # >1 zooms out: smaller digit
        shift = (torch.rand(n, 2, generator=generator) - 0.5) * 0.6
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        theta = torch.stack(
            [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)],
            1,
        )
        grid = F.affine_grid(theta, [n, 1, side, side], align_corners=False)
        ink = F.grid_sample(big, grid, align_corners=False)[:, 0].numpy()
        background = _texture_patches(n, side, rng)
        image = background * (1 - ink) + ink * rng.uniform(0.8, 1.0, size=(n, 1, 1))
        image += rng.normal(0, 0.05, size=image.shape)
        views.append(np.clip(image, 0, 1).reshape(n, -1).astype(np.float32))
    stacked = np.stack(views, axis=1)  # (n_original, copies, side*side)
    originals = np.arange(len(y))
    train, test = train_test_split(originals, test_size=0.25, stratify=y, random_state=0)
    X_pool = stacked[train].reshape(-1, side * side)
    X_test = stacked[test].reshape(-1, side * side)
    y_pool, y_test = np.repeat(y[train], copies), np.repeat(y[test], copies)
    order = rng.permutation(len(y_pool))
    return X_pool[order], y_pool[order], X_test, y_test
