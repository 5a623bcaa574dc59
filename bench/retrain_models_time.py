"""Retrain time of the model choices of issue 20 (items 3 and 4): one ``train_model`` call, as
a retrain makes it, with the fixed model (cross-validated logistic regression), AutoML (its
search, with the app's 3-second budget) and the unlabeled pool (always on, and the gate's
decision on an evaluation set), at several label counts and pool sizes.

    nice -n 5 .venv/bin/python bench/retrain_models_time.py --datasets digits,shapes_clutter

Reads the features bench/label_efficiency.py cached ("auto" representation of each set); the
100,000-row pool is synthetic (64 columns), to show that the pool sample bounds the cost.
Prints a markdown table: the median over ``--repeats`` calls of the CPU seconds of the call
(one BLAS thread), which a shared, loaded machine inflates far less than wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

VARIANTS = {
    "logreg": {"name": "logreg"},
    "AutoML (search)": {"name": "auto"},
    "logreg + pool (on)": {"name": "logreg", "semi_supervised": "on"},
    "logreg + pool (gate decides)": {"name": "logreg", "semi_supervised": "auto"},
}


def pool_of(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    if dataset == "synthetic100k":
        rng = np.random.default_rng(0)
        y = rng.integers(0, 10, 100_000)
        X = rng.normal(size=(100_000, 64)).astype(np.float32) + np.eye(64, dtype=np.float32)[y]
        return X, y
    from label_efficiency import auto_features, split_features

    n_pool = len(split_features(dataset, "raw")[2])
    X_train, _, y_train, _ = split_features(dataset, auto_features(dataset, n_pool))
    return X_train, y_train


def one_call(variant: dict, X, y, labeled, evaluation, scaler) -> float:
    from learning.semi_supervised import unlabeled_sample
    from learning.training import train_model

    started = time.process_time()
    unlabeled = None
    if variant.get("semi_supervised"):
        taken = np.concatenate([labeled, evaluation])
        unlabeled = X[unlabeled_sample(len(X), taken, random_state=0)]
    train_model(
        variant["name"], X[labeled], y[labeled], random_state=0, scaler=scaler,
        unlabeled=unlabeled, semi_supervised=variant.get("semi_supervised", "off"),
        evaluation=(X[evaluation], y[evaluation]),
    )  # fmt: skip
    return time.process_time() - started


def main() -> int:
    import os
    import warnings

    from threadpoolctl import threadpool_limits

    from learning.preprocessing import pool_scaler

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", default="digits,shapes_clutter,synthetic100k")
    parser.add_argument("--labels", default="50,200,500")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| set | pool | labels | " + " | ".join(VARIANTS) + " |")
    print("| --- | ---: | ---: |" + " ---: |" * len(VARIANTS))
    for dataset in args.datasets.split(","):
        X, y = pool_of(dataset)
        scaler = pool_scaler(X)
        rng = np.random.default_rng(1)
        order = rng.permutation(len(y))
        evaluation = order[:50]  # a random evaluation set of 50 answers
        for n in (int(v) for v in args.labels.split(",")):
            labeled = np.sort(order[50 : 50 + n])
            row = []
            for variant in VARIANTS.values():
                with threadpool_limits(limits=1), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    times = [
                        one_call(variant, X, y, labeled, evaluation, scaler)
                        for _ in range(args.repeats)
                    ]
                row.append(f"{np.median(times):.2f}")
            print(f"| {dataset} | {len(y)} | {n} | " + " | ".join(row) + " |", flush=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (2 cores, shared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
