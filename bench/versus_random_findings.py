"""Versus random for findings (issue 21): does the estimate the app cross-fits on its
evaluation set match what random labels really reach? For each findings set of
bench/findings_corpus.py and seed: an evaluation set of ``--evaluation`` random items, a test
set of 400 others, the rest the pool. The estimate at each label count comes from cross-fitting
the evaluation set (macro ROC AUC, a fresh findings model per draw, as
labeler/engine/findings.py does, with a longer time budget so that the machine's load does
not change the figures); the truth is the mean macro AUC on the test set of 10 models each
trained on that many random pool items. The model: the findings classifier with its strength
fixed at 0.1 (its fallback), as the app fixes the run's searched strength.

    .venv/bin/python bench/versus_random_findings.py --evaluation 60 150
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.findings_corpus import debtags_minilm, digit_canvases  # noqa: E402
from learning.findings.metrics import macro_auc  # noqa: E402
from learning.findings.model import FindingsClassifier  # noqa: E402
from learning.versus_random import (  # noqa: E402
    macro_auc_scorer,
    random_label_curve,
    random_label_estimate,
)

COUNTS = (30, 60, 100, 200, 400)
TEST = 400
TRUTH_DRAWS = 10


def make_model() -> FindingsClassifier:
    return FindingsClassifier(C=0.1, random_state=0)


def measure(name, X, Y, n_evaluation: int, seed: int, budget: float) -> list[dict]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(Y))
    evaluation, test, pool = (
        order[:n_evaluation],
        order[n_evaluation : n_evaluation + TEST],
        order[n_evaluation + TEST :],
    )
    started = time.perf_counter()
    curve = random_label_curve(
        make_model, X[evaluation], Y[evaluation], rng=rng, repeats=3, seconds=budget,
        scorer=macro_auc_scorer,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    rows = []
    for n in COUNTS:
        estimate = random_label_estimate(curve, n, n_evaluation=n_evaluation)
        truths = []
        for _ in range(TRUTH_DRAWS):
            drawn = rng.choice(pool, size=n, replace=False)
            model = make_model().fit(X[drawn], Y[drawn])
            truths.append(macro_auc(Y[test], model.predict_proba(X[test])))
        truth = float(np.mean(truths))
        rows.append({
            "set": name, "evaluation": n_evaluation, "seed": seed, "n": n,
            "estimate": estimate.accuracy, "low": estimate.low, "high": estimate.high,
            "method": estimate.method, "truth": truth,
            "inside": estimate.low <= truth <= estimate.high, "cross_fit_s": seconds,
            "draws": min(p.repeats for p in curve), "sizes": len(curve),
        })  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--evaluation", type=int, nargs="+", default=[60, 150])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--seconds", type=float, default=20.0,
        help="the cross-fit's time budget (the app's is 1.0: labeler/engine/versus_random.py)",
    )  # fmt: skip
    args = parser.parse_args()
    sets = {"digit_canvases": digit_canvases(), "debtags_minilm": debtags_minilm()}
    print(
        "| set | evaluation items | labels | estimate [95% interval] | method "
        "| random labels measured | inside (seeds) |"
    )
    print("| --- | ---: | ---: | --- | --- | ---: | ---: |")
    timings = []
    for name, (X, Y, _) in sets.items():
        for n_evaluation in args.evaluation:
            rows = [
                r
                for seed in range(args.seeds)
                for r in measure(name, X, Y, n_evaluation, seed, args.seconds)
            ]
            timings += [
                (r["cross_fit_s"], r["draws"], r["sizes"]) for r in rows if r["n"] == COUNTS[0]
            ]
            for n in COUNTS:
                at = [r for r in rows if r["n"] == n]

                def mean(key, at=at):
                    return np.mean([r[key] for r in at])

                print(
                    f"| {name} | {n_evaluation} | {n} | {mean('estimate'):.3f} "
                    f"[{mean('low'):.3f}, {mean('high'):.3f}] | {at[0]['method']} | "
                    f"{mean('truth'):.3f} | {sum(r['inside'] for r in at)}/{len(at)} |"
                )
    seconds, draws, sizes = (np.array(column) for column in zip(*timings, strict=True))
    print(
        f"\ncross-fit with a {args.seconds} s budget: seconds per estimate median "
        f"{np.median(seconds):.2f}, max {seconds.max():.2f}; draws per size min {draws.min()}, "
        f"sizes measured min {sizes.min()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
