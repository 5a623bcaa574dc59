"""Gated attention over a scan's slices (Ilse, Tomczak & Welling 2018, "Attention-based deep
multiple instance learning"), as a small torch module trained on labeled scans.

Each slice row ``x_k`` (standardised) gets a weight
``a_k = softmax_k(w · (tanh(V x_k) ⊙ sigmoid(U x_k)))``; the scan is ``z = Σ a_k x_k`` and a
linear layer classifies ``z``. The pooled ``z`` stays in the slice features' own space, so the
app's usual classifier (and every query strategy) runs on it; the classifier here only trains
the weights. Full-batch Adam on padded bags: a few hundred labeled scans of up to a few hundred
slices train in well under a second on a CPU; CUDA is used when torch sees one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from learning.scans import ScanBags

# Scans pooled per forward pass when transforming: bounds the padded tensor's memory.
TRANSFORM_CHUNK = 256
# Wider slice rows (pixels: up to 1,024) are projected to this many principal components for
# the attention only; the pooled row is still a weighted mean of the full rows. Keeps a
# retrain's attention on hundreds of 200-slice scans to seconds on a CPU.
ATTENTION_DIMENSIONS = 64
PROJECTION_SAMPLE = 20_000


def _device(name: str | None) -> Any:
    import torch

    return torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))


def _network(n_features: int, hidden: int, n_classes: int) -> Any:
    import torch
    from torch import nn

    class GatedAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tanh_branch = nn.Linear(n_features, hidden)
            self.gate_branch = nn.Linear(n_features, hidden)
            self.score = nn.Linear(hidden, 1)
            self.classify = nn.Linear(n_features, n_classes)
            # Uniform attention at the start: training begins from mean pooling (already a
            # fair model) instead of a random focus it may never leave.
            nn.init.zeros_(self.score.weight)
            nn.init.zeros_(self.score.bias)

        def weights(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            """``x`` (scans, slices, d), ``mask`` (scans, slices) True on real slices."""
            gated = torch.tanh(self.tanh_branch(x)) * torch.sigmoid(self.gate_branch(x))
            logits = self.score(gated).squeeze(-1).masked_fill(~mask, float("-inf"))
            return torch.softmax(logits, dim=1)

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            pooled = torch.einsum("bk,bkd->bd", self.weights(x, mask), x)
            return self.classify(pooled)

    return GatedAttention()


class GatedAttentionMIL:
    """Learned attention pooling of slice rows; scikit-learn style parameters.

    Fitted attributes: ``classes_``, ``mean_`` / ``scale_`` (slice standardisation, ``(d,)``),
    ``projection_`` (``(d, 64)`` principal axes the attention reads wide rows through, or
    None), ``network_`` (the torch module, on CPU), ``n_features_in_``.
    """

    def __init__(
        self,
        hidden: int = 16,
        epochs: int = 150,
        learning_rate: float = 0.01,
        weight_decay: float = 1e-2,
        random_state: int = 0,
        device: str | None = None,
    ) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.device = device

    def _padded(self, bags: ScanBags, device: Any) -> tuple[Any, Any]:
        import torch

        longest = int(bags.sizes.max())
        width = bags.rows.shape[1] if self.projection_ is None else self.projection_.shape[1]
        x = np.zeros((len(bags), longest, width), dtype=np.float32)
        mask = np.zeros((len(bags), longest), dtype=bool)
        standard = (bags.rows - self.mean_) / self.scale_
        if self.projection_ is not None:
            standard = standard @ self.projection_
        for index, (start, end) in enumerate(zip(bags.offsets[:-1], bags.offsets[1:], strict=True)):
            x[index, : end - start] = standard[start:end]
            mask[index, : end - start] = True
        return torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device)

    def fit(self, bags: ScanBags, y: ArrayLike) -> GatedAttentionMIL:
        """Train on labeled scans ``bags`` and their labels ``y`` ``(n_scans,)``."""
        import torch

        labels = np.asarray(y)
        self.classes_, targets = np.unique(labels, return_inverse=True)
        self.n_features_in_ = int(bags.rows.shape[1])
        self.mean_ = bags.rows.mean(axis=0)
        self.scale_ = np.where(bags.rows.std(axis=0) > 1e-6, bags.rows.std(axis=0), 1.0)
        self.projection_ = self._projection(bags)
        width = self.n_features_in_ if self.projection_ is None else self.projection_.shape[1]
        device = _device(self.device)
        torch.manual_seed(self.random_state)
        network = _network(width, self.hidden, len(self.classes_)).to(device)
        x, mask = self._padded(bags, device)
        target = torch.from_numpy(targets.astype(np.int64)).to(device)
        # Balanced loss: a rare positive class must still move the attention.
        counts = np.bincount(targets, minlength=len(self.classes_)).astype(np.float32)
        balance = torch.from_numpy(len(targets) / (len(counts) * np.maximum(counts, 1))).to(device)
        optimizer = torch.optim.Adam(
            network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        loss_of = torch.nn.CrossEntropyLoss(weight=balance)
        network.train()
        for _ in range(self.epochs):
            optimizer.zero_grad()
            loss = loss_of(network(x, mask), target)
            loss.backward()
            optimizer.step()
        self.network_ = network.to("cpu").eval()
        return self

    def _projection(self, bags: ScanBags) -> NDArray[np.float32] | None:
        """``(d, ATTENTION_DIMENSIONS)`` principal axes of the standardised slice rows, or None
        when the rows are narrow enough already."""
        if bags.rows.shape[1] <= ATTENTION_DIMENSIONS:
            return None
        rng = np.random.default_rng(self.random_state)
        take = min(len(bags.rows), PROJECTION_SAMPLE)
        sample = bags.rows[np.sort(rng.choice(len(bags.rows), size=take, replace=False))]
        standard = (sample - self.mean_) / self.scale_
        _, _, axes = np.linalg.svd(standard - standard.mean(axis=0), full_matrices=False)
        return axes[: min(ATTENTION_DIMENSIONS, len(axes))].T.astype(np.float32)

    def _chunks(self, bags: ScanBags):
        for start in range(0, len(bags), TRANSFORM_CHUNK):
            yield bags.subset(np.arange(start, min(start + TRANSFORM_CHUNK, len(bags))))

    def slice_weights(self, bags: ScanBags) -> NDArray[np.float64]:
        """The attention weight of every slice row, ``(n_slices,)``; each scan's sum to 1."""
        import torch

        parts = []
        with torch.no_grad():
            for chunk in self._chunks(bags):
                x, mask = self._padded(chunk, "cpu")
                weights = self.network_.weights(x, mask).numpy()
                parts.append(weights[mask.numpy()])
        return np.concatenate(parts).astype(np.float64) if parts else np.empty(0)

    def pool(self, bags: ScanBags) -> NDArray[np.float32]:
        """The attention-weighted mean of each scan's (raw, unstandardised) slice rows,
        ``(n_scans, d)``."""
        from learning.scans import weighted_pool

        return weighted_pool(bags, self.slice_weights(bags))

    def predict_proba(self, bags: ScanBags) -> NDArray[np.float64]:
        """The network's own class probabilities per scan, ``(n_scans, n_classes)``."""
        import torch

        parts = []
        with torch.no_grad():
            for chunk in self._chunks(bags):
                x, mask = self._padded(chunk, "cpu")
                parts.append(torch.softmax(self.network_(x, mask), dim=1).numpy())
        return np.concatenate(parts).astype(np.float64)
