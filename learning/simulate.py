"""Simulated active learning with an oracle on an already-labeled dataset.

    python -m learning.simulate DATA --strategies random,margin,entropy,qbc --initial 20 \
        --batch 10 --budget 500 --repeats 5 --out results.json --plot curves.png

Holds out a seeded stratified test split (``--test-size``) or reads ``--test PATH``, runs each
strategy ``--repeats`` times from ``--initial`` labels to ``--budget`` in batches of
``--batch``, and writes one JSON object per strategy, a learning-curve PNG and a table of the
labels needed to reach 95% and 99% of the full-data accuracy and the normalised area under the
learning curve. A folder ``class/<scan>/<slices>`` (PNG or DICOM slices) simulates a
scan-level project (:mod:`learning.scan_simulate`): one item per scan. Bad input ends with
a message naming the file (and row) and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from learning.datasets import DatasetError, LabeledData, featurize, load_labeled
from learning.models import default_model_name, make_model, model_names
from learning.project_defaults import initial_positions
from learning.representations import representation_names
from learning.strategies import get_strategy, strategy_names
from learning.versus_random import versus_random_report


@dataclass(frozen=True)
class SimulationSetup:
    initial: int
    batch: int
    budget: int
    repeats: int
    seed: int
    model_name: str
    model_params: dict[str, Any]
    random_initial: bool = False
    # Standardise on the whole pool, as the app does, rather than on the labeled rows.
    pool_scaling: bool = True
    # Label spreading over the unlabeled pool: "off", "on" or "auto" (decided by
    # cross-validation on the labels; learning/semi_supervised.py).
    semi_supervised: str = "off"
    # With semi_supervised "auto": decide on this many random pool items answered by the
    # oracle (the app's evaluation set; not in the budget, never labeled for training).
    gate_evaluation: int = 0


def _fit(
    setup: SimulationSetup,
    X: NDArray,
    y: NDArray,
    random_state: int,
    previous: Any,
    scaler: Any = None,
    unlabeled: NDArray | None = None,
    evaluation: tuple[NDArray, NDArray] | None = None,
) -> Any:
    from learning.training import train_model

    return train_model(
        setup.model_name,
        X,
        y,
        random_state=random_state,
        previous=previous,
        scaler=scaler,
        unlabeled=unlabeled,
        semi_supervised=setup.semi_supervised,
        evaluation=evaluation,
        **setup.model_params,
    )


def _random_initial(y: NDArray, n: int, rng: np.random.Generator) -> NDArray[np.int64]:
    return np.sort(rng.choice(len(y), size=min(n, len(y)), replace=False)).astype(np.int64)


def run_curve(
    strategy_name: str,
    X_train: NDArray[np.float32],
    y_train: NDArray,
    X_test: NDArray[np.float32],
    y_test: NDArray,
    setup: SimulationSetup,
    repeat: int,
    progress: Any = None,
    *,
    cold_start_initial: bool | None = None,
) -> list[list[float]]:
    """One repeat of one strategy: ``[[n_labels, accuracy, macro_f1], ...]``.

    ``cold_start_initial``: the initial labels are what a new project asks for first
    (:func:`learning.project_defaults.initial_positions`: the strategy's own choice without a
    model) when True or None, a seeded random set shared by all strategies when False.
    """
    from learning.evaluation import evaluate

    classes = np.unique(np.concatenate([y_train, y_test]))
    rng = np.random.default_rng([setup.seed, repeat])
    initial_rng = np.random.default_rng([setup.seed, repeat, 0])
    strategy = get_strategy(strategy_name)
    if cold_start_initial is None:
        cold_start_initial = not setup.random_initial
    if cold_start_initial:
        labeled = initial_positions(strategy_name, X_train, setup.initial, rng=rng)
    else:
        labeled = _random_initial(y_train, setup.initial, initial_rng)
    points: list[list[float]] = []
    model = None
    budget = min(setup.budget, len(y_train))
    scaler = None
    if setup.pool_scaling:
        from learning.preprocessing import pool_scaler

        scaler = pool_scaler(X_train, random_state=setup.seed)
    held = np.empty(0, dtype=np.int64)  # the gate's evaluation items
    if setup.semi_supervised == "auto" and setup.gate_evaluation > 0:
        draw = np.random.default_rng([setup.seed, repeat, 5]).permutation(len(y_train))
        held = np.sort(np.setdiff1d(draw[: setup.gate_evaluation], labeled))
    evaluation = (X_train[held], y_train[held]) if len(held) else None
    while True:
        unlabeled = None
        if setup.semi_supervised != "off":
            from learning.semi_supervised import unlabeled_sample

            taken = np.concatenate([labeled, held])
            unlabeled = X_train[unlabeled_sample(len(y_train), taken, random_state=setup.seed)]
        model = _fit(
            setup, X_train[labeled], y_train[labeled], setup.seed + repeat, model, scaler,
            unlabeled, evaluation,
        )  # fmt: skip
        report = evaluate(y_test, model.predict(X_test), classes)
        points.append([int(len(labeled)), report["accuracy"], report["macro_f1"]])
        if progress is not None:
            progress.update(1)
        if len(labeled) >= budget:
            return points
        chosen = strategy.query(
            model,
            X_train,
            min(setup.batch, budget - len(labeled)),
            rng=rng,
            X_labeled=X_train[labeled],
            y_labeled=y_train[labeled],
            exclude=np.union1d(labeled, held),
        )
        labeled = np.concatenate([labeled, chosen.positions])


def _rounds(setup: SimulationSetup, n_train: int) -> int:
    budget = min(setup.budget, n_train)
    return 1 + int(np.ceil(max(budget - min(setup.initial, budget), 0) / setup.batch))


def labels_to_reach(points: NDArray[np.float64], level: float) -> int | None:
    """First label count whose accuracy reaches ``level``; ``points`` (n_rounds, >=2)."""
    reached = np.flatnonzero(points[:, 1] >= level - 1e-12)
    return int(points[reached[0], 0]) if len(reached) else None


def normalised_aulc(points: NDArray[np.float64], full_accuracy: float) -> float:
    """Mean accuracy over the label range (trapezoid area / width), over full accuracy."""
    n, accuracy = points[:, 0], points[:, 1]
    if len(n) < 2 or n[-1] == n[0]:
        return float(accuracy[-1] / full_accuracy)
    area = float(np.sum((accuracy[1:] + accuracy[:-1]) / 2.0 * np.diff(n)))
    return area / float(n[-1] - n[0]) / full_accuracy


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per strategy: labels to 95% / 99% of full accuracy (on the mean curve), mean AULC and
    the paired per-seed AULC difference to random (mean, standard error)."""
    by_name = {r["strategy"]: r for r in results}
    rows = []
    for result in results:
        full = result["full_accuracy"]
        curves = [np.asarray(c["points"], dtype=np.float64) for c in result["curves"]]
        mean_curve = np.mean(np.stack(curves), axis=0)
        aulcs = np.array([normalised_aulc(c, full) for c in curves])
        row: dict[str, Any] = {
            "strategy": result["strategy"],
            "labels_to_95": labels_to_reach(mean_curve, 0.95 * full),
            "labels_to_99": labels_to_reach(mean_curve, 0.99 * full),
            "aulc": float(aulcs.mean()),
            "final_accuracy": float(mean_curve[-1, 1]),
            "budget": int(mean_curve[-1, 0]),
            "gain": None,
            "gain_se": None,
        }
        baseline = by_name.get("random")
        if baseline is not None and result["strategy"] != "random":
            base = np.array(
                [normalised_aulc(np.asarray(c["points"]), full) for c in baseline["curves"]]
            )
            paired = aulcs[: len(base)] - base[: len(aulcs)]
            row["gain"] = float(paired.mean())
            row["gain_se"] = (
                float(paired.std(ddof=1) / np.sqrt(len(paired))) if len(paired) > 1 else None
            )
        rows.append(row)
    return rows


def _verdict(row: dict[str, Any]) -> str:
    if row["gain"] is None:
        return "baseline" if row["strategy"] == "random" else "-"
    se = row["gain_se"]
    if se is None or se == 0.0:
        return f"{row['gain']:+.3f} (1 seed: no test)"
    t = row["gain"] / se
    if t >= 2.0:
        return f"{row['gain']:+.3f} better than random"
    if t <= -2.0:
        return f"{row['gain']:+.3f} WORSE than random"
    return f"{row['gain']:+.3f} no significant gain"


def format_table(rows: list[dict[str, Any]], full_accuracy: float) -> str:
    """The printed summary, with an explicit warning where no strategy beats random."""
    budget = max(r["budget"] for r in rows)

    def labels(value: int | None) -> str:
        return str(value) if value is not None else f">{budget}"

    lines = [
        f"full-data accuracy {full_accuracy:.4f}; 95% = {0.95 * full_accuracy:.4f}, "
        f"99% = {0.99 * full_accuracy:.4f}",
        f"{'strategy':<18}{'to 95%':>8}{'to 99%':>8}{'AULC':>8}{'final':>8}  AULC vs random",
    ]
    for row in rows:
        lines.append(
            f"{row['strategy']:<18}{labels(row['labels_to_95']):>8}{labels(row['labels_to_99']):>8}"
            f"{row['aulc']:>8.3f}{row['final_accuracy']:>8.3f}  {_verdict(row)}"
        )
    contenders = [r for r in rows if r["gain"] is not None]
    significant = [r for r in contenders if r["gain_se"] and r["gain"] / r["gain_se"] >= 2.0]
    if contenders and not significant:
        lines.append(
            "note: no strategy beat random significantly on this data (label noise, very high "
            "dimensions or too few repeats can cause this); do not expect label savings here."
        )
    return "\n".join(lines)


def plot_curves(results: list[dict[str, Any]], path: str | Path, title: str) -> None:
    """Mean ± std accuracy against labels per strategy; random dashed; 95% line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    for result in results:
        curves = np.stack([np.asarray(c["points"], dtype=np.float64) for c in result["curves"]])
        n, mean, std = curves[0, :, 0], curves[:, :, 1].mean(0), curves[:, :, 1].std(0)
        style = "--" if result["strategy"] == "random" else "-"
        axes.plot(n, mean, style, label=result["strategy"])
        axes.fill_between(n, mean - std, mean + std, alpha=0.15)
    full = results[0]["full_accuracy"]
    axes.axhline(full, color="black", linewidth=0.8, label="full data")
    axes.axhline(0.95 * full, color="grey", linewidth=0.8, linestyle=":", label="95% of full")
    axes.set_xlabel("labels")
    axes.set_ylabel("test accuracy")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def simulate(
    train: LabeledData,
    test: LabeledData,
    strategies: list[str],
    setup: SimulationSetup,
    X_train: NDArray[np.float32],
    X_test: NDArray[np.float32],
    *,
    show_progress: bool = True,
    candidates: dict[str, tuple[NDArray[np.float32], NDArray[np.float32]]] | None = None,
) -> list[dict[str, Any]]:
    """Run every strategy ``setup.repeats`` times; returns the JSON-ready result objects.

    ``candidates`` (name -> ``(X_train, X_test)``, the first being ``X_train, X_test``): the
    representations an "auto" image project re-decides between by evidence as labels grow
    (:mod:`learning.switching`); the full-data accuracy is then that of the one the evidence
    picks on the whole pool's labels."""
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    # The matrices of one round are small: one BLAS thread is faster than two fighting.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        full_X_train, full_X_test = X_train, X_test
        if candidates:
            from learning.switching import full_data_choice

            chosen = full_data_choice(
                candidates, train.y, first=next(iter(candidates)), random_state=setup.seed
            )
            full_X_train, full_X_test = candidates[chosen]
        full_model = make_model(setup.model_name, random_state=setup.seed, **setup.model_params)
        full_model.fit(full_X_train, train.y)
        full_accuracy = float(np.mean(full_model.predict(full_X_test) == test.y))
        return _simulate_all(
            train,
            test,
            strategies,
            setup,
            X_train,
            X_test,
            full_accuracy,
            tqdm(
                total=len(strategies) * setup.repeats * _rounds(setup, len(train)),
                disable=not show_progress,
                unit="round",
                file=sys.stderr,
            ),
            candidates,
        )


def _simulate_all(
    train: LabeledData,
    test: LabeledData,
    strategies: list[str],
    setup: SimulationSetup,
    X_train: NDArray[np.float32],
    X_test: NDArray[np.float32],
    full_accuracy: float,
    progress: Any,
    candidates: dict[str, tuple[NDArray[np.float32], NDArray[np.float32]]] | None = None,
) -> list[dict[str, Any]]:
    results = []
    with progress as bar:
        for name in strategies:
            bar.set_description(name)
            curves = []
            for repeat in range(setup.repeats):
                if candidates:
                    curves.append(_switching_repeat(name, candidates, train, test, setup, repeat))
                    bar.update(len(curves[-1]["points"]))
                    continue
                points = run_curve(name, X_train, train.y, X_test, test.y, setup, repeat, bar)
                curves.append({"seed": setup.seed + repeat, "points": points})
            results.append(
                {
                    "dataset": str(train.source),
                    "strategy": name,
                    "full_accuracy": full_accuracy,
                    "curves": curves,
                }
            )
    return results


def _switching_repeat(
    strategy: str,
    candidates: dict[str, tuple[NDArray[np.float32], NDArray[np.float32]]],
    train: LabeledData,
    test: LabeledData,
    setup: SimulationSetup,
    repeat: int,
) -> dict[str, Any]:
    """One repeat of the app's "auto" image loop: the representation re-decided by evidence;
    ``served`` says which one each point's model was trained on."""
    from learning.switching import run_switching_curve

    served: list[tuple[int, str]] = []
    points = run_switching_curve(
        strategy, candidates, train.y, test.y, setup, repeat,
        first=next(iter(candidates)), served=served,
    )  # fmt: skip
    return {"seed": setup.seed + repeat, "points": points, "served": [n for _, n in served]}


def auto_image_candidates(
    train: LabeledData,
    test: LabeledData,
    first: tuple[NDArray[np.float32], NDArray[np.float32], str],
    *,
    image_size: tuple[int, int] | None,
    random_state: int,
) -> dict[str, tuple[NDArray[np.float32], NDArray[np.float32]]] | None:
    """The representations an "auto" image project keeps ready and re-decides between
    (:func:`learning.representations.auto_candidates`), ``first`` (the features "auto"
    resolved to) first; None when there is only the one."""
    from learning.representations import auto_candidates

    names = auto_candidates("image", len(train) + len(test))
    if len(names) < 2 or names[0] != first[2]:
        return None
    candidates = {first[2]: (first[0], first[1])}
    for name in names[1:]:
        X_train, X_test, _ = featurize(
            train, test, name, image_size=image_size, random_state=random_state
        )
        candidates[name] = (X_train, X_test)
    return candidates


def _split(data: LabeledData, test_size: float, seed: int) -> tuple[LabeledData, LabeledData]:
    from sklearn.model_selection import train_test_split

    _, counts = np.unique(data.y, return_counts=True)
    stratify = data.y if counts.min() >= 2 else None
    try:
        train, test = train_test_split(
            np.arange(len(data)), test_size=test_size, stratify=stratify, random_state=seed
        )
    except ValueError as error:
        raise DatasetError(f"{data.source}: cannot hold out a test split ({error})") from None
    return data.subset(np.sort(train)), data.subset(np.sort(test))


DEFAULT_STRATEGIES = "random,margin,default"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m learning.simulate",
        description="Simulate active learning with an oracle on an already-labeled dataset.",
    )
    parser.add_argument(
        "data",
        metavar="DATA",
        help=".csv/.jsonl (text,label), .npz (y and X: (n, d) features, or images (n, h, w) "
        "or (n, h, w, c), simulated as an image project), a folder with one sub-folder of "
        "images per class (or of scans, class/<scan>/<slices>); findings (multi-label): .npz "
        "(X, Y of 1/0/-1, optional classes) or .csv/.jsonl (text,labels with | between)",
    )
    parser.add_argument(
        "--strategies",
        default=DEFAULT_STRATEGIES,
        help=f"comma-separated, from: {', '.join(strategy_names())}; findings data: from "
        "learning.findings.strategies (default random,mean_margin,default)",
    )
    parser.add_argument("--initial", type=int, default=20, help="labels before the first model")
    parser.add_argument("--batch", type=int, default=10, help="labels per round")
    parser.add_argument("--budget", type=int, default=500, help="labels at the end")
    parser.add_argument("--repeats", type=int, default=5, help="seeds per strategy")
    parser.add_argument("--out", help="write the results JSON here")
    parser.add_argument("--plot", help="write the learning-curve PNG here")
    parser.add_argument("--test-size", type=float, default=0.25, help="held-out share")
    parser.add_argument("--test", help="explicit held-out set in the same format as DATA")
    parser.add_argument(
        "--features",
        default="auto",
        help=f"auto (what a new project on DATA uses), {', '.join(representation_names())}, "
        "or raw / spectral for .npz matrices",
    )
    parser.add_argument("--backbone", help="local weights file for --features backbone")
    parser.add_argument(
        "--image-size", help="HxW for pixel-based features; default: as a new project sizes them"
    )
    parser.add_argument(
        "--random-initial",
        action="store_true",
        help="start every strategy from one seeded random set instead of what a new project "
        "labels first (the strategy's own choice without a model)",
    )
    parser.add_argument(
        "--model",
        help=f"one of {', '.join(model_names())}; "
        "default: the model a new project of this modality gets",
    )
    parser.add_argument(
        "--semi-supervised",
        default="off",
        choices=["off", "on", "auto"],
        help="label spreading over the unlabeled pool: off, on, or auto (on where "
        "cross-validation on the labels shows it helps, re-decided as labels grow by 25%%)",
    )
    parser.add_argument(
        "--pooling",
        default="auto",
        choices=["auto", "mean", "meanmax", "attention"],
        help="scan folders (DATA/<class>/<scan>/<slices>): how slice rows become one row per "
        "scan; auto = mean while labels are few, then learned attention (as a scan project)",
    )
    parser.add_argument(
        "--uncertain",
        default="ignore",
        choices=["ignore", "ones", "zeros"],
        help="findings data: how uncertain (-1) answers train (default ignore, as a project)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _validated(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = [s for s in strategies if s not in strategy_names()]
    if not strategies or unknown:
        parser.error(
            f"unknown strategy {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(strategy_names())}"
        )
    for name in ("initial", "batch", "budget", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.budget < args.initial:
        parser.error("--budget must be at least --initial")
    if args.test is None and not 0.0 < args.test_size < 1.0:
        parser.error("--test-size must be between 0 and 1")
    if args.model is not None and args.model not in model_names():
        parser.error(f"unknown model {args.model}; choose from {', '.join(model_names())}")
    return strategies


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    from learning.findings.data import is_findings_file

    if is_findings_file(args.data):
        from learning.findings.simulate import findings_main

        return findings_main(args, parser)
    strategies = _validated(args, parser)
    image_size = None
    if args.image_size:
        try:
            height, width = (int(v) for v in args.image_size.lower().split("x"))
        except ValueError:
            parser.error("--image-size must look like 28x28")
        image_size = (height, width)
    from learning.scan_data import is_scan_folder

    if is_scan_folder(args.data):
        return _main_scans(args, strategies)
    try:
        data = load_labeled(args.data)
        if args.test:
            train, test = data, load_labeled(args.test)
            if test.kind != train.kind:
                raise DatasetError(f"{args.test}: a {test.kind} test set for {train.kind} data")
        else:
            train, test = _split(data, args.test_size, args.seed)
        X_train, X_test, features = featurize(
            train,
            test,
            args.features,
            image_size=image_size,
            backbone=args.backbone,
            random_state=args.seed,
        )
        if X_train.shape[1] != X_test.shape[1]:
            raise DatasetError(
                f"{args.test}: test features have {X_test.shape[1]} columns, "
                f"training features {X_train.shape[1]}"
            )
        candidates = None
        if args.features == "auto" and train.kind == "image" and args.model != "cnn":
            # What an "auto" image project does: the candidates kept ready beside the first
            # choice, re-decided by cross-validation on the labels as they grow.
            candidates = auto_image_candidates(
                train, test, (X_train, X_test, features), image_size=image_size,
                random_state=args.seed,
            )  # fmt: skip
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    modality = "text" if train.kind == "text" else "image"
    model_name = args.model or default_model_name(
        modality, "embeddings" if features == "raw" else features
    )
    model_params = {"image_shape": train.image_shape} if model_name == "cnn" else {}
    if model_name == "cnn" and train.image_shape is None:
        parser.error("--model cnn needs image folders read as pixels")
    setup = SimulationSetup(
        args.initial,
        args.batch,
        args.budget,
        args.repeats,
        args.seed,
        model_name,
        model_params,
        random_initial=args.random_initial,
        semi_supervised=args.semi_supervised,
    )
    print(
        f"{train.source}: {len(train)} pool items, {len(test)} test items, "
        f"{len(np.unique(train.y))} classes; features {features} ({X_train.shape[1]}-d), "
        f"model {model_name}",
        file=sys.stderr,
    )
    if candidates:
        print(
            f"representation re-decided by evidence between {', '.join(candidates)}",
            file=sys.stderr,
        )
    results = simulate(
        train, test, strategies, setup, X_train, X_test, show_progress=not args.no_progress,
        candidates=candidates,
    )  # fmt: skip
    versus_random = versus_random_report(
        results,
        lambda: make_model(setup.model_name, random_state=setup.seed, **setup.model_params),
        X_test,
        test.y,
        rng=np.random.default_rng([setup.seed, 11]),
    )
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    if args.plot:
        plot_curves(results, args.plot, Path(args.data).name)
    print(format_table(summarise(results), results[0]["full_accuracy"]))
    print(versus_random)
    return 0


def _main_scans(args: argparse.Namespace, strategies: list[str]) -> int:
    """A folder of scans (``class/<scan>/<slices>``): a scan-level project's loop."""
    from learning.scan_simulate import simulate_scans

    if args.model == "cnn":
        print("error: --model cnn does not apply to scans (slices are pooled)", file=sys.stderr)
        return 2
    try:
        results = simulate_scans(args, strategies)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    if args.plot:
        plot_curves(results, args.plot, Path(args.data).name)
    print(format_table(summarise(results), results[0]["full_accuracy"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
