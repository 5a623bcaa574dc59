"""What a new project chooses for a pool, in one place: the web app and
``python -m learning.simulate`` both call these, so the simulator predicts what the app does.

- :func:`new_project_choices`: representation ("auto" resolved by the registry for the
  modality and pool size), the model trained on it, the pixel size of pixel-based
  representations (from the pool's first image), and the strategy;
- :func:`initial_choice` / :func:`initial_positions`: the items labeled before any model
  exists: the strategy's own choice without a model (TypiClust cold start on the features
  for the model-based strategies, a seeded random draw for ``random``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from learning.representations import image_size_for, resolve_representation

if TYPE_CHECKING:
    from learning.strategies import QueryResult

# learning.strategies' default, named here so importing this module stays light (no
# scikit-learn until a model or a strategy is needed).
DEFAULT_STRATEGY = "default"


@dataclass(frozen=True)
class NewProjectChoices:
    """representation: a registry name; model: a :data:`learning.models.MODELS` name;
    image_size: (h, w) for image pools, None for text."""

    representation: str
    model: str
    strategy: str
    image_size: tuple[int, int] | None


def new_project_choices(
    modality: str,
    n_items: int,
    *,
    features: str = "auto",
    strategy: str = DEFAULT_STRATEGY,
    first_image_size: tuple[int | None, int | None] | None = None,
    resources: Mapping[str, str] | None = None,
) -> NewProjectChoices:
    """The choices of a new ``modality`` project whose pool holds ``n_items`` items.

    ``first_image_size`` is (width, height) of the pool's first image. Raises ValueError
    (with the registry's reason) when ``features`` cannot serve the pool."""
    from learning.models import default_model_name

    representation = resolve_representation(features, modality, n_items, resources=resources)
    image_size = None
    if modality == "image":
        image_size = image_size_for(*(first_image_size or (None, None)))
    return NewProjectChoices(
        representation=representation.name,
        model=default_model_name(modality, representation.name),
        strategy=strategy,
        image_size=image_size,
    )


def initial_choice(
    strategy: str,
    X_pool: Any,
    n: int,
    *,
    rng: np.random.Generator,
    exclude: NDArray[np.int64] | None = None,
) -> QueryResult:
    """The first ``n`` items a project asks for, before any model exists, with their scores."""
    from learning.strategies import get_strategy

    return get_strategy(strategy).query(None, X_pool, n, rng=rng, exclude=exclude)


def initial_positions(
    strategy: str,
    X_pool: Any,
    n: int,
    *,
    rng: np.random.Generator,
    exclude: NDArray[np.int64] | None = None,
) -> NDArray[np.int64]:
    """Positions of :func:`initial_choice`, most informative first."""
    return initial_choice(strategy, X_pool, n, rng=rng, exclude=exclude).positions
