"""Label efficiency of ``disagreement_external`` (issue 24): the loop asks first where a
team's own model and the loop's model disagree. Against random, margin and the default, on
digits, breast cancer and a synthetic 5-class set, three seeds each.

The team's model is a logistic regression trained on a split the loop never sees (150 items),
and hands over only what a predictions CSV carries: each pool item's top label and its
score. The loop trains logistic regression from 20 random labels, 10 per round, up to 200.

    nice -n 10 .venv/bin/python bench/external_disagreement.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from learning.external import external_distribution  # noqa: E402
from learning.simulate import labels_to_reach, normalised_aulc  # noqa: E402
from learning.strategies import get_strategy  # noqa: E402

STRATEGIES = ("random", "margin", "default", "disagreement_external")
SEEDS = (0, 1, 2)
INITIAL, BATCH, BUDGET, TEAM = 20, 10, 200, 150


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    digits = load_digits()
    cancer = load_breast_cancer()
    X_syn, y_syn = make_classification(
        n_samples=3000, n_features=20, n_informative=8, n_classes=5, random_state=0
    )
    return {
        "digits": (digits.data, digits.target),
        "breast_cancer": (cancer.data, cancer.target),
        "synthetic_5": (X_syn, y_syn),
    }


def fit(X: np.ndarray, y: np.ndarray) -> LogisticRegression:
    return LogisticRegression(max_iter=2000).fit(X, y)


def curve(name, X_pool, y_pool, X_test, y_test, team_proba, classes, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labeled = rng.choice(len(y_pool), size=INITIAL, replace=False)
    params = {}
    if name == "disagreement_external":
        best = team_proba.argmax(axis=1)
        scored = [{str(classes[b]): float(team_proba[i, b])} for i, b in enumerate(best)]
        names = tuple(str(c) for c in classes)
        params = {
            "positions": np.arange(len(y_pool)),
            "proba": external_distribution(scored, names),
            "classes": names,
        }
    strategy = get_strategy(name, **params)
    points = []
    y_text = y_pool.astype(str)
    while True:
        model = fit(X_pool[labeled], y_text[labeled])
        points.append([len(labeled), float((model.predict(X_test) == y_test.astype(str)).mean())])
        if len(labeled) >= BUDGET:
            return np.array(points)
        chosen = strategy.query(model, X_pool, BATCH, rng=rng, exclude=labeled)
        labeled = np.concatenate([labeled, chosen.positions])


def main() -> None:
    print("| data | strategy | labels to 95% (per seed) | AULC | team model accuracy |")
    print("| --- | --- | --- | --- | --- |")
    for data_name, (X, y) in datasets().items():
        X = StandardScaler().fit_transform(X).astype(np.float32)
        X_rest, X_test, y_rest, y_test = train_test_split(
            X, y, test_size=0.25, random_state=0, stratify=y
        )
        X_team, X_pool, y_team, y_pool = train_test_split(
            X_rest, y_rest, train_size=TEAM, random_state=0, stratify=y_rest
        )
        team = fit(X_team, y_team.astype(str))
        team_accuracy = float((team.predict(X_test) == y_test.astype(str)).mean())
        full = float((fit(X_pool, y_pool.astype(str)).predict(X_test) == y_test.astype(str)).mean())
        for name in STRATEGIES:
            reached, aulcs = [], []
            for seed in SEEDS:
                points = curve(
                    name,
                    X_pool,
                    y_pool,
                    X_test,
                    y_test,
                    team.predict_proba(X_pool),
                    team.classes_,
                    seed,
                )
                reached.append(labels_to_reach(points, 0.95 * full))
                aulcs.append(normalised_aulc(points, full))
            shown = ", ".join("—" if r is None else str(r) for r in reached)
            print(
                f"| {data_name} | {name} | {shown} | {np.mean(aulcs):.3f} | {team_accuracy:.3f} |"
            )


if __name__ == "__main__":
    main()
