"""Torch classifiers behind the scikit-learn contract: an MLP head (embeddings) and a small CNN
(images given as flattened pixel rows of a known ``image_shape``).

Training keeps a stratified validation split, stops early on validation loss and restores the
best weights; ``warm_start=True`` continues from the previous fit's weights (across active
learning rounds) when the classes are unchanged. ``committee_proba`` runs MC-dropout passes
for query-by-committee. This module imports torch at import time: import it lazily.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

_PREDICT_BATCH = 4096


def _build_module(
    architecture: str,
    n_features: int,
    n_classes: int,
    hidden_units: int,
    dropout: float,
    image_shape: tuple[int, int] | None,
) -> nn.Module:
    if architecture == "mlp":
        return nn.Sequential(
            nn.Dropout(dropout / 2),
            nn.Linear(n_features, hidden_units),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_units, n_classes),
        )
    if architecture == "cnn":
        if image_shape is None:
            raise ValueError("the cnn needs image_shape=(height, width)")
        height, width = image_shape
        if height * width != n_features:
            raise ValueError(
                f"image_shape {image_shape} has {height * width} pixels, X has {n_features}"
            )
        return nn.Sequential(
            nn.Unflatten(1, (1, height, width)),
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2) if min(height, width) >= 8 else nn.Identity(),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d((4, 4)),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(64 * 16, hidden_units),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_units, n_classes),
        )
    raise ValueError(f"unknown architecture {architecture!r}; expected 'mlp' or 'cnn'")


def _shift_images(
    batch: torch.Tensor, image_shape: tuple[int, int], generator: torch.Generator
) -> torch.Tensor:
    """Augmentation: shift each image by up to one pixel (zero padded)."""
    height, width = image_shape
    images = batch.view(-1, 1, height, width)
    padded = nn.functional.pad(images, (1, 1, 1, 1))
    offsets = torch.randint(0, 3, (2,), generator=generator)
    dy, dx = int(offsets[0]), int(offsets[1])
    return padded[:, :, dy : dy + height, dx : dx + width].reshape(batch.shape)


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """A small torch network with the scikit-learn classifier contract.

    Parameters: ``architecture`` "mlp" (inputs standardised) or "cnn" (``image_shape`` =
    (height, width), pixels in 0..1); ``validation_fraction`` of the labels (stratified, only
    when every class has two or more labels) drives early stopping with ``patience`` epochs.

    Fitted attributes: ``classes_``, ``module_``, ``mean_``/``scale_`` (input scaling, (d,)),
    ``n_epochs_``, ``best_validation_loss_`` (None without a validation split),
    ``n_features_in_``.
    """

    def __init__(
        self,
        architecture: str = "mlp",
        image_shape: tuple[int, int] | None = None,
        hidden_units: int = 256,
        dropout: float = 0.3,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 64,
        max_epochs: int = 200,
        patience: int = 15,
        validation_fraction: float = 0.2,
        augment: bool = False,
        warm_start: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.architecture = architecture
        self.image_shape = image_shape
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.augment = augment
        self.warm_start = warm_start
        self.random_state = random_state

    def _scaled(self, X: NDArray) -> torch.Tensor:
        return torch.from_numpy(((X - self.mean_) / self.scale_).astype(np.float32))

    def _split(
        self, y_index: NDArray[np.int64], rng: np.random.Generator
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        everything = np.arange(len(y_index))
        counts = np.bincount(y_index, minlength=len(self.classes_))
        n_validation = int(round(self.validation_fraction * len(y_index)))
        if counts.min() < 2 or n_validation < len(self.classes_):
            return everything, everything[:0]
        from sklearn.model_selection import train_test_split

        train, validation = train_test_split(
            everything,
            test_size=n_validation,
            stratify=y_index,
            random_state=int(rng.integers(0, 2**31 - 1)),
        )
        return np.sort(train), np.sort(validation)

    def fit(self, X: ArrayLike, y: ArrayLike) -> TorchClassifier:
        """Train on ``X`` ``(n_samples, n_features)`` and ``y`` ``(n_samples,)``."""
        X, y = validate_data(self, X, y, dtype=np.float32, reset=True)
        check_classification_targets(y)
        classes = np.unique(y)
        rng = np.random.default_rng(self.random_state)
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
        reuse = (
            self.warm_start
            and hasattr(self, "module_")
            and np.array_equal(getattr(self, "classes_", None), classes)
        )
        self.classes_ = classes
        y_index = np.searchsorted(classes, y).astype(np.int64)
        if not reuse:
            if self.architecture == "cnn":
                self.mean_ = np.zeros(X.shape[1], dtype=np.float32)
                self.scale_ = np.ones(X.shape[1], dtype=np.float32)
            else:
                self.mean_ = X.mean(axis=0)
                self.scale_ = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0).astype(np.float32)
            with torch.random.fork_rng():
                torch.manual_seed(int(rng.integers(0, 2**31 - 1)))
                self.module_ = _build_module(
                    self.architecture,
                    X.shape[1],
                    len(classes),
                    self.hidden_units,
                    self.dropout,
                    self.image_shape,
                )
        train, validation = self._split(y_index, rng)
        inputs, targets = self._scaled(X), torch.from_numpy(y_index)
        optimiser = torch.optim.AdamW(
            self.module_.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        loss_fn = nn.CrossEntropyLoss()
        best_loss, best_state, stale = np.inf, None, 0
        train_tensor = torch.from_numpy(train)
        n_epochs = 0
        with torch.random.fork_rng():
            torch.manual_seed(int(rng.integers(0, 2**31 - 1)))
            for epoch in range(1, self.max_epochs + 1):
                n_epochs = epoch
                self.module_.train()
                order = train_tensor[torch.randperm(len(train), generator=generator)]
                for start in range(0, len(order), self.batch_size):
                    batch = order[start : start + self.batch_size]
                    batch_inputs = inputs[batch]
                    if self.augment and self.image_shape is not None:
                        batch_inputs = _shift_images(batch_inputs, self.image_shape, generator)
                    optimiser.zero_grad()
                    loss_fn(self.module_(batch_inputs), targets[batch]).backward()
                    optimiser.step()
                if len(validation) == 0:
                    continue
                self.module_.eval()
                with torch.no_grad():
                    loss = float(loss_fn(self.module_(inputs[validation]), targets[validation]))
                if loss < best_loss - 1e-4:
                    best_loss, best_state, stale = loss, copy.deepcopy(self.module_.state_dict()), 0
                else:
                    stale += 1
                    if stale >= self.patience:
                        break
        if best_state is not None:
            self.module_.load_state_dict(best_state)
        self.module_.eval()
        self.n_epochs_ = n_epochs
        self.best_validation_loss_ = None if best_state is None else float(best_loss)
        return self

    def _logits(self, X: NDArray, *, dropout: bool) -> torch.Tensor:
        self.module_.train(dropout)
        outputs = []
        with torch.no_grad():
            for start in range(0, len(X), _PREDICT_BATCH):
                outputs.append(self.module_(self._scaled(X[start : start + _PREDICT_BATCH])))
        self.module_.eval()
        return torch.cat(outputs) if outputs else torch.empty((0, len(self.classes_)))

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Class probabilities ``(n_samples, n_classes)`` in ``classes_`` order."""
        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return torch.softmax(self._logits(X, dropout=False), dim=1).double().numpy()

    def predict(self, X: ArrayLike) -> NDArray:
        """Most probable class per row, ``(n_samples,)``."""
        check_is_fitted(self, "module_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def committee_proba(self, X: ArrayLike, n_members: int, *, seed: int) -> NDArray[np.float64]:
        """MC-dropout committee: ``(n_members, n_samples, n_classes)`` from ``n_members``
        stochastic forward passes with dropout on, seeded by ``seed``."""
        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            passes = [
                torch.softmax(self._logits(X, dropout=True), dim=1).double().numpy()
                for _ in range(n_members)
            ]
        return np.stack(passes)

    def save_weights(self, path: str | Path) -> None:
        """Write the fitted weights, input scaling and classes with ``torch.save``."""
        check_is_fitted(self, "module_")
        torch.save(
            {
                "state_dict": self.module_.state_dict(),
                "mean": torch.from_numpy(np.asarray(self.mean_)),
                "scale": torch.from_numpy(np.asarray(self.scale_)),
                "classes": self.classes_.tolist(),
                "n_features_in": int(self.n_features_in_),
            },
            path,
        )

    def load_weights(self, path: str | Path) -> TorchClassifier:
        """Restore what :meth:`save_weights` wrote; returns ``self``, ready to predict."""
        saved: dict[str, Any] = torch.load(path, weights_only=True)
        self.classes_ = np.asarray(saved["classes"])
        self.n_features_in_ = saved["n_features_in"]
        self.mean_ = saved["mean"].numpy()
        self.scale_ = saved["scale"].numpy()
        self.module_ = _build_module(
            self.architecture,
            self.n_features_in_,
            len(self.classes_),
            self.hidden_units,
            self.dropout,
            self.image_shape,
        )
        self.module_.load_state_dict(saved["state_dict"])
        self.module_.eval()
        self.n_epochs_ = 0
        self.best_validation_loss_ = None
        return self
