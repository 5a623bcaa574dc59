"""Label-efficiency benchmark: Tweezers' strategies and models against modAL and
scikit-activeml with the same base learner, on scikit-learn's bundled data and the demo corpus.

Protocol (issue 3): a fixed stratified 25% test split, 20 initial labels (a seeded random set
shared by every runner of a seed unless the runner picks its own by cold start), batches of
10, a budget of 500, several seeds. For each runner: the labels its mean learning curve needs
to reach 95% and 99% of the accuracy of the same learner trained on the whole pool, the
normalised area under the learning curve (AULC), and the AULC gain over random with the same
learner (paired over seeds, ± standard error).

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/label_efficiency.py --datasets digits --seeds 5 --write-docs

Results land in bench/output/label_efficiency.json and, with --write-docs, under the
"## Label efficiency" heading of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from efficiency.curves import curve_path, full_accuracy, one_curve  # noqa: E402
from efficiency.datasets import IMAGE_SETS, auto_features, split_features  # noqa: E402
from efficiency.libraries import library_curves_elsewhere, library_worker  # noqa: E402
from efficiency.report import (  # noqa: E402
    I20_HEADING,
    docs_section,
    i20_docs,
    i20_summary,
    i20_table,
    markdown_table,
    overview,
    replace_section,
    summarise,
)
from efficiency.runners import (  # noqa: E402
    CORE,
    I20_CHOICE,
    I20_FINAL,
    I20_MODEL,
    I20_MODEL_DEFAULT,
    I20_SEMI,
    I20_SEMI_EVALUATION,
    LIBRARIES,
    LIBRARIES_AUTO,
    LIBRARIES_CORE,
    LIBRARIES_FINAL,
    LIBRARIES_IMAGE,
    PARITY,
    S8,
    S8_CORE,
    S8_IMAGE,
    S8_VARIANTS,
    S8_VARIANTS_COLD,
    S8_VARIANTS_PICK,
    S8_VARIANTS_STD,
    S9_BASELINES,
    S9_COLD,
    S9_COLD_IMAGE,
    S9_COLD_LARGE,
    S9_COLD_TEXT,
    S9_COVER,
    S9_COVER2,
    S9_COVER3,
    S9_COVER3_IMAGE,
    S9_COVER_CLUTTER,
    S9_COVER_FLAT,
    S9_COVER_FLAT_IMAGE,
    S9_COVER_RAW,
    S9_IMAGE_REST,
    S9_LEARNER,
    TEXT,
    TEXT_CANDIDATES,
    pipelines,
)

from learning.simulate import SimulationSetup  # noqa: E402

__all__ = ["replace_section"]  # other bench scripts import it from here


def main() -> int:
    from joblib import Parallel, delayed

    parser = argparse.ArgumentParser(description="Label-efficiency benchmark (issue 3).")
    parser.add_argument("--datasets", default="digits")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--initial", type=int, default=20)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument(
        "--runners",
        default="parity,pipelines",
        help="parity (all strategies and libraries), core (random, margin, default, the "
        "libraries' margin), text (default against scikit-activeml's batch strategies) "
        "and/or pipelines",
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--results", default="label_efficiency.json")
    parser.add_argument(
        "--scans",
        action="store_true",
        help="run the scan-level section instead (issue 22: a scan is one item, its label "
        "depends on a few of its slices; bench/label_efficiency_scans.py)",
    )
    parser.add_argument(
        "--findings",
        action="store_true",
        help="the findings (multi-label) section instead: bench/label_efficiency_findings.py",
    )
    parser.add_argument(
        "--libraries-python",
        help="the Python of a separate environment with bench/requirements.txt installed: "
        "the library runners run there, on the same cached features and splits",
    )
    parser.add_argument("--library-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="summarise only the runners whose curves a stopped run left on disk",
    )
    parser.add_argument(
        "--i20-docs",
        action="store_true",
        help=f"with --write-docs: write the sets of --results under '{I20_HEADING}'",
    )
    args = parser.parse_args()
    if args.library_worker:
        return library_worker()
    if args.scans:
        return scan_section(args)
    if args.findings:
        from label_efficiency_findings import run

        return run(args)
    output = ROOT / "bench" / "output"
    output.mkdir(parents=True, exist_ok=True)
    results_path = output / args.results
    # Datasets run earlier stay in the report, so datasets can be (re)run one at a time.
    report: dict[str, Any] = json.loads(results_path.read_text()) if results_path.exists() else {}
    for dataset in args.datasets.split(","):
        chosen = args.runners.split(",")
        runners = (
            (PARITY if "parity" in chosen else CORE if "core" in chosen else [])
            + (TEXT if "text" in chosen else [])
            + (TEXT_CANDIDATES if "text_candidates" in chosen else [])
            + (pipelines(dataset) if "pipelines" in chosen else [])
            + (I20_CHOICE if "i20" in chosen else [])
            + (I20_FINAL if "i20_final" in chosen else [])
            + (I20_MODEL if "i20_model" in chosen else [])
            + (I20_MODEL_DEFAULT if "i20_automl" in chosen else [])
            + (I20_SEMI if "i20_semi" in chosen else [])
            + (I20_SEMI_EVALUATION if "i20_semi_evaluation" in chosen else [])
            + (S8 if "s8" in chosen else [])
            + (S8_CORE if "s8_core" in chosen else [])
            + (S8_IMAGE if "s8_image" in chosen else [])
            + (S8_VARIANTS if "s8_variants" in chosen else [])
            + (S8_VARIANTS_PICK if "s8_variants_pick" in chosen else [])
            + (S8_VARIANTS_STD if "s8_variants_std" in chosen else [])
            + (S8_VARIANTS_COLD if "s8_variants_cold" in chosen else [])
            + (S9_COLD if "s9_cold" in chosen else [])
            + (S9_COLD_IMAGE if "s9_cold_image" in chosen else [])
            + (S9_COLD_LARGE if "s9_cold_large" in chosen else [])
            + (S9_COLD_TEXT if "s9_cold_text" in chosen else [])
            + (S9_BASELINES if "s9_baselines" in chosen else [])
            + (LIBRARIES_IMAGE if "libraries_image" in chosen else [])
            + (LIBRARIES_CORE if "libraries_core" in chosen else [])
            + (LIBRARIES if "libraries" in chosen else [])
            + (LIBRARIES_AUTO if "libraries_auto" in chosen else [])
            + (LIBRARIES_FINAL if "libraries_final" in chosen else [])
            + (S9_LEARNER if "s9_learner" in chosen else [])
            + (S9_IMAGE_REST if "s9_image_rest" in chosen else [])
            + (S9_COVER if "s9_cover" in chosen else [])
            + (S9_COVER2 if "s9_cover2" in chosen else [])
            + (S9_COVER3 if "s9_cover3" in chosen else [])
            + (S9_COVER3_IMAGE if "s9_cover3_image" in chosen else [])
            + (S9_COVER_CLUTTER if "s9_cover_clutter" in chosen else [])
            + (S9_COVER_FLAT if "s9_cover_flat" in chosen else [])
            + (S9_COVER_FLAT_IMAGE if "s9_cover_flat_image" in chosen else [])
            + (S9_COVER_RAW if "s9_cover_raw" in chosen else [])
        )  # fmt: skip
        # Groups share runners (modAL margin is in core and in libraries_final): once each.
        runners = list({r.label: r for r in reversed(runners)}.values())[::-1]
        if dataset not in IMAGE_SETS:
            # Text sets are sentence embeddings already: nothing to re-decide.
            runners = [r for r in runners if r.features != "switch"]
        started = time.time()
        n_pool = len(split_features(dataset, "raw")[2])
        auto = auto_features(dataset, n_pool)
        if auto == "raw":
            # "on auto" and "default pipeline on raw" would repeat the raw runners' curves.
            runners = [r for r in runners if not r.label.endswith((" on auto", "pipeline on raw"))]
        runners = [
            dataclasses.replace(r, features=auto) if r.features == "auto" else r for r in runners
        ]
        for features in sorted({r.features for r in runners} - {"switch"} | {auto}):
            split_features(dataset, features)  # once, before the workers read it
        y = np.concatenate(split_features(dataset, "raw")[2:])
        budget = min(args.budget, n_pool)
        setup = SimulationSetup(args.initial, args.batch, budget, args.seeds, 0, "", {})
        elsewhere = [r for r in runners if r.library != "tweezers" and args.libraries_python]
        here = [r for r in runners if r not in elsewhere]
        if args.cached_only:
            # Summarise what finished: runners with every seed's curve on disk.
            runners = [
                r for r in runners
                if all(curve_path(r, dataset, setup, s).exists() for s in range(args.seeds))
            ]  # fmt: skip
            here, elsewhere = runners, []
        jobs = [(runner, seed) for runner in here for seed in range(args.seeds)]
        all_cached = all(
            curve_path(r, dataset, setup, s).exists()
            for r in runners for s in range(args.seeds)
        )  # fmt: skip
        results = Parallel(n_jobs=args.jobs)(
            delayed(one_curve)(runner, dataset, setup, seed) for runner, seed in jobs
        )
        curves: dict[str, list] = {}
        for (runner, _), curve in zip(jobs, results, strict=True):
            curves.setdefault(runner.label, []).append(curve)
        if elsewhere:
            curves.update(
                library_curves_elsewhere(
                    args.libraries_python, elsewhere, dataset, setup, args.jobs
                )
            )
        full = {(r.model, r.features): full_accuracy(r.model, r.features, dataset) for r in runners}
        rows = summarise(runners, curves, full, budget)
        table = markdown_table(rows)
        summary = None
        if "random" in curves and any(r.label.startswith("default pipeline") for r in runners):
            summary = i20_summary(runners, curves, full, args.batch)
            table += "\n\n" + i20_table(summary, budget)
        print(f"\n{dataset}: {len(y)} items, {args.seeds} seeds, {time.time() - started:.0f} s")
        print(table)
        command = " ".join(
            ["bench/label_efficiency.py", "--datasets", dataset, "--seeds", str(args.seeds),
             "--runners", args.runners, "--budget", str(args.budget)]
        )  # fmt: skip
        previous = report.get(dataset, {})
        reuse = all_cached and "load" in previous
        if reuse:
            # A summary of curves computed earlier: the earlier run's time and load stand.
            started = time.time() - previous["seconds"]
        report[dataset] = {
            "rows": rows, "curves": curves, "seeds": args.seeds, "budget": budget,
            "command": command, "seconds": round(time.time() - started), "i20": summary,
            "load": previous["load"] if reuse else os.getloadavg(),
        }  # fmt: skip
        # Written after every dataset, so a long run leaves its finished part behind.
        results_path.write_text(json.dumps(report, indent=1))
        if args.write_docs and args.i20_docs:
            replace_section(ROOT / "docs" / "benchmarks.md", I20_HEADING, i20_docs(report))
        elif args.write_docs:
            replace_section(ROOT / "docs" / "benchmarks.md", "## Label efficiency",
                            docs_section(report))  # fmt: skip
    print("\n" + overview(report))
    return 0


def scan_section(args: argparse.Namespace) -> int:
    """Attention pooling against mean pooling and single slices, default against random."""
    import label_efficiency_scans as scans

    started = time.time()
    budget = min(args.budget, 200)
    report = scans.run(args.seeds, budget, args.jobs)
    output = ROOT / "bench" / "output"
    output.mkdir(parents=True, exist_ok=True)
    (output / "label_efficiency_scans.json").write_text(json.dumps(report, indent=1))
    command = f"bench/label_efficiency.py --scans --seeds {args.seeds} --budget {budget}"
    section = scans.markdown(report, command, time.time() - started)
    print(section)
    if args.write_docs:
        replace_section(
            ROOT / "docs" / "benchmarks.md", "## Label efficiency on scans (issue 22)", section
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
