"""Simulated active learning on scans: each scan (series or study) is one item, its slices
are featurized by the representation registry, pooled per scan (:class:`ScanPooler`) and
the usual models and strategies run on the pooled rows, round by round, as a scan-level
project does::

    python -m learning.simulate FOLDER   # FOLDER/<class>/<scan>/<slice files>, PNG or DICOM

The pooling is refitted every round on the labels so far (attention once they allow).
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray

from learning.scan_data import LabeledScans
from learning.scans import ScanBags, ScanPooler


def _pooled(
    pooling: str, bags: ScanBags, labeled: NDArray[np.int64], y: NDArray, seed: int
) -> tuple[ScanPooler, NDArray[np.float32]]:
    pooler = ScanPooler(pooling, random_state=seed).fit(bags.subset(labeled), y[labeled])
    return pooler, pooler.transform(bags)


def run_scan_curve(
    strategy_name: str,
    train: ScanBags,
    y_train: NDArray,
    test: ScanBags,
    y_test: NDArray,
    setup: Any,
    repeat: int,
    *,
    pooling: str = "auto",
    cold_start_initial: bool = True,
) -> list[list[float]]:
    """One repeat: ``[[n_labeled_scans, accuracy, macro_f1], ...]``. ``setup`` is a
    :class:`learning.simulate.SimulationSetup`; the first labels are the strategy's own
    choice without a model on the mean-pooled scans (a new project's cold start) when
    ``cold_start_initial``, else a seeded random set."""
    from learning.evaluation import evaluate
    from learning.project_defaults import initial_positions
    from learning.scans import mean_pool
    from learning.strategies import get_strategy
    from learning.training import train_model

    classes = np.unique(np.concatenate([y_train, y_test]))
    rng = np.random.default_rng([setup.seed, repeat])
    if cold_start_initial:
        labeled = initial_positions(strategy_name, mean_pool(train), setup.initial, rng=rng)
    else:
        initial_rng = np.random.default_rng([setup.seed, repeat, 0])
        labeled = initial_rng.choice(len(y_train), size=setup.initial, replace=False)
    strategy = get_strategy(strategy_name)
    budget = min(setup.budget, len(y_train))
    points: list[list[float]] = []
    model = None
    while True:
        seed = setup.seed + repeat
        pooler, X_pool = _pooled(pooling, train, labeled, y_train, seed)
        previous = model if model is not None and model.n_features_in_ == X_pool.shape[1] else None
        model = train_model(
            setup.model_name, X_pool[labeled], y_train[labeled], random_state=seed,
            previous=previous, **setup.model_params,
        )  # fmt: skip
        report = evaluate(y_test, model.predict(pooler.transform(test)), classes)
        points.append([int(len(labeled)), report["accuracy"], report["macro_f1"]])
        if len(labeled) >= budget:
            return points
        chosen = strategy.query(
            model, X_pool, min(setup.batch, budget - len(labeled)), rng=rng,
            X_labeled=X_pool[labeled], y_labeled=y_train[labeled], exclude=labeled,
        )  # fmt: skip
        labeled = np.concatenate([labeled, chosen.positions])


def full_scan_accuracy(
    model_name: str, pooling: str, train: ScanBags, y_train: NDArray, test: ScanBags,
    y_test: NDArray, seed: int,
) -> float:  # fmt: skip
    """Accuracy of the pooling and model trained on every training scan."""
    from learning.models import make_model

    pooler = ScanPooler(pooling, random_state=seed).fit(train, y_train)
    model = make_model(model_name, random_state=seed).fit(pooler.transform(train), y_train)
    return float(np.mean(model.predict(pooler.transform(test)) == y_test))


def featurize_scans(
    train: LabeledScans,
    test: LabeledScans,
    features: str = "auto",
    *,
    image_size: tuple[int, int] | None = None,
    backbone: str | None = None,
    random_state: int = 0,
) -> tuple[ScanBags, ScanBags, str]:
    """Slice rows of every scan as bags, with the representation a new image project on all
    these slices would choose ("auto" resolved for the number of slices: the feature store
    keeps a row per slice)."""
    from PIL import Image

    from learning.datasets import DatasetError
    from learning.project_defaults import new_project_choices
    from learning.representations import FeaturizerOptions, get_representation

    scans = train.slices + test.slices
    files = [str(f) for scan in scans for f in scan]
    with Image.open(files[0]) as first:
        first_size = first.size
    resources = {"image_backbone_weights": str(backbone) if backbone else ""}
    try:
        choices = new_project_choices(
            "image", len(files), features=features, first_image_size=first_size,
            resources=resources,
        )  # fmt: skip
    except ValueError as problem:
        raise DatasetError(f"{train.source}: --features {features}: {problem}") from None
    representation = get_representation(choices.representation)
    featurizer = representation.featurizer(
        FeaturizerOptions(
            random_state=random_state,
            image_size=image_size or choices.image_size,
            resources=resources,
        )
    )
    featurizer.fit(files)
    rows = featurizer.transform(files)
    sizes = np.array([len(scan) for scan in scans], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    bags = ScanBags(rows, offsets)
    n_train = len(train)
    return (
        bags.subset(np.arange(n_train)),
        bags.subset(np.arange(n_train, len(scans))),
        (representation.name),
    )


def simulate_scans(args: Any, strategies: list[str]) -> list[dict[str, Any]]:
    """``python -m learning.simulate`` on a scan folder: the result objects per strategy, with
    the model a new project on the chosen representation trains (unless ``--model``)."""
    from threadpoolctl import threadpool_limits

    from learning.datasets import DatasetError
    from learning.models import default_model_name
    from learning.scan_data import load_scans
    from learning.simulate import SimulationSetup

    data = load_scans(args.data)
    test_positions = _stratified_test(data.y, args.test_size, args.seed)
    train_positions = np.setdiff1d(np.arange(len(data)), test_positions)
    train, test = data.subset(train_positions), data.subset(test_positions)
    if len(np.unique(train.y)) < 2:
        raise DatasetError(f"{args.data}: the training split holds a single class")
    train_bags, test_bags, features = featurize_scans(
        train, test, args.features, backbone=args.backbone, random_state=args.seed
    )
    setup = SimulationSetup(
        args.initial, args.batch, args.budget, args.repeats, args.seed,
        args.model or default_model_name("image", features), {},
        random_initial=args.random_initial,
    )  # fmt: skip
    print(
        f"{data.source}: {len(train)} pool scans, {len(test)} test scans, "
        f"{int(train_bags.sizes.sum() + test_bags.sizes.sum())} slices; features {features} "
        f"({train_bags.rows.shape[1]}-d per slice), pooling {args.pooling}, "
        f"model {setup.model_name}",
        file=sys.stderr,
    )
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        full = full_scan_accuracy(
            setup.model_name, args.pooling, train_bags, train.y, test_bags, test.y, args.seed
        )
        return [
            {
                "dataset": str(data.source),
                "strategy": name,
                "full_accuracy": full,
                "curves": [
                    {
                        "seed": setup.seed + repeat,
                        "points": run_scan_curve(
                            name,
                            train_bags,
                            train.y,
                            test_bags,
                            test.y,
                            setup,
                            repeat,
                            pooling=args.pooling,
                            cold_start_initial=not setup.random_initial,
                        ),  # fmt: skip
                    }
                    for repeat in range(setup.repeats)
                ],
            }
            for name in strategies
        ]


def _stratified_test(y: NDArray, test_size: float, seed: int) -> NDArray[np.int64]:
    from sklearn.model_selection import train_test_split

    _, counts = np.unique(y, return_counts=True)
    positions = np.arange(len(y))
    _, test = train_test_split(
        positions,
        test_size=test_size,
        stratify=y if counts.min() >= 2 else None,
        random_state=seed,
    )
    return np.sort(test)
