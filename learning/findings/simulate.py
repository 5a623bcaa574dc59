"""The simulator's findings side: the loop of :mod:`learning.simulate` on multi-label data.

Each curve point is ``[labels, micro-F1, macro AUC]`` on the held-out items; a strategy's
result keeps the single-label shape (``curves`` of ``points``) with ``full_micro_f1`` and
``full_macro_auc`` (the same model trained on the whole pool) where ``full_accuracy`` stood.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from learning.findings.model import DEFAULT_UNCERTAIN, FindingsClassifier
from learning.findings.strategies import get_findings_strategy, starts_at_random
from learning.simulate import labels_to_reach, normalised_aulc

MICRO_F1, MACRO_AUC = 1, 2


@dataclass(frozen=True)
class FindingsSetup:
    initial: int
    batch: int
    budget: int
    repeats: int
    seed: int
    uncertain: str = DEFAULT_UNCERTAIN
    C: float | None = None  # None: searched, as the app does
    random_initial: bool = False
    pool_scaling: bool = False
    class_weight: str | None = "balanced"


def findings_model(
    setup: FindingsSetup, random_state: int, scaler: Any = None
) -> FindingsClassifier:
    """The model a findings project trains (the app's choice), as the simulator runs it."""
    return FindingsClassifier(
        uncertain=setup.uncertain, C=setup.C, random_state=random_state, scaler=scaler,
        class_weight=setup.class_weight,
    )  # fmt: skip


def setup_scaler(setup: FindingsSetup, X_pool: Any) -> Any:
    """The pool-fitted scaler the app gives a findings model, or None without pool scaling."""
    if not setup.pool_scaling:
        return None
    from learning.preprocessing import pool_scaler

    return pool_scaler(X_pool, random_state=setup.seed)


def curve_point(model: Any, X_test: NDArray, Y_test: NDArray, n_labels: int) -> list[float]:
    """``[n_labels, micro-F1, macro AUC]`` of ``model`` on the held-out items (macro AUC 0.5
    when no finding has both states among them)."""
    from learning.findings.metrics import macro_auc, micro_f1

    proba = model.predict_proba(X_test)
    auc = macro_auc(Y_test, proba)
    return [int(n_labels), micro_f1(Y_test, proba), auc if auc is not None else 0.5]


def run_findings_curve(
    strategy_name: str,
    X_train: NDArray[np.float32],
    Y_train: NDArray[np.int8],
    X_test: NDArray[np.float32],
    Y_test: NDArray[np.int8],
    setup: FindingsSetup,
    repeat: int,
    progress: Any = None,
    *,
    cold_start_initial: bool | None = None,
    strategy_params: dict[str, Any] | None = None,
) -> list[list[float]]:
    """One repeat of one findings strategy: ``[[n_labels, micro_f1, macro_auc], ...]``.

    The initial labels are the strategy's own choice without a model (what a new project
    asks for first) unless ``cold_start_initial`` is False or ``setup.random_initial``; a
    strategy whose own first batch is random draws the seed's shared random set, so every
    such strategy of a repeat starts from the same labels."""
    rng = np.random.default_rng([setup.seed, repeat])
    strategy = get_findings_strategy(strategy_name, **(strategy_params or {}))
    if cold_start_initial is None:
        cold_start_initial = not setup.random_initial and not starts_at_random(strategy)
    if cold_start_initial:
        labeled = strategy.query(None, X_train, setup.initial, rng=rng).positions
    else:
        initial_rng = np.random.default_rng([setup.seed, repeat, 0])
        labeled = np.sort(
            initial_rng.choice(len(Y_train), size=min(setup.initial, len(Y_train)), replace=False)
        ).astype(np.int64)
    budget = min(setup.budget, len(Y_train))
    scaler = setup_scaler(setup, X_train)
    points = []
    model = None
    # What each chosen item's arm and pre-label P(present) were, for a strategy that learns
    # from them (learning.findings.arms): labeled positions, arms, probabilities.
    evidence: list[tuple[NDArray, NDArray, NDArray]] = []
    while True:
        # As the app's retrain does: the next model keeps the last one's searched C a while.
        fresh = (
            findings_model(setup, setup.seed + repeat, scaler)
            if model is None
            else model.next_round()
        )
        model = fresh.fit(X_train[labeled], Y_train[labeled])
        points.append(curve_point(model, X_test, Y_test, len(labeled)))
        if progress is not None:
            progress.update(1)
        if len(labeled) >= budget:
            return points
        chosen = _query(
            strategy, evidence, Y_train, model, X_train,
            min(setup.batch, budget - len(labeled)), rng=rng,
            X_labeled=X_train[labeled], y_labeled=Y_train[labeled], exclude=labeled,
        )  # fmt: skip
        labeled = np.concatenate([labeled, chosen.positions])


def _query(strategy: Any, evidence: list, Y_train: NDArray, model: Any, X_train: NDArray,
           n: int, **kwargs: Any) -> Any:  # fmt: skip
    """One batch; a strategy that learns from its arms' labeled items (``with_evidence`` and
    ``choose``, :class:`learning.findings.arms.FindingsArms`) gets them first, as the app
    gives them (labeler/engine/findings.py), and its new batch is added to them."""
    if not hasattr(strategy, "choose"):
        return strategy.query(model, X_train, n, **kwargs)
    if evidence:
        positions = np.concatenate([e[0] for e in evidence])
        arms = np.concatenate([e[1] for e in evidence])
        proba = np.concatenate([e[2] for e in evidence])
        strategy = strategy.with_evidence(arms, proba, Y_train[positions])
    choice = strategy.choose(model, X_train, n, **kwargs)
    if choice.proba.shape[1]:
        evidence.append((choice.result.positions, choice.arms, choice.proba))
    return choice.result


def full_data_point(
    setup: FindingsSetup, X_train: NDArray, Y_train: NDArray, X_test: NDArray, Y_test: NDArray
) -> tuple[float, float]:
    """(micro-F1, macro AUC) of the model trained on the whole pool."""
    model = findings_model(setup, setup.seed, setup_scaler(setup, X_train)).fit(X_train, Y_train)
    _, micro_f1, macro_auc = curve_point(model, X_test, Y_test, len(Y_train))
    return micro_f1, macro_auc


def _rounds(setup: FindingsSetup, n_train: int) -> int:
    budget = min(setup.budget, n_train)
    return 1 + int(np.ceil(max(budget - min(setup.initial, budget), 0) / setup.batch))


def simulate_findings(
    X_train: NDArray, Y_train: NDArray, X_test: NDArray, Y_test: NDArray,
    strategies: list[str], setup: FindingsSetup, *, dataset: str = "",
    show_progress: bool = True,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every strategy ``setup.repeats`` times; the JSON-ready result objects."""
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        full_micro_f1, full_macro_auc = full_data_point(setup, X_train, Y_train, X_test, Y_test)
        total = len(strategies) * setup.repeats * _rounds(setup, len(Y_train))
        results = []
        with tqdm(total=total, disable=not show_progress, unit="round", file=sys.stderr) as bar:
            for name in strategies:
                bar.set_description(name)
                curves = [
                    {"seed": setup.seed + repeat,
                     "points": run_findings_curve(name, X_train, Y_train, X_test, Y_test,
                                                  setup, repeat, bar)}
                    for repeat in range(setup.repeats)
                ]  # fmt: skip
                results.append({
                    "dataset": dataset, "strategy": name, "task": "findings",
                    "full_micro_f1": full_micro_f1, "full_macro_auc": full_macro_auc,
                    "curves": curves,
                })  # fmt: skip
        return results


def _column(points: NDArray[np.float64], column: int) -> NDArray[np.float64]:
    return points[:, [0, column]]


def summarise_findings(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per strategy: labels to 95% of full micro-F1 and of full macro AUC (mean curve), the
    AULC on macro AUC (normalised by the full-data macro AUC) and its paired gain over
    random (mean, standard error over seeds)."""
    by_name = {r["strategy"]: r for r in results}

    def aulcs(result: dict[str, Any]) -> NDArray[np.float64]:
        full = result["full_macro_auc"]
        return np.array([
            normalised_aulc(_column(np.asarray(c["points"], dtype=np.float64), MACRO_AUC), full)
            for c in result["curves"]
        ])  # fmt: skip

    rows = []
    for result in results:
        curves = [np.asarray(c["points"], dtype=np.float64) for c in result["curves"]]
        mean = np.mean(np.stack(curves), axis=0)
        own = aulcs(result)
        row: dict[str, Any] = {
            "strategy": result["strategy"],
            "labels_to_95_micro_f1": labels_to_reach(
                _column(mean, MICRO_F1), 0.95 * result["full_micro_f1"]
            ),
            "labels_to_95_macro_auc": labels_to_reach(
                _column(mean, MACRO_AUC), 0.95 * result["full_macro_auc"]
            ),
            "aulc": float(own.mean()),
            "final_micro_f1": float(mean[-1, MICRO_F1]),
            "final_macro_auc": float(mean[-1, MACRO_AUC]),
            "budget": int(mean[-1, 0]),
            "gain": None,
            "gain_se": None,
        }
        baseline = by_name.get("random")
        if baseline is not None and result["strategy"] != "random":
            base = aulcs(baseline)
            paired = own[: len(base)] - base[: len(own)]
            row["gain"] = float(paired.mean())
            if len(paired) > 1:
                row["gain_se"] = float(paired.std(ddof=1) / np.sqrt(len(paired)))
        rows.append(row)
    return rows


def format_findings_table(rows: list[dict[str, Any]], full_micro_f1: float,
                          full_macro_auc: float) -> str:  # fmt: skip
    """The printed summary, saying so where no strategy beats random."""
    from learning.simulate import _verdict

    budget = max(r["budget"] for r in rows)

    def labels(value: int | None) -> str:
        return str(value) if value is not None else f">{budget}"

    lines = [
        f"full-data micro-F1 {full_micro_f1:.4f}, macro AUC {full_macro_auc:.4f}; labels to "
        "95% of each",
        f"{'strategy':<22}{'micro-F1':>9}{'mac.AUC':>9}{'AULC':>8}{'F1 end':>8}{'AUC end':>8}"
        "  AULC (macro AUC) vs random",
    ]
    for row in rows:
        lines.append(
            f"{row['strategy']:<22}{labels(row['labels_to_95_micro_f1']):>9}"
            f"{labels(row['labels_to_95_macro_auc']):>9}{row['aulc']:>8.3f}"
            f"{row['final_micro_f1']:>8.3f}{row['final_macro_auc']:>8.3f}  {_verdict(row)}"
        )
    contenders = [r for r in rows if r["gain"] is not None]
    if contenders and not any(r["gain_se"] and r["gain"] / r["gain_se"] >= 2.0 for r in contenders):
        lines.append(
            "note: active learning did not beat random significantly on this data; do not "
            "expect label savings here."
        )
    return "\n".join(lines)


DEFAULT_FINDINGS_STRATEGIES = "random,mean_margin,default"


def _split(data: Any, test_size: float, seed: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    n_test = max(1, int(round(test_size * len(data))))
    return data.subset(np.sort(order[n_test:])), data.subset(np.sort(order[:n_test]))


def _features(train: Any, test: Any, args: Any) -> tuple[NDArray, NDArray, str]:
    """Feature rows as a new project on the same items computes them (text), or the matrix."""
    from learning.datasets import LabeledData, featurize

    if train.kind == "features":
        return train.items, test.items, "raw"
    as_labeled = [LabeledData("text", d.items, np.zeros(len(d)), d.source) for d in (train, test)]
    return featurize(*as_labeled, args.features, random_state=args.seed)


def findings_main(args: Any, parser: Any) -> int:
    """``python -m learning.simulate`` on findings data: the app's findings model and
    strategies; prints the table, writes ``--out`` (JSON) and ``--plot`` (macro AUC curves)."""
    import json
    from pathlib import Path

    from learning.datasets import DatasetError
    from learning.findings.data import load_findings
    from learning.findings.strategies import findings_strategy_names
    from learning.simulate import DEFAULT_STRATEGIES

    chosen = args.strategies
    if chosen == DEFAULT_STRATEGIES:
        chosen = DEFAULT_FINDINGS_STRATEGIES
    strategies = [s.strip() for s in chosen.split(",") if s.strip()]
    unknown = [s for s in strategies if s not in findings_strategy_names()]
    if not strategies or unknown:
        parser.error(
            f"unknown findings strategy {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(findings_strategy_names())}"
        )
    try:
        data = load_findings(args.data)
        if args.test:
            train, test = data, load_findings(args.test)
            if test.names != train.names:
                raise DatasetError(f"{args.test}: other findings than {args.data}")
        else:
            train, test = _split(data, args.test_size, args.seed)
        X_train, X_test, features = _features(train, test, args)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    setup = FindingsSetup(
        args.initial, args.batch, args.budget, args.repeats, args.seed,
        uncertain=args.uncertain, random_initial=args.random_initial,
    )  # fmt: skip
    print(
        f"{train.source}: {len(train)} pool items, {len(test)} test items, {len(train.names)} "
        f"findings; features {features} ({X_train.shape[1]}-d), findings model",
        file=sys.stderr,
    )
    results = simulate_findings(
        X_train, train.Y, X_test, test.Y, strategies, setup, dataset=str(train.source),
        show_progress=not args.no_progress,
    )  # fmt: skip
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    if args.plot:
        plot_findings_curves(results, args.plot, Path(args.data).name)
    first = results[0]
    table = format_findings_table(
        summarise_findings(results), first["full_micro_f1"], first["full_macro_auc"]
    )
    print(table)
    return 0


def plot_findings_curves(results: list[dict[str, Any]], path: Any, title: str) -> None:
    """Mean ± std macro AUC against labels per strategy; random dashed; 95% of full."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    for result in results:
        curves = np.stack([np.asarray(c["points"], dtype=np.float64) for c in result["curves"]])
        n, values = curves[0, :, 0], curves[:, :, MACRO_AUC]
        style = "--" if result["strategy"] == "random" else "-"
        axes.plot(n, values.mean(0), style, label=result["strategy"])
        axes.fill_between(n, values.mean(0) - values.std(0), values.mean(0) + values.std(0),
                          alpha=0.15)  # fmt: skip
    full = results[0]["full_macro_auc"]
    axes.axhline(0.95 * full, color="grey", linewidth=0.8, linestyle=":", label="95% of full")
    axes.set_xlabel("labels")
    axes.set_ylabel("test macro AUC")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
