"""What the labels given while the retrain is stalled are worth: the latest model's ranking
read deeper (what `queue.ranking` serves) against random items (what exploration served).

The app's loop, simulated (the default strategy, batches of 10 from 20 first labels, the
default model on pool-scaled features): at ``--before`` labels the retrain stalls, and the
next ``--stall`` labels come either from the stale model's margin ranking (most uncertain
first, the items the app's spares and ranking hold) or at random; then the loop goes on for
``--after`` labels. Printed: test accuracy right after the stall and at the end, mean over
seeds, with the loop that never stalled for reference.

    .venv/bin/python bench/stall_ranking.py --datasets digits,digits_tripled,breast_cancer \
        --seeds 5 --stall 100,300
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _loop(X, y, X_test, y_test, labeled, n_labels, rng, seed, scaler, stall=None):
    """The default strategy's loop from ``labeled`` to ``n_labels``; ``stall``: (at, size,
    how) serves ``size`` labels at ``at`` from the model of that moment without retraining.
    Returns {n_labels: accuracy} at every retrain."""
    from learning.models import default_model_name
    from learning.strategies import get_strategy
    from learning.training import train_model

    strategy, margin = get_strategy("default"), get_strategy("margin")
    model_name = default_model_name("text", "embeddings")
    curve, model = {}, None
    while True:
        model = train_model(
            model_name, X[labeled], y[labeled], random_state=seed, previous=model, scaler=scaler
        )
        curve[len(labeled)] = float((model.predict(X_test) == y_test).mean())
        if len(labeled) >= n_labels:
            return curve
        if stall is not None and len(labeled) == stall[0]:
            at, size, how = stall
            if how == "ranking":
                chosen = margin.query(model, X, size, rng=rng, exclude=labeled).positions
            else:
                allowed = np.setdiff1d(np.arange(len(y)), labeled)
                chosen = rng.choice(allowed, size=min(size, len(allowed)), replace=False)
            labeled = np.concatenate([labeled, chosen])
            continue
        chosen = strategy.query(
            model, X, 10, rng=rng, X_labeled=X[labeled], y_labeled=y[labeled], exclude=labeled
        ).positions
        labeled = np.concatenate([labeled, chosen])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="digits,digits_tripled,breast_cancer")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--before", type=int, default=100)
    parser.add_argument("--stall", default="100,300")
    parser.add_argument("--after", type=int, default=100)
    args = parser.parse_args()
    from label_efficiency import load_dataset
    from sklearn.model_selection import train_test_split

    from learning.preprocessing import pool_scaler
    from learning.project_defaults import initial_positions

    print(
        "| dataset | stalled labels | right after the stall: ranking / random / no stall | "
        f"{args.after} labels later: ranking / random / no stall |\n|---|---:|---|---|"
    )
    for name in args.datasets.split(","):
        X_all, y_all = load_dataset(name)
        for size in [int(s) for s in args.stall.split(",")]:
            after, end = {h: [] for h in ("ranking", "random", "none")}, {}
            end = {h: [] for h in after}
            for seed in range(args.seeds):
                X, X_test, y, y_test = train_test_split(
                    X_all, y_all, test_size=0.25, random_state=seed, stratify=y_all
                )
                scaler = pool_scaler(X, random_state=seed)
                first = initial_positions(
                    "default", X, 20, rng=np.random.default_rng([seed, 1])
                ).astype(np.int64)
                total = args.before + size + args.after
                for how in after:
                    rng = np.random.default_rng([seed, 2])
                    stall = None if how == "none" else (args.before, size, how)
                    curve = _loop(X, y, X_test, y_test, first, total, rng, seed, scaler, stall)
                    after[how].append(curve[args.before + size])
                    end[how].append(curve[total])
            print(
                f"| {name} | {size} | "
                + " / ".join(f"{100 * np.mean(after[h]):.1f}" for h in after)
                + " | "
                + " / ".join(f"{100 * np.mean(end[h]):.1f}" for h in end)
                + " |",
                flush=True,
            )


if __name__ == "__main__":
    main()
