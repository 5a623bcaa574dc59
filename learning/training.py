"""One training step of a round, the way the retrain task and the simulator run it."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from learning.models import make_model


def train_model(
    name: str,
    X: ArrayLike,
    y: ArrayLike,
    *,
    random_state: int,
    previous: Any = None,
    scaler: Any = None,
    **params: Any,
) -> Any:
    """A new model ``name`` fitted on ``X`` ``(n_labeled, d)`` and ``y`` ``(n_labeled,)``.

    With ``previous`` (last round's fitted model, e.g. from :func:`learning.models.load_model`)
    of the same kind on the same features: with ``warm_start=True``, a copy of it continues
    training from its weights — torch models then need fewer epochs each round; a model with
    ``next_round()`` (the logistic regressions) starts from the unfitted copy it offers, which
    carries its searched ``C`` until the labels have grown enough to search again. Anything
    else is trained from scratch on a new estimator. The caller's ``previous`` is never
    modified: a loop may keep it, compare with it or train from it again. Validation split,
    early stopping and the cross-validated choice of ``C`` happen inside the models.

    ``scaler``: a fitted, frozen scaler of the pool (:func:`learning.preprocessing.pool_scaler`)
    for the models that standardise their input; ignored by the others.
    """
    from learning.preprocessing import accepts_scaler

    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    model = make_model(name, random_state=random_state, **params)
    if scaler is not None and accepts_scaler(model):
        params = {**params, "scaler": scaler}
        model.set_params(scaler=scaler)
    same_kind = (
        previous is not None
        and type(previous) is type(model)
        and getattr(previous, "n_features_in_", None) == X.shape[1]
    )
    with warnings.catch_warnings():
        # Tiny labeled sets make scikit-learn warn about folds and convergence every round.
        warnings.simplefilter("ignore", category=UserWarning)
        if same_kind and previous.get_params().get("warm_start"):
            # sklearn.base.clone would drop the fitted weights warm starting continues from.
            return copy.deepcopy(previous).fit(X, y)
        if same_kind and hasattr(previous, "next_round"):
            model = previous.next_round().set_params(random_state=random_state, **params)
        return model.fit(X, y)
