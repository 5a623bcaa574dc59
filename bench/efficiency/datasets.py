"""The benchmark's data sets, their splits and representations, cached on disk so the
library runners (in their own environment) read the same features and splits."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    if name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
    elif name == "breast_cancer":
        X, y = datasets.load_breast_cancer(return_X_y=True)
    elif name == "wine":
        X, y = datasets.load_wine(return_X_y=True)
    elif name == "digits_tripled":
        # Every item three times: top-k uncertainty then asks near-duplicates.
        X, y = datasets.load_digits(return_X_y=True)
        X, y = np.repeat(X, 3, axis=0), np.repeat(y, 3)
    elif name == "digits_noisy":
        # 30% of the labels replaced by random ones: uncertainty chases noise.
        X, y = datasets.load_digits(return_X_y=True)
        rng = np.random.default_rng(0)
        flip = rng.random(len(y)) < 0.3
        y = y.copy()
        y[flip] = rng.integers(0, 10, size=int(flip.sum()))
    elif name == "demo_text_minilm":
        import csv

        with open(ROOT / "demo_data" / "debian_packages.csv", newline="", encoding="utf-8") as f:
            labels = [row["label"] for row in csv.DictReader(f)]
        X = np.load(ROOT / "demo_data" / "debian_packages.minilm.npy").astype(np.float32)
        y = np.unique(labels, return_inverse=True)[1]
    elif name == "fortunes_minilm":
        sys.path.insert(0, str(ROOT / "bench"))
        from fortunes_corpus import fortunes_minilm

        X, y = fortunes_minilm()
    else:
        raise SystemExit(f"unknown dataset {name}")
    return X.astype(np.float32), np.asarray(y)


PRESPLIT = ("digits70k", "digits70k@10k", "shapes_clutter", "digits_clutter")
"""Image sets built with their own pool/test split (no test image has a sibling in the pool)."""


IMAGE_SETS = ("digits", "digits_tripled", "digits_noisy", *PRESPLIT)


FEATURE_CACHE = ROOT / "bench" / "output" / "label_efficiency_features"


def presplit(dataset: str) -> tuple[np.ndarray, ...]:
    """``(X_pool, y_pool, X_test, y_test)`` of the sets built with their own split."""
    sys.path.insert(0, str(ROOT / "bench"))
    if dataset.startswith("digits70k"):
        from image_representations import load_pool

        return load_pool(dataset)
    import hard_images

    return getattr(hard_images, dataset)()


def split_features(dataset: str, features: str) -> tuple[np.ndarray, ...]:
    """``(X_train, X_test, y_train, y_test)`` of ``dataset`` as ``features``, cached on disk
    (the library runners, in their own environment, read the same file: same splits)."""
    path = FEATURE_CACHE / f"{dataset}-{features}.npz"
    if path.exists():
        with np.load(path) as saved:
            return tuple(saved[key] for key in ("X_train", "X_test", "y_train", "y_test"))
    if dataset in PRESPLIT:
        X_pool, y_pool, X_test, y_test = presplit(dataset)
        rows = represent(np.concatenate([X_pool, X_test]), dataset, features)
        parts = (rows[: len(y_pool)], rows[len(y_pool) :], y_pool, y_test)
    else:
        X, y = load_dataset(dataset)
        parts = tuple(_split(represent(X, dataset, features), y, dataset))
    FEATURE_CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, X_train=parts[0], X_test=parts[1], y_train=parts[2], y_test=parts[3])
    partial.rename(path)
    return tuple(np.asarray(p) for p in parts)


@functools.cache
def prepared(dataset: str, features: str) -> tuple[np.ndarray, ...]:
    """``(X_train, X_test, y_train, y_test)``, read once per worker process."""
    return split_features(dataset, features)


def auto_features(dataset: str, n_pool: int) -> str:
    """What a new project's "auto" resolves to for this set: the registry's choice for an
    image pool of ``n_pool`` items; text sets are already sentence embeddings."""
    if dataset not in IMAGE_SETS:
        return "raw"
    from learning.representations import auto_representation

    return auto_representation("image", n_pool).name


def represent(X: np.ndarray, dataset: str, features: str) -> np.ndarray:
    """``raw`` features, or a representation of every item fitted without labels: the exact
    or landmark spectral embedding."""
    if features == "raw":
        return X
    tabular = dataset in {"breast_cancer", "wine"}
    if features == "landmark_spectral":
        from learning.spectral import LandmarkSpectralFeaturizer

        return LandmarkSpectralFeaturizer(random_state=0).fit_transform(X)
    if features != "spectral":
        raise SystemExit(f"unknown features {features}")
    from learning.features import SpectralFeaturizer

    return SpectralFeaturizer(standardize=tabular, random_state=0).fit_transform(X)


def _split(X: np.ndarray, y: np.ndarray, dataset: str) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split

    if dataset == "digits_tripled":
        # Split the distinct items, so no test item has a copy in the pool.
        distinct = np.arange(len(y) // 3)
        train, test = train_test_split(distinct, test_size=0.25, stratify=y[::3], random_state=0)
        train = (train[:, None] * 3 + np.arange(3)).reshape(-1)
        return X[train], X[test * 3], y[train], y[test * 3]
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


DATASET_NOTES = {
    "digits70k": "every digit 52 times under a random affine map plus noise "
    "(`bench/image_representations.py`): 70,044 pool images, 23,400 test images.",
    "digits70k@10k": "a seeded 10,000-image sample of the `digits70k` pool, same test set.",
    "shapes_clutter": "`bench/hard_images.py`: 8,000 28×28 canvases, the class the one "
    "large shape of six (disc, square, triangle, cross, ring, bar pair) at any position, "
    "size and rotation, beside 2-4 small shapes of any kind, on textured patches of "
    "scikit-learn's sample photographs, with noise; 6,000 pool, 2,000 test.",
    "digits_clutter": "`bench/hard_images.py`: the digits enlarged to 24×24, rotated by "
    "up to ±40°, scaled and shifted over textured photograph patches with noise, three "
    "views each, split by the original digit: 4,041 pool, 1,350 test.",
    "digits": "scikit-learn's 8×8 digits, 1,797 images, 10 classes, 64 pixel features.",
    "breast_cancer": "scikit-learn's breast cancer, 569 items, 2 classes, 30 features.",
    "digits_tripled": "digits with every image three times in the pool (test split taken on "
    "the distinct images): a batch of top-k uncertain items is then mostly copies.",
    "digits_noisy": "digits with 30% of the labels (pool and test) replaced by random ones.",
    "demo_text_minilm": "the demo corpus (3,176 Debian package descriptions, 8 sections), "
    "as its shipped all-MiniLM-L6-v2 embeddings (384-d).",
    "fortunes_minilm": "Debian's `fortunes` package (fortune-mod's cookies, 1:1.99.1-7.3): "
    "2,424 cookies from 8 topic files (computers, politics, science, songs-poems, startrek, "
    "law, food, drugs; at most 400 each), as all-MiniLM-L6-v2 embeddings; built by "
    "`bench/fortunes_corpus.py` after `apt-get install fortunes`.",
}
