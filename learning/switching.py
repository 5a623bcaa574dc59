"""Simulate a loop whose representation is re-decided by evidence as labels accumulate (the
app's "auto" for images, issue 20): it starts on the pool-fitted representation, and each
time the labels have grown by ``growth`` it cross-validates every candidate on the labels
(:func:`learning.representation_choice.compare_representations`) and serves the winner from
the next round on — as the app's next feature version would, without stopping labeling.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from learning.representation_choice import MIN_LABELS, compare_representations


def run_switching_curve(
    strategy_name: str,
    representations: Mapping[str, tuple[NDArray[np.float32], NDArray[np.float32]]],
    y_train: NDArray,
    y_test: NDArray,
    setup: Any,
    repeat: int,
    *,
    first: str,
    growth: float = 1.25,
    served: list[tuple[int, str]] | None = None,
) -> list[list[float]]:
    """One repeat: ``[[n_labels, accuracy, macro_f1], ...]`` like
    :func:`learning.simulate.run_curve` (cold-start initial labels on ``first``).

    ``representations``: name -> ``(X_train, X_test)`` of the same items; ``first`` serves
    until the evidence says otherwise. ``served`` (if given) receives ``(n_labels, name)``
    at every round: which representation the round's model was trained on.
    """
    from learning.evaluation import evaluate
    from learning.preprocessing import pool_scaler
    from learning.project_defaults import initial_positions
    from learning.simulate import _fit
    from learning.strategies import get_strategy

    classes = np.unique(np.concatenate([y_train, y_test]))
    rng = np.random.default_rng([setup.seed, repeat])
    strategy = get_strategy(strategy_name)
    serving = first
    X_pool, X_test = representations[serving]
    labeled = initial_positions(strategy_name, X_pool, setup.initial, rng=rng)
    scalers = {name: pool_scaler(rows[0], random_state=setup.seed) for name, rows in
               representations.items()}  # fmt: skip
    budget = min(setup.budget, len(y_train))
    compared_at = 0
    points: list[list[float]] = []
    model = None
    while True:
        if len(labeled) >= max(MIN_LABELS, growth * compared_at):
            compared_at = len(labeled)
            evidence = compare_representations(
                {name: rows[0][labeled] for name, rows in representations.items()},
                y_train[labeled],
                serving=serving,
                random_state=setup.seed + repeat,
            )
            if evidence.switch:
                serving, model = evidence.chosen, None
                X_pool, X_test = representations[serving]
        model = _fit(
            setup, X_pool[labeled], y_train[labeled], setup.seed + repeat, model, scalers[serving]
        )
        report = evaluate(y_test, model.predict(X_test), classes)
        points.append([int(len(labeled)), report["accuracy"], report["macro_f1"]])
        if served is not None:
            served.append((int(len(labeled)), serving))
        if len(labeled) >= budget:
            return points
        chosen = strategy.query(
            model,
            X_pool,
            min(setup.batch, budget - len(labeled)),
            rng=rng,
            X_labeled=X_pool[labeled],
            y_labeled=y_train[labeled],
            exclude=labeled,
        )
        labeled = np.concatenate([labeled, chosen.positions])


# The full-data decision cross-validates on at most this many pool rows (a seeded sample):
# the ranking of the candidates, not the last decimal, at any pool size.
FULL_DECISION_ROWS = 5000


def full_data_choice(
    representations: Mapping[str, tuple[NDArray[np.float32], NDArray[np.float32]]],
    y_train: NDArray,
    *,
    first: str,
    random_state: int = 0,
) -> str:
    """What "auto" serves once every pool item is labeled: the evidence on the pool's labels
    (3-fold, on a seeded sample of at most ``FULL_DECISION_ROWS`` rows)."""
    rng = np.random.default_rng(random_state)
    rows = np.arange(len(y_train))
    if len(rows) > FULL_DECISION_ROWS:
        rows = np.sort(rng.choice(rows, size=FULL_DECISION_ROWS, replace=False))
    evidence = compare_representations(
        {name: pair[0][rows] for name, pair in representations.items()},
        np.asarray(y_train)[rows],
        serving=first,
        cv=3,
        random_state=random_state,
    )
    return evidence.chosen
