"""Label efficiency on findings (multi-label) data (issue 21): the findings strategies against
random and modAL's multi-label strategies (``modAL.multilabel``: avg_confidence,
min_confidence, max_score, avg_score), all with the app's findings model
(:class:`learning.findings.model.FindingsClassifier`) on the same splits and seeds.

Protocol: a fixed 25% test split (``random_state=0``), 20 initial labels (each runner's own
choice without a model: the same seeded random set for random, modAL's, the findings default
and the session-8 default, whose cold starts are random; TypiClust's typical items for the
previous default, the first one issue 21 shipped),
batches of 20, a budget of labels per set. Per runner: the labels its mean curve needs to
reach the target, 95% of the full-data macro AUC (and, beside it, of the micro-F1), the AULC
on macro AUC (normalised by the full-data macro AUC), its paired gain over random (± standard
error over seeds) and its labels to target over the best modAL strategy's.

modAL runs in its own environment (``--libraries-python``, bench/requirements.txt) on the
splits this process writes to bench/output/findings_<set>.npz:

    python3.11 -m venv LIBS && LIBS/bin/pip install -r bench/requirements.txt
    nice -n 5 .venv/bin/python bench/label_efficiency.py --findings --seeds 5 --batch 20 \
        --budget 400 --libraries-python LIBS/bin/python --write-docs
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from learning.findings.simulate import (  # noqa: E402
    FindingsSetup,
    curve_point,
    findings_model,
    full_data_point,
    run_findings_curve,
    summarise_findings,
)

# The findings default and the strategies it was chosen over (docs/benchmarks.md), and the
# default as issue 21 first shipped it: TypiClust's first batch, then margin-weighted k-means
# over the raw features of the whole pool (candidate_factor 1000), 20% rare-positive search.
PREVIOUS_DEFAULT = {
    "measure": "mean_margin", "diverse": True, "candidate_factor": 1000,
    "candidate_share": None, "pick": "centroid", "space": "features", "cold_start": "typical",
    "rare_share": 0.2, "min_positives": 5,
}  # fmt: skip
# Both earlier defaults are the registry's "diverse_centre" with other settings, under the name
# their curves were cached with before session 9 made the arms (learning.findings.arms) the
# default.
RUNNER_STRATEGIES = {
    "previous default": ("diverse_centre", {**PREVIOUS_DEFAULT, "name": "default"}),
    "session-8 default": ("diverse_centre", {"name": "default"}),
}
TWEEZERS = ["random", "default", "session-8 default", "previous default"]
MODAL = ["avg_confidence", "min_confidence", "max_score", "avg_score"]
HEADING = "## Label efficiency: findings (issue 21)"
# One strength per set for every runner (the best of 0.01 / 0.1 / 1 at 300 random labels:
# macro AUC 0.846 against 0.833 on the text, 0.843 against 0.831 on the canvases), instead of
# the app's search every time the labels grow by a quarter, which was 85% of a curve's cost
# on the shared 2-core machine.
FIXED_C = {"debtags_minilm": 0.01, "digit_canvases": 0.1, "digit_canvases_clutter": 0.1}
OUTPUT = ROOT / "bench" / "output"


def split_path(dataset: str) -> Path:
    return OUTPUT / f"findings_{dataset}.npz"


def prepared(dataset: str) -> tuple[np.ndarray, ...]:
    """``X_train, X_test, Y_train, Y_test`` of ``dataset``: written once to
    :func:`split_path` so the libraries' environment reads the very same split."""
    path = split_path(dataset)
    if path.exists():
        with np.load(path) as saved:
            return tuple(saved[key] for key in ("X_train", "X_test", "Y_train", "Y_test"))
    from findings_corpus import FINDINGS_DATASETS
    from sklearn.model_selection import train_test_split

    X, Y, _ = FINDINGS_DATASETS[dataset]()
    split = tuple(train_test_split(X, Y, test_size=0.25, random_state=0))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, **dict(zip(("X_train", "X_test", "Y_train", "Y_test"), split, strict=True)))
    partial.replace(path)
    return split


def random_initial(n_pool: int, setup: FindingsSetup, seed: int) -> np.ndarray:
    """The seeded random first labels of a seed (as :func:`run_findings_curve` draws them)."""
    rng = np.random.default_rng([setup.seed, seed, 0])
    return np.sort(rng.choice(n_pool, min(setup.initial, n_pool), replace=False)).astype(np.int64)


def modal_curve(name: str, X, Y, X_test, Y_test, setup: FindingsSetup, seed: int) -> list:
    """modAL's multi-label strategy ``name`` with the findings model, from random labels."""
    import modAL.multilabel

    query = getattr(modAL.multilabel, name)
    labeled = random_initial(len(Y), setup, seed)
    points, model = [], None
    while True:
        fresh = findings_model(setup, setup.seed + seed) if model is None else model.next_round()
        model = fresh.fit(X[labeled], Y[labeled])
        points.append(curve_point(model, X_test, Y_test, len(labeled)))
        if len(labeled) >= setup.budget:
            return points
        unlabeled = np.setdiff1d(np.arange(len(Y)), labeled)
        picked = query(
            model, X[unlabeled], n_instances=min(setup.batch, setup.budget - len(labeled))
        )
        picked = picked[0] if isinstance(picked, tuple) else picked
        labeled = np.concatenate([labeled, unlabeled[np.asarray(picked, dtype=np.int64)]])


def curve_path(runner: str, dataset: str, setup: FindingsSetup, seed: int) -> Path:
    """Where one curve is kept: keyed by everything that decides it (the set, the protocol,
    the seed and, for Tweezers' runners, the strategy's every setting), so a rerun after the
    default changed recomputes the default's curves only."""
    import hashlib

    if runner.startswith("modAL "):
        strategy = runner
    else:
        from learning.findings.strategies import get_findings_strategy

        name, params = RUNNER_STRATEGIES.get(runner, (runner, None))
        strategy = repr(get_findings_strategy(name, **(params or {})))
    key = json.dumps([dataset, repr(setup), seed, strategy])
    return OUTPUT / "findings_curves" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def one_curve(runner: str, dataset: str, setup: FindingsSetup, seed: int) -> list:
    from efficiency.curves import cached_curve

    return cached_curve(
        curve_path(runner, dataset, setup, seed),
        lambda: compute_curve(runner, dataset, setup, seed),
    )


def compute_curve(runner: str, dataset: str, setup: FindingsSetup, seed: int) -> list:
    from threadpoolctl import threadpool_limits

    X_train, X_test, Y_train, Y_test = prepared(dataset)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if runner.startswith("modAL "):
            return modal_curve(runner.split()[1], X_train, Y_train, X_test, Y_test, setup, seed)
        # Every runner's first labels are its own choice without a model (run_findings_curve).
        name, params = RUNNER_STRATEGIES.get(runner, (runner, None))
        return run_findings_curve(name, X_train, Y_train, X_test, Y_test, setup, seed,
                                  strategy_params=params)  # fmt: skip


def modal_curves_elsewhere(
    python: str, runners: list[str], dataset: str, setup: FindingsSetup, jobs: int
) -> list[list]:
    """The modAL runners' curves (runner-major, then seed), computed by ``python`` (the
    libraries' own environment) on the split this process wrote."""
    request = {
        "dataset": dataset,
        "runners": runners,
        "jobs": jobs,
        "setup": [setup.initial, setup.batch, setup.budget, setup.repeats, setup.C],
    }
    done = subprocess.run(
        # Inherits this process's niceness.
        [python, str(Path(__file__).resolve()), "--library-worker"],
        input=json.dumps(request), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def library_worker() -> int:
    """Run in the libraries' environment: read a request on stdin, print the curves."""
    from joblib import Parallel, delayed

    request = json.loads(sys.stdin.read())
    initial, batch, budget, repeats, C = request["setup"]
    setup = FindingsSetup(initial, batch, budget, repeats, 0, C=C)
    jobs = [(runner, seed) for runner in request["runners"] for seed in range(repeats)]
    curves = Parallel(n_jobs=request["jobs"])(
        delayed(one_curve)(runner, request["dataset"], setup, seed) for runner, seed in jobs
    )
    print(json.dumps(curves))
    return 0


def with_modal_ratio(rows: list[dict[str, Any]], batch: int) -> list[dict[str, Any]]:
    """Each row's labels to target (95% macro AUC) over the best modAL strategy's, and
    whether it meets issue 21's bar: a higher AULC than random and at most the best modAL's
    labels to target plus one batch (a runner that never reaches the target within the
    budget counts as needing more than it)."""
    modal = [r["labels_to_95_macro_auc"] for r in rows if r["strategy"].startswith("modAL ")]
    reached = [m for m in modal if m is not None]
    best = min(reached) if reached else None
    budget = max(r["budget"] for r in rows)
    for row in rows:
        own = row["labels_to_95_macro_auc"]
        row["best_modal_labels"] = best
        row["modal_ratio"] = own / best if own is not None and best else None
        limit = (best if best is not None else budget) + batch
        within = own is not None and own <= limit
        row["meets_bar"] = bool(within and row["gain"] is not None and row["gain"] > 0)
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    def labels(value: int | None, budget: int) -> str:
        return str(value) if value is not None else f">{budget}"

    def gain(row: dict[str, Any]) -> str:
        if row["gain"] is None:
            return "baseline"
        verdict = ""
        if row["gain_se"]:
            t = row["gain"] / row["gain_se"]
            verdict = " (better)" if t >= 2 else " (worse)" if t <= -2 else " (n.s.)"
        return f"{row['gain']:+.3f} ± {row['gain_se'] or 0:.3f}{verdict}"

    def ratio(row: dict[str, Any]) -> str:
        return f"{row['modal_ratio']:.2f}" if row.get("modal_ratio") is not None else "—"

    lines = [
        "| strategy | labels to target (95% macro AUC) | labels to 95% micro-F1 "
        "| AULC (macro AUC) | AULC vs random | labels to target / best modAL "
        "| final macro AUC | final micro-F1 |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        budget = row["budget"]
        lines.append(
            f"| {row['strategy']} | {labels(row['labels_to_95_macro_auc'], budget)} "
            f"| {labels(row['labels_to_95_micro_f1'], budget)} | {row['aulc']:.3f} "
            f"| {gain(row)} | {ratio(row)} | {row['final_macro_auc']:.3f} "
            f"| {row['final_micro_f1']:.3f} |"
        )
    return "\n".join(lines)


def verdict(rows: list[dict[str, Any]], batch: int) -> str:
    default = next(r for r in rows if r["strategy"] == "default")
    best = default["best_modal_labels"]
    return (
        f"Issue 21's bar for `default`: AULC vs random {default['gain']:+.3f}, labels to "
        f"target {default['labels_to_95_macro_auc'] or '>' + str(default['budget'])} against "
        f"the best modAL strategy's {best or '>' + str(default['budget'])} plus one batch "
        f"({batch}): **{'met' if default['meets_bar'] else 'not met'}**."
    )


DATASET_NOTES = {
    "digit_canvases": "1,500 16×16 canvases of scikit-learn's digits in a 2×2 grid (a slot "
    "empty 40%, else a digit with weight 0.65^d): 10 findings (the digits), present on 63% "
    "(digit 0) down to 1.8% (digit 9) of the canvases; 256 pixel features.",
    "digit_canvases_clutter": "the digit canvases (another seed) over textured patches of "
    "scikit-learn's sample photographs with pixel noise (bench/hard_images.py's clutter); 256 "
    "pixel features; C 0.1 as on the clean canvases, not searched.",
    "debtags_minilm": "the demo corpus's Debian package descriptions (shipped MiniLM "
    "embeddings) that carry debtags in this machine's bookworm apt lists: 1,899 items, 14 "
    "tags as findings, from 32% (interface::commandline) down to 2.3% (field::biology).",
}


def docs_section(report: dict[str, Any]) -> str:
    parts = [
        __doc__.split("\n\n")[0].replace("\n", " "),
        "",
        " ".join(__doc__.split("\n\n")[1].split()),
        "",
        "Data: `bench/findings_corpus.py` (offline: scikit-learn's digits and sample "
        "photographs; the demo corpus "
        "joined with the `Tag:` fields of `/var/lib/apt/lists/*_Packages*`).",
    ]
    for dataset, entry in report.items():
        parts += [
            "", f"### {dataset}", "",
            f"{DATASET_NOTES[dataset]} Model: `FindingsClassifier(C={FIXED_C[dataset]})` for "
            f"every runner. Full data: micro-F1 {entry['full_micro_f1']:.3f}, "
            f"macro AUC {entry['full_macro_auc']:.3f}. {entry['seeds']} seeds, budget "
            f"{entry['budget']}, batch {entry['batch']}.",
            "", markdown_table(entry["rows"]), "", verdict(entry["rows"], entry["batch"]), "",
            f"`nice -n 5 .venv/bin/python {entry['command']}` ({entry['seconds']} s on the "
            f"shared 2-core machine, load {entry.get('load', '?')})",
        ]  # fmt: skip
    return "\n".join(parts)


def run(args: Any) -> int:
    import os

    from findings_corpus import FINDINGS_DATASETS
    from joblib import Parallel, delayed
    from label_efficiency import replace_section

    OUTPUT.mkdir(parents=True, exist_ok=True)
    results_path = OUTPUT / "label_efficiency_findings.json"
    report: dict[str, Any] = json.loads(results_path.read_text()) if results_path.exists() else {}
    modal = [f"modAL {name}" for name in MODAL]
    datasets = [d for d in args.datasets.split(",") if d in FINDINGS_DATASETS] or list(
        FINDINGS_DATASETS
    )
    for dataset in datasets:
        setup = FindingsSetup(
            args.initial, args.batch, args.budget, args.seeds, 0, C=FIXED_C[dataset]
        )
        started = time.time()
        X_train, X_test, Y_train, Y_test = prepared(dataset)
        here = TWEEZERS + ([] if args.libraries_python else modal)
        jobs = [(runner, seed) for runner in here for seed in range(args.seeds)]
        curves = Parallel(n_jobs=args.jobs)(
            delayed(one_curve)(runner, dataset, setup, seed) for runner, seed in jobs
        )
        if args.libraries_python:
            jobs += [(runner, seed) for runner in modal for seed in range(args.seeds)]
            curves += modal_curves_elsewhere(args.libraries_python, modal, dataset, setup,
                                             args.jobs)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full_micro_f1, full_macro_auc = full_data_point(setup, X_train, Y_train, X_test, Y_test)
        results = [
            {"strategy": runner, "full_micro_f1": full_micro_f1, "full_macro_auc": full_macro_auc,
             "curves": [{"seed": seed, "points": curve}
                        for (r, seed), curve in zip(jobs, curves, strict=True) if r == runner]}
            for runner in TWEEZERS + modal
        ]  # fmt: skip
        rows = with_modal_ratio(summarise_findings(results), args.batch)
        print(f"\n{dataset}: {len(Y_train) + len(Y_test)} items, {time.time() - started:.0f} s")
        print(markdown_table(rows))
        print(verdict(rows, args.batch))
        libraries = " --libraries-python LIBS/bin/python" if args.libraries_python else ""
        report[dataset] = {
            "rows": rows, "results": results, "seeds": args.seeds, "budget": args.budget,
            "batch": args.batch, "full_micro_f1": full_micro_f1, "full_macro_auc": full_macro_auc,
            "seconds": round(time.time() - started), "load": f"{os.getloadavg()[0]:.0f}",
            "command": f"bench/label_efficiency.py --findings --datasets {dataset} --seeds "
            f"{args.seeds} --batch {args.batch} --budget {args.budget}{libraries}",
        }  # fmt: skip
        results_path.write_text(json.dumps(report, indent=1))
        if args.write_docs:
            replace_section(ROOT / "docs" / "benchmarks.md", HEADING, docs_section(report))
    return 0


if __name__ == "__main__" and "--library-worker" in sys.argv:
    sys.exit(library_worker())
