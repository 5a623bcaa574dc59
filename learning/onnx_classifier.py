"""A fitted classifier as a torch module computing its ``predict_proba``, for
:mod:`learning.onnx_export` to write as ONNX (alone, or behind an encoder).

Every registered model (:data:`learning.models.MODELS`) and the model AutoML chose
(:class:`learning.automl.AutoModel`: its fitted pipeline) is re-expressed step by step: the
scaler, the Nystroem kernel map, the logistic regression, scikit-learn's MLP or the torch
network, then the softmax, in float64 as scikit-learn computes. torch is imported when a
module is built, never when this module is imported.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _torch() -> Any:
    import torch

    return torch


def classes_of(model: Any) -> list[str]:
    """The model's classes as strings, in the order of its probability columns."""
    return [str(name) for name in model.classes_]


def probability_module(model: Any) -> Any:
    """A torch module computing ``model.predict_proba``: float32 ``(n, d)`` -> ``(n, k)``.

    Works in float64 inside (as scikit-learn does) and returns float32. Raises ``TypeError``
    for a model it does not know.
    """
    torch = _torch()
    from torch import nn

    from learning.automl import AutoModel
    from learning.models import AutoLogisticRegression

    class Probabilities(nn.Module):
        def __init__(self, steps: list[tuple[str, dict[str, Any]]], n_classes: int) -> None:
            super().__init__()
            self.kinds = [kind for kind, _ in steps]
            self.n_classes = n_classes
            for index, (_, tensors) in enumerate(steps):
                for name, value in tensors.items():
                    self.register_buffer(f"s{index}_{name}", value)

        def forward(self, features: Any) -> Any:
            x = features.to(torch.float64)
            for index, kind in enumerate(self.kinds):
                get = lambda name, i=index: getattr(self, f"s{i}_{name}")  # noqa: E731
                if kind == "constant":
                    return torch.ones_like(x[:, :1]).to(torch.float32)
                if kind == "scale":
                    x = (x - get("mean")) / get("scale")
                elif kind == "rbf":
                    components = get("components")
                    squared = (
                        (x * x).sum(dim=1, keepdim=True)
                        - 2.0 * x @ components.T
                        + (components * components).sum(dim=1)
                    )
                    kernel = torch.exp(-get("gamma") * torch.clamp(squared, min=0.0))
                    x = kernel @ get("normalization").T
                elif kind == "linear":
                    x = x @ get("weight").T + get("bias")
                elif kind in _ACTIVATIONS:
                    x = _ACTIVATIONS[kind](torch, x)
                elif kind == "torch":
                    x = self.network(x.to(torch.float32)).to(torch.float64)
            return torch.softmax(x, dim=1).to(torch.float32)

    # AutoML's choice is one of the pipelines below: a scaler, the kernel map for the kernel
    # family, then logistic regression or scikit-learn's MLP.
    if isinstance(model, (AutoLogisticRegression, AutoModel)):
        fitted = model.estimator_ if isinstance(model, AutoModel) else model.pipeline_
        if fitted is None:
            return Probabilities([("constant", {})], 1).eval()
        return Probabilities(_pipeline_steps(fitted), len(model.classes_)).eval()
    if type(model).__name__ == "TorchClassifier":
        scale = {
            "mean": torch.as_tensor(np.asarray(model.mean_, dtype=np.float64)),
            "scale": torch.as_tensor(np.asarray(model.scale_, dtype=np.float64)),
        }
        module = Probabilities([("scale", scale), ("torch", {})], len(model.classes_))
        module.network = model.module_
        return module.eval()
    raise TypeError(f"cannot export a {type(model).__name__} to ONNX")


_ACTIVATIONS = {
    "relu": lambda torch, x: torch.relu(x),
    "tanh": lambda torch, x: torch.tanh(x),
    "logistic": lambda torch, x: torch.sigmoid(x),
}


def _pipeline_steps(pipeline: Any) -> list[tuple[str, dict[str, Any]]]:
    """A fitted scikit-learn pipeline's steps as ``Probabilities`` steps, in float64."""
    torch = _torch()

    def constant(values: Any) -> Any:
        return torch.as_tensor(np.asarray(values, dtype=np.float64))

    def two_columns(weight: Any, bias: Any) -> tuple[Any, Any]:
        # Binary with one output: [1 - sigmoid(z), sigmoid(z)] is exactly softmax([0, z]).
        weight = np.vstack([np.zeros_like(weight), weight])
        return weight, np.concatenate([[0.0], bias])

    steps: list[tuple[str, dict[str, Any]]] = []
    for step in pipeline:
        # The pool-fitted scaler is a fitted StandardScaler inside a FrozenEstimator.
        step = (
            getattr(step, "estimator", step) if type(step).__name__ == "FrozenEstimator" else step
        )
        kind = type(step).__name__
        if kind == "StandardScaler":
            mean = step.mean_ if step.mean_ is not None else np.zeros(step.n_features_in_)
            scale = step.scale_ if step.scale_ is not None else np.ones(step.n_features_in_)
            steps.append(("scale", {"mean": constant(mean), "scale": constant(scale)}))
        elif kind == "_TrainingSizeNystroem":
            nystroem = step.nystroem_
            gamma = nystroem.gamma
            steps.append(
                (
                    "rbf",
                    {
                        "components": constant(nystroem.components_),
                        "normalization": constant(nystroem.normalization_),
                        "gamma": constant(gamma),
                    },
                )
            )
        elif kind == "LogisticRegression":
            weight, bias = np.asarray(step.coef_), np.asarray(step.intercept_)
            if len(step.classes_) == 2 and weight.shape[0] == 1:
                weight, bias = two_columns(weight, bias)
            steps.append(("linear", {"weight": constant(weight), "bias": constant(bias)}))
        elif kind == "MLPClassifier":
            if step.activation not in _ACTIVATIONS and step.activation != "identity":
                raise TypeError(f"cannot export an MLP with {step.activation} units")
            layers = list(zip(step.coefs_, step.intercepts_, strict=True))
            for index, (weight, bias) in enumerate(layers):
                weight, bias = np.asarray(weight).T, np.asarray(bias)
                last = index == len(layers) - 1
                if last and step.out_activation_ == "logistic":
                    weight, bias = two_columns(weight, bias)
                steps.append(("linear", {"weight": constant(weight), "bias": constant(bias)}))
                if not last and step.activation != "identity":
                    steps.append((step.activation, {}))
        else:
            raise TypeError(f"cannot export the pipeline step {kind}")
    return steps
