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
    unlabeled: ArrayLike | None = None,
    semi_supervised: str = "off",
    evaluation: tuple[ArrayLike, ArrayLike] | None = None,
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

    ``semi_supervised`` ("off", "on" or "auto") with ``unlabeled`` (a capped sample of the
    unlabeled pool rows, :func:`learning.semi_supervised.unlabeled_sample`): the model is
    refitted on the labels plus the pseudo-labels label spreading gives those rows — always
    ("on") or where :func:`learning.semi_supervised.decide` finds it more accurate than the
    supervised model ("auto"), on ``evaluation`` ``(X_eval, y_eval)`` when it has enough
    answers, else by cross-validation on the labels; the decision stands until the labels
    grow by a quarter. The returned model then carries ``semi_supervised_`` (the decision and
    its evidence) and, when the pool was used, ``supervised_`` (the model on the labels only,
    which the next round continues from).
    """
    prior = getattr(previous, "semi_supervised_", None)
    previous = getattr(previous, "supervised_", previous)
    supervised = _train_supervised(name, X, y, random_state, previous, scaler, params)
    if semi_supervised == "off" or unlabeled is None or not hasattr(supervised, "classes_"):
        return supervised
    if semi_supervised not in ("on", "auto"):
        raise ValueError(f"semi_supervised must be off, on or auto, not {semi_supervised!r}")
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    unlabeled = np.asarray(unlabeled, dtype=np.float32)
    if len(supervised.classes_) < 2 or len(unlabeled) == 0:
        return supervised
    return _with_pool(supervised, X, y, unlabeled, semi_supervised, prior, evaluation, scaler,
                      random_state)  # fmt: skip


def _fixed_copy(model: Any) -> Any:
    """Unfitted copies of ``model`` that keep its searched settings (no search per fit)."""
    from sklearn.base import clone

    if hasattr(model, "committee_member"):
        return model.committee_member
    return lambda: clone(model)


def _with_pool(supervised, X, y, unlabeled, mode, prior, evaluation, scaler, random_state):
    from learning.semi_supervised import REDECIDE_GROWTH, decide, fit_with_pool

    make = _fixed_copy(supervised)
    semi = None
    decided_on = int((prior or {}).get("decided_on", 0))
    if mode == "on":
        evidence: dict[str, Any] = {"on": True, "by": "setting", "n_labels": int(len(y))}
    elif decided_on and len(y) < REDECIDE_GROWTH * decided_on:
        evidence = {**prior, "reused_from_labels": decided_on}
    else:
        X_eval, y_eval = evaluation if evaluation is not None else (None, None)
        evidence, semi = decide(
            make, X, y, unlabeled, supervised=supervised, scaler=scaler,
            X_eval=None if X_eval is None else np.asarray(X_eval, dtype=np.float32),
            y_eval=None if y_eval is None else np.asarray(y_eval), random_state=random_state,
        )  # fmt: skip
        evidence["decided_on"] = int(len(y)) if evidence["by"] != "too few labels" else 0
    if not evidence["on"]:
        supervised.semi_supervised_ = evidence
        return supervised
    if semi is None:
        semi, n_pseudo = fit_with_pool(make, X, y, unlabeled, scaler=scaler)
        evidence["n_pseudo"] = n_pseudo
    semi.supervised_ = supervised
    semi.semi_supervised_ = evidence
    return semi


def _train_supervised(name, X, y, random_state, previous, scaler, params) -> Any:
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
