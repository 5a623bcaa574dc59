"""Label efficiency of every image representation, on digits and on a 70,000-image pool.

Pools:
- ``digits``: scikit-learn's 1,797 8×8 digits, a stratified 25% test split;
- ``digits70k``: every digit 52 times, each copy moved by a random affine map (rotation
  ±12°, scale 0.9–1.1, shift ±1 px) plus pixel noise; the test set is the copies of 25% of
  the original digits (split by original, so no test image has a sibling in the pool), the
  pool the copies of the rest: 70,044 pool images, 23,400 test images;
- ``digits70k@10k``: a seeded 10,000-image sample of that pool, the same test set — the
  "same data at 10,000 items".

Representations (each fitted without labels on the pool and test images together, as the
app fits on its whole pool): ``raw`` pixels; ``spectral`` (the exact-kNN
:class:`learning.features.SpectralFeaturizer`, only up to 50,000 items); ``landmark
spectral`` (:class:`learning.spectral.LandmarkSpectralFeaturizer`); ``simclr``
(:class:`learning.contrastive.ContrastiveImageEncoder`); and each compact one stacked with the
raw pixels (:class:`learning.contrastive.StackedFeaturizer`). Each featurisation runs in its
own process, so its peak RSS is its own. Runners: the default pipeline (cold-start initial
labels, the ``default`` strategy, cross-validated logistic regression) on every
representation, and random sampling on raw pixels.

    .venv/bin/python bench/image_representations.py --pools digits,digits70k,digits70k@10k \
        --seeds 3 --budget 400 --write-docs
"""

from __future__ import annotations

import argparse
import json
import resource
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

OUTPUT = ROOT / "bench" / "output"
FEATURES = OUTPUT / "image_features"
BASE_REPRESENTATIONS = ("raw", "spectral", "landmark_spectral", "simclr")
STACKED = ("landmark_spectral+raw", "simclr+raw")
EXACT_SPECTRAL_LIMIT = 50_000


def augmented_digits(copies: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """``(X_pool, y_pool, X_test, y_test)`` of moved copies of the digits, split by original."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    images = torch.from_numpy((X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8))
    generator = torch.Generator().manual_seed(seed)
    views = []
    for _ in range(copies):
        n = len(images)
        angle = (torch.rand(n, generator=generator) - 0.5) * (2 * np.pi * 12 / 180)
        scale = 0.9 + 0.2 * torch.rand(n, generator=generator)
        shift = (torch.rand(n, 2, generator=generator) - 0.5) * 0.5
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack(
            [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)],
            1,
        )
        grid = F.affine_grid(theta, [n, 1, 8, 8], align_corners=False)
        moved = F.grid_sample(images, grid, align_corners=False)
        moved = moved + 0.03 * torch.randn(moved.shape, generator=generator)
        views.append(moved.clamp(0, 1).reshape(n, 64).numpy())
    stacked = np.stack(views, axis=1)  # (n_original, copies, 64)
    originals = np.arange(len(y))
    train, test = train_test_split(originals, test_size=0.25, stratify=y, random_state=0)
    X_pool = stacked[train].reshape(-1, 64)
    X_test = stacked[test].reshape(-1, 64)
    y_pool, y_test = np.repeat(y[train], copies), np.repeat(y[test], copies)
    order = np.random.default_rng(seed).permutation(len(y_pool))
    return X_pool[order], y_pool[order], X_test, y_test


def load_pool(name: str) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X_pool, X_test, y_pool, y_test = train_test_split(
            (X / 16.0).astype(np.float32), y, test_size=0.25, stratify=y, random_state=0
        )
        return X_pool, y_pool, X_test, y_test
    if name.startswith("digits70k"):
        X_pool, y_pool, X_test, y_test = augmented_digits(52)
        if name == "digits70k@10k":
            keep = np.sort(np.random.default_rng(1).choice(len(y_pool), 10_000, replace=False))
            X_pool, y_pool = X_pool[keep], y_pool[keep]
        return X_pool.astype(np.float32), y_pool, X_test.astype(np.float32), y_test
    raise SystemExit(f"unknown pool {name}")


def featurizer_for(representation: str, n_items: int, simclr_steps: int) -> Any:
    from learning.contrastive import ContrastiveImageEncoder
    from learning.features import SpectralFeaturizer
    from learning.spectral import LandmarkSpectralFeaturizer

    if representation == "spectral":
        if n_items > EXACT_SPECTRAL_LIMIT:
            return None
        return SpectralFeaturizer(random_state=0)
    if representation == "landmark_spectral":
        return LandmarkSpectralFeaturizer(random_state=0)
    if representation == "simclr":
        return ContrastiveImageEncoder((8, 8), steps=simclr_steps, random_state=0)
    raise SystemExit(f"unknown representation {representation}")


def featurize_in_this_process(pool: str, representation: str, simclr_steps: int) -> int:
    """Child process: fit one representation on the pool + test images, save, report."""
    import torch

    torch.set_num_threads(1)
    X_pool, _, X_test, _ = load_pool(pool)
    both = np.concatenate([X_pool, X_test])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    if representation == "raw":
        features: np.ndarray | None = both
    else:
        featurizer = featurizer_for(representation, len(both), simclr_steps)
        features = None if featurizer is None else featurizer.fit_transform(both)
    seconds = time.perf_counter() - started
    report: dict[str, Any] = {
        "pool": pool,
        "representation": representation,
        "items": int(len(both)),
        "seconds": round(seconds, 1),
        "rss_before_mib": round(before),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "simclr_steps": simclr_steps,
    }
    if features is None:
        report["skipped"] = f"exact spectral stops at {EXACT_SPECTRAL_LIMIT:,} items"
    else:
        FEATURES.mkdir(parents=True, exist_ok=True)
        np.save(FEATURES / f"{pool}-{representation}.npy", features.astype(np.float32))
        report["dimensions"] = int(features.shape[1])
    print(json.dumps(report))
    return 0


def featurize(pool: str, representation: str, simclr_steps: int, reuse: bool) -> dict[str, Any]:
    """Fit one representation in a child process, or (``reuse``) read an earlier fit's report
    saved beside its cache as ``<pool>-<representation>.cost.json`` (the child's stdout)."""
    saved = FEATURES / f"{pool}-{representation}.cost.json"
    if reuse and saved.exists() and saved.read_text().strip():
        cost = json.loads(saved.read_text().strip().splitlines()[-1])
        if representation != "simclr" or cost.get("simclr_steps") == simclr_steps:
            return cost
    result = subprocess.run(
        [sys.executable, __file__, "--featurize", pool, representation,
         "--simclr-steps", str(simclr_steps)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"featurizing {pool} {representation} failed:\n{result.stderr[-3000:]}")
    saved.write_text(result.stdout)
    return json.loads(result.stdout.strip().splitlines()[-1])


def features_of(pool: str, representation: str, n_pool: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pool rows, test rows)`` of a saved representation, stacked ones built from blocks."""
    from learning.contrastive import StackedFeaturizer

    if "+" in representation:
        blocks = [np.load(FEATURES / f"{pool}-{part}.npy") for part in representation.split("+")]
        both = StackedFeaturizer([_Saved(b) for b in blocks]).fit_transform(blocks[0])
    else:
        both = np.load(FEATURES / f"{pool}-{representation}.npy")
    return both[:n_pool], both[n_pool:]


class _Saved:
    """A featurizer whose output was computed earlier for exactly these rows."""

    def __init__(self, features: np.ndarray) -> None:
        self.features = features

    def fit(self, X: Any) -> _Saved:
        return self

    def transform(self, X: Any) -> np.ndarray:
        return self.features


def one_curve(pool: str, representation: str, strategy: str, seed: int, args: Any) -> list:
    from threadpoolctl import threadpool_limits

    from learning.simulate import SimulationSetup, run_curve

    _, y_pool, _, y_test = load_pool_cached(pool)
    X_pool, X_test = features_of(pool, representation, len(y_pool))
    setup = SimulationSetup(args.initial, args.batch, args.budget, args.seeds, 0, "logreg", {})
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_curve(
            strategy, X_pool, y_pool, X_test, y_test, setup, seed,
            cold_start_initial=strategy == "default",
        )  # fmt: skip


_POOLS: dict[str, tuple[np.ndarray, ...]] = {}


def load_pool_cached(pool: str) -> tuple[np.ndarray, ...]:
    if pool not in _POOLS:
        _POOLS[pool] = load_pool(pool)
    return _POOLS[pool]


def full_accuracy(pool: str, representation: str) -> float:
    """Logistic regression on the whole pool; C chosen by 3-fold CV on a 5,000-item sample."""
    from threadpoolctl import threadpool_limits

    from learning.models import make_model

    _, y_pool, _, y_test = load_pool_cached(pool)
    X_pool, X_test = features_of(pool, representation, len(y_pool))
    sample = np.random.default_rng(0).choice(len(y_pool), min(5000, len(y_pool)), replace=False)
    with threadpool_limits(limits=2), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chosen = make_model("logreg", random_state=0).fit(X_pool[sample], y_pool[sample]).C_
        model = make_model("logreg", random_state=0, C=chosen).fit(X_pool, y_pool)
        return float(model.score(X_test, y_test))


def main() -> int:
    from joblib import Parallel, delayed
    from label_efficiency import replace_section

    from learning.simulate import labels_to_reach, normalised_aulc

    parser = argparse.ArgumentParser(description="Image representations (issue 10).")
    parser.add_argument("--pools", default="digits")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--initial", type=int, default=20)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--budget", type=int, default=400)
    parser.add_argument("--simclr-steps", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--representations",
        default=",".join(BASE_REPRESENTATIONS + STACKED),
        help="which representations to run (stacked ones need their parts)",
    )
    parser.add_argument("--featurize", nargs=2, metavar=("POOL", "REPRESENTATION"))
    parser.add_argument(
        "--reuse-features",
        action="store_true",
        help="use the featurisations already cached under bench/output (e.g. run in parallel "
        "with --featurize) instead of fitting them again",
    )
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--results",
        default="image_representations.json",
        help="results file under bench/output (another name keeps a second setting apart)",
    )
    args = parser.parse_args()
    if args.featurize:
        return featurize_in_this_process(*args.featurize, args.simclr_steps)
    results_path = OUTPUT / args.results
    for pool in args.pools.split(","):
        started = time.time()
        wanted = args.representations.split(",")
        # Raw pixels always: the random baseline runs on them.
        bases = [
            r for r in BASE_REPRESENTATIONS if r == "raw" or any(r in w.split("+") for w in wanted)
        ]
        costs = {r: featurize(pool, r, args.simclr_steps, args.reuse_features) for r in bases}
        print(json.dumps(costs, indent=1), flush=True)
        available = [r for r in bases if "skipped" not in costs[r]]
        representations = [w for w in wanted if all(part in available for part in w.split("+"))]
        runners = [("raw", "random")] + [(r, "default") for r in representations]
        jobs = [(r, s, seed) for r, s in runners for seed in range(args.seeds)]
        curves = Parallel(n_jobs=args.jobs)(
            delayed(one_curve)(pool, r, s, seed, args) for r, s, seed in jobs
        )
        by_runner: dict[tuple[str, str], list] = {}
        for (r, s, _), curve in zip(jobs, curves, strict=True):
            by_runner.setdefault((r, s), []).append(curve)
        rows = []
        for (representation, strategy), runner_curves in by_runner.items():
            full = full_accuracy(pool, representation)
            stacked = np.stack([np.asarray(c, dtype=np.float64) for c in runner_curves])
            mean = stacked.mean(axis=0)
            parts = representation.split("+")
            rows.append(
                {
                    "representation": representation,
                    "strategy": strategy,
                    "full_accuracy": full,
                    "labels_to_95": labels_to_reach(mean, 0.95 * full),
                    "labels_to_99": labels_to_reach(mean, 0.99 * full),
                    "labels_to_95_per_seed": [labels_to_reach(c, 0.95 * full) for c in stacked],
                    "accuracy_at_100": float(np.interp(100, mean[:, 0], mean[:, 1])),
                    "final_accuracy": float(mean[-1, 1]),
                    "aulc": float(np.mean([normalised_aulc(c, full) for c in stacked])),
                    "fit_seconds": sum(costs[p]["seconds"] for p in parts),
                    "max_rss_mib": max(costs[p]["max_rss_mib"] for p in parts),
                }
            )
        y_pool = load_pool_cached(pool)[1]
        # Read again just before writing: another run (another pool) may have written since.
        report = json.loads(results_path.read_text()) if results_path.exists() else {}
        report[pool] = {
            "pool_items": int(len(y_pool)),
            "test_items": int(len(load_pool_cached(pool)[3])),
            "seeds": args.seeds,
            "budget": args.budget,
            "batch": args.batch,
            "simclr_steps": args.simclr_steps,
            "costs": costs,
            "rows": rows,
            "seconds": round(time.time() - started),
        }
        results_path.write_text(json.dumps(report, indent=1))
        print(docs_section({pool: report[pool]}), flush=True)
        if args.write_docs:
            replace_section(
                ROOT / "docs" / "benchmarks.md", "## Image representations", docs_section(report)
            )
    return 0


def docs_section(report: dict[str, Any]) -> str:
    def labels(value: int | None, budget: int) -> str:
        return str(value) if value is not None else f">{budget}"

    parts = [
        "Which representation should a new image project learn on? Each representation is "
        "fitted without labels on the pool and test images together; *full acc.* is "
        "logistic regression trained on the whole pool (C chosen by 3-fold CV on a "
        "5,000-item sample); *labels to 95% / 99%* read the mean curve over seeds against "
        "that representation's own full accuracy; *acc. @100* is the mean accuracy after 100 "
        "labels. *default* = the default pipeline (cold-start initial labels, `default` "
        "strategy, cross-validated logistic regression); *random* = random labels, same "
        "model. *Fit* is the featurisation's wall time on 2 shared cores (one torch thread) "
        "and *peak RSS* its process's maximum resident memory, loading the pool included. "
        "20 initial labels, batches of 20. Pools and representations: see "
        "`bench/image_representations.py`.",
        "",
        "```",
        ".venv/bin/python bench/image_representations.py --pools digits,digits70k,"
        "digits70k@10k --seeds 3 --budget 400 --write-docs",
        "```",
    ]
    for pool, entry in report.items():
        budget = entry["budget"]
        parts += [
            "",
            f"### {pool}",
            "",
            f"{entry['pool_items']:,} pool images, {entry['test_items']:,} test images, "
            f"{entry['seeds']} seeds, budget {budget}, SimCLR {entry['simclr_steps']} steps "
            f"of 256 images ({entry['seconds']} s in all).",
            "",
            "| representation | strategy | full acc. | labels to 95% | labels to 99% "
            "| acc. @100 | final acc. | AULC | fit (s) | peak RSS (MiB) |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in entry["rows"]:
            parts.append(
                f"| {row['representation']} | {row['strategy']} | {row['full_accuracy']:.3f} "
                f"| {labels(row['labels_to_95'], budget)} "
                f"| {labels(row['labels_to_99'], budget)} | {row['accuracy_at_100']:.3f} "
                f"| {row['final_accuracy']:.3f} | {row['aulc']:.3f} | {row['fit_seconds']:.0f} "
                f"| {row['max_rss_mib']} |"
            )
        skipped = [c for c in entry["costs"].values() if "skipped" in c]
        for cost in skipped:
            parts += ["", f"*{cost['representation']}*: not run — {cost['skipped']}."]
    return "\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())
