"""Classifiers that give class probabilities, plus a registry and persistence.

All follow scikit-learn's estimator rules: ``__init__`` stores parameters, ``fit`` returns
``self``, fitted attributes end in ``_``, ``classes_`` matches the columns of
``predict_proba``, randomness only via ``random_state``. Torch is imported only by the torch
model (:mod:`learning.torch_models`), so importing this module stays light.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

DEFAULT_CS: tuple[float, ...] = (0.1, 1.0, 10.0)


class AutoLogisticRegression(ClassifierMixin, BaseEstimator):
    """Standardisation + multinomial logistic regression, ``C`` picked by cross-validation.

    When ``C`` is None and every class has at least ``cv`` labels (and there are at least
    ``min_samples_for_cv`` labels), ``C`` is chosen from ``Cs`` by stratified ``cv``-fold
    log-loss; otherwise ``fallback_C`` is used. A training set with a single class gives a
    constant predictor, so the first rounds of a project never fail.

    ``scaler``: a fitted transformer that is not refitted (e.g. :func:`learning.preprocessing.
    pool_scaler`, standardisation fitted on the whole pool); None standardises on the labels.

    ``previous_search`` is an earlier search's ``(C, n_labels)`` (see :meth:`next_round`):
    its ``C`` is kept while the training set is smaller than ``search_growth`` times the one
    it was searched on. The search is ``len(Cs) * cv`` fits, most of a retrain's cost once
    there are hundreds of labels, and its answer moves slowly with the label count, so an
    active-learning loop searches again only as the labels grow by a quarter.

    Fitted attributes: ``classes_`` ``(n_classes,)``, ``C_`` (the strength used),
    ``C_searched_on_`` (the number of labels ``C_`` was searched on; 0 when it was not
    searched), ``pipeline_`` (scaler + LogisticRegression, None for a single class),
    ``n_iter_``, ``n_features_in_``.
    """

    def __init__(
        self,
        C: float | None = None,
        Cs: tuple[float, ...] = DEFAULT_CS,
        cv: int = 3,
        min_samples_for_cv: int = 30,
        fallback_C: float = 1.0,
        max_iter: int = 2000,
        random_state: int | None = None,
        previous_search: tuple[float, int] | None = None,
        search_growth: float = 1.25,
        scaler: Any = None,
    ) -> None:
        self.C = C
        self.Cs = Cs
        self.cv = cv
        self.min_samples_for_cv = min_samples_for_cv
        self.fallback_C = fallback_C
        self.max_iter = max_iter
        self.random_state = random_state
        self.previous_search = previous_search
        self.search_growth = search_growth
        self.scaler = scaler

    def _scaler(self) -> Any:
        """The given (pool-fitted, frozen) scaler, else one fitted on the labeled rows."""
        from sklearn.preprocessing import StandardScaler

        return StandardScaler() if self.scaler is None else self.scaler

    def _pipeline(self, C: float) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        return make_pipeline(
            self._scaler(),
            LogisticRegression(C=C, max_iter=self.max_iter, random_state=self.random_state),
        )

    def _choose_C(self, X: NDArray, y: NDArray) -> tuple[float, int]:
        """The strength to fit with and the number of labels it was searched on."""
        if self.C is not None:
            return float(self.C), 0
        if self.previous_search is not None:
            previous_C, searched_on = self.previous_search
            if searched_on > 0 and len(y) < self.search_growth * searched_on:
                return float(previous_C), int(searched_on)
        _, counts = np.unique(y, return_counts=True)
        if len(y) < self.min_samples_for_cv or counts.min() < self.cv or len(self.Cs) < 2:
            return float(self.fallback_C), 0
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        folds = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        losses = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for C in self.Cs:
                score = cross_val_score(
                    self._pipeline(C), X, y, cv=folds, scoring="neg_log_loss"
                ).mean()
                losses.append(-score)
        return float(self.Cs[int(np.argmin(losses))]), len(y)

    def fit(self, X: ArrayLike, y: ArrayLike) -> AutoLogisticRegression:
        """Fit on ``X`` ``(n_samples, n_features)`` and labels ``y`` ``(n_samples,)``."""
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) == 1:
            self.C_ = float(self.fallback_C if self.C is None else self.C)
            self.C_searched_on_ = 0
            self.pipeline_ = None
            self.n_iter_ = np.zeros(1, dtype=np.int32)
            return self
        self.C_, self.C_searched_on_ = self._choose_C(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            self.pipeline_ = self._pipeline(self.C_).fit(X, y)
        self.n_iter_ = self.pipeline_[-1].n_iter_
        return self

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Class probabilities ``(n_samples, n_classes)``, columns in ``classes_`` order."""
        check_is_fitted(self, "classes_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        if self.pipeline_ is None:
            return np.ones((X.shape[0], 1))
        return self.pipeline_.predict_proba(X)

    def predict(self, X: ArrayLike) -> NDArray:
        """Most probable class per row, ``(n_samples,)``."""
        check_is_fitted(self, "classes_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def committee_member(self) -> AutoLogisticRegression:
        """An unfitted copy that reuses the chosen ``C_`` (no search per committee member)."""
        check_is_fitted(self, "classes_")
        params = self.get_params(deep=False)
        params["C"] = self.C_
        return type(self)(**params)

    def next_round(self) -> AutoLogisticRegression:
        """An unfitted copy for the loop's next round: it keeps this fit's searched ``C_``
        until the labels have grown by ``search_growth``, then searches again."""
        check_is_fitted(self, "classes_")
        params = self.get_params(deep=False)
        if self.C is None:
            # A fit saved before searches were counted has none to offer: search again.
            params["previous_search"] = (self.C_, getattr(self, "C_searched_on_", 0))
        return type(self)(**params)


class KernelLogisticRegression(AutoLogisticRegression):
    """:class:`AutoLogisticRegression` on RBF-kernel features (Nystroem on the labeled rows).

    Standardise, map through an RBF kernel against up to ``n_components`` labeled rows
    (``gamma = gamma_scale / n_features``), then a cross-validated logistic regression. With a
    few hundred labels this is exact kernel logistic regression: a non-linear model that stays
    cheap and keeps calibrated probabilities.
    """

    def __init__(
        self,
        C: float | None = None,
        Cs: tuple[float, ...] = DEFAULT_CS,
        cv: int = 3,
        min_samples_for_cv: int = 30,
        fallback_C: float = 10.0,
        max_iter: int = 2000,
        gamma_scale: float = 1.0,
        n_components: int = 1000,
        random_state: int | None = None,
        previous_search: tuple[float, int] | None = None,
        search_growth: float = 1.25,
        scaler: Any = None,
    ) -> None:
        super().__init__(
            C=C,
            Cs=Cs,
            cv=cv,
            min_samples_for_cv=min_samples_for_cv,
            fallback_C=fallback_C,
            max_iter=max_iter,
            random_state=random_state,
            previous_search=previous_search,
            search_growth=search_growth,
            scaler=scaler,
        )
        self.gamma_scale = gamma_scale
        self.n_components = n_components

    def _pipeline(self, C: float) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        return make_pipeline(
            self._scaler(),
            _TrainingSizeNystroem(
                gamma_scale=self.gamma_scale,
                n_components=self.n_components,
                random_state=self.random_state,
            ),
            LogisticRegression(C=C, max_iter=self.max_iter, random_state=self.random_state),
        )


class _TrainingSizeNystroem(BaseEstimator):
    """Nystroem whose component count and gamma adapt to the training set it is fitted on."""

    def __init__(
        self, gamma_scale: float = 1.0, n_components: int = 1000, random_state: int | None = None
    ) -> None:
        self.gamma_scale = gamma_scale
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X: NDArray, y: Any = None) -> _TrainingSizeNystroem:
        from sklearn.kernel_approximation import Nystroem

        self.nystroem_ = Nystroem(
            kernel="rbf",
            gamma=self.gamma_scale / X.shape[1],
            n_components=min(self.n_components, X.shape[0]),
            random_state=self.random_state,
        ).fit(X)
        return self

    def transform(self, X: NDArray) -> NDArray:
        return self.nystroem_.transform(X)

    def fit_transform(self, X: NDArray, y: Any = None) -> NDArray:
        return self.fit(X).transform(X)


def _auto_model(**params: Any) -> Any:
    from learning.automl import AutoModel

    return AutoModel(**params)


def _torch_model(architecture: str) -> Any:
    def build(random_state: int, **params: Any) -> Any:
        from learning.torch_models import TorchClassifier

        return TorchClassifier(architecture=architecture, random_state=random_state, **params)

    return build


MODELS: dict[str, Any] = {
    "logreg": lambda random_state, **p: AutoLogisticRegression(random_state=random_state, **p),
    "logreg_fixed": lambda random_state, **p: AutoLogisticRegression(
        C=p.pop("C", 1.0), random_state=random_state, **p
    ),
    "kernel_logreg": lambda random_state, **p: KernelLogisticRegression(
        random_state=random_state, **p
    ),
    "auto": lambda random_state, **p: _auto_model(random_state=random_state, **p),
    "mlp": _torch_model("mlp"),
    "cnn": _torch_model("cnn"),
}
"""Model factories by name: ``MODELS[name](random_state=..., **params)``."""


def model_names() -> list[str]:
    """Registered model names, sorted."""
    return sorted(MODELS)


def make_model(name: str, *, random_state: int, **params: Any) -> Any:
    """A new unfitted estimator. ``cnn`` needs ``image_shape=(height, width)``."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(model_names())}") from None
    return factory(random_state=random_state, **params)


def default_model_name(modality: str, features: str) -> str:
    """The model a new project gets for ``modality`` ("image" or "text") and ``features``:
    the representation's ``default_model`` in :mod:`learning.representations` (cross-validated
    logistic regression for every built-in one; see docs/benchmarks.md for the measured
    comparison with the kernel model and the small CNN). ``"embeddings"`` (precomputed rows)
    also gets logistic regression.
    """
    from learning.representations import MODALITIES, get_representation

    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; expected 'image' or 'text'")
    if features == "embeddings":
        return "logreg"
    try:
        representation = get_representation(features)
    except ValueError:
        raise ValueError(f"unknown {modality} features {features!r}") from None
    if representation.modality != modality:
        raise ValueError(f"unknown {modality} features {features!r}")
    return representation.default_model


_META_FILE = "model.json"


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool | dict):
        return value
    # A fitted object parameter (a pool scaler) lives in the joblib file; name it here.
    return type(value).__name__


def save_model(model: Any, directory: str | Path) -> None:
    """Persist a fitted model under ``directory`` (created if missing).

    Writes ``model.json`` (format, class, parameters, classes) and either ``model.pt`` (torch
    state dict, for :class:`learning.torch_models.TorchClassifier`) or ``model.joblib``.
    """
    check_is_fitted(model, "classes_")
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    meta = {
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "params": {k: _json_safe(v) for k, v in model.get_params(deep=False).items()},
        "classes": _json_safe(model.classes_.tolist()),
    }
    if hasattr(model, "save_weights"):
        meta["format"] = "torch"
        model.save_weights(path / "model.pt")
    else:
        import joblib

        meta["format"] = "joblib"
        joblib.dump(model, path / "model.joblib")
    (path / _META_FILE).write_text(json.dumps(meta, indent=2))


def load_model(directory: str | Path) -> Any:
    """Load what :func:`save_model` wrote; returns a fitted estimator."""
    path = Path(directory)
    meta = json.loads((path / _META_FILE).read_text())
    if meta["format"] == "torch":
        from learning.torch_models import TorchClassifier

        params = meta["params"]
        if params.get("image_shape") is not None:
            params["image_shape"] = tuple(params["image_shape"])
        return TorchClassifier(**params).load_weights(path / "model.pt")
    if meta["format"] == "joblib":
        import joblib

        return joblib.load(path / "model.joblib")
    raise ValueError(f"{path / _META_FILE}: unknown model format {meta['format']!r}")
