"""Query-speed benchmark: one query step of the default strategy over cached embeddings.

For each pool size, in a fresh process: memory-map a float32 ``(n, 384)`` ``.npy`` of cached
embeddings, then time predict + score + select a diverse batch of 20 with the default strategy
(chunked scoring, 50,000 rows per chunk) and a logistic-regression model fitted on 500 labels.
Reports wall seconds (best of ``--repeats``), the peak of numpy/Python heap allocations
(tracemalloc; the memory-mapped file itself is page cache, not heap) and the process's peak
resident size, and checks the query is bit-identical for the same seed.

    .venv/bin/python bench/label_efficiency_speed.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DIMENSION = 384
N_CLASSES = 10


def make_pool(path: Path, n_rows: int, seed: int = 0) -> None:
    """Synthetic 384-d embeddings from 10 overlapping clusters, written in 100,000-row blocks."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(N_CLASSES, DIMENSION)).astype(np.float32)
    pool = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, DIMENSION))
    for start in range(0, n_rows, 100_000):
        stop = min(start + 100_000, n_rows)
        labels = rng.integers(0, N_CLASSES, size=stop - start)
        block = centres[labels] + 1.5 * rng.normal(size=(stop - start, DIMENSION))
        pool[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    pool.flush()
    del pool
    np.save(path.with_suffix(".labels.npy"), centres)


def measure(path: Path, repeats: int) -> dict:
    from learning.models import make_model
    from learning.strategies import get_strategy

    pool = np.load(path, mmap_mode="r")
    centres = np.load(path.with_suffix(".labels.npy"))
    labeled = np.arange(500)
    X_labeled = np.asarray(pool[labeled])
    y_labeled = np.argmax(X_labeled @ centres.T, axis=1)
    model = make_model("logreg_fixed", random_state=0).fit(X_labeled, y_labeled)
    strategy = get_strategy("default")
    times, results = [], []
    tracemalloc.start()
    for _ in range(repeats):
        start = time.perf_counter()
        result = strategy.query(model, pool, 20, rng=np.random.default_rng(42), exclude=labeled)
        times.append(time.perf_counter() - start)
        results.append(result)
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    identical = all(
        np.array_equal(r.positions, results[0].positions)
        and np.array_equal(r.scores, results[0].scores)
        for r in results
    )
    return {
        "n": int(pool.shape[0]),
        "seconds_best": min(times),
        "seconds_all": times,
        "heap_peak_mib": heap_peak / 2**20,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pool_mib": pool.nbytes / 2**20,
        "distinct": int(len(np.unique(results[0].positions))),
        "bit_identical": identical,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default=str(ROOT / "bench" / "output"))
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.repeats)))
        return 0
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for n_rows in args.sizes:
        path = workdir / f"pool-{n_rows}.npy"
        if not path.exists():
            make_pool(path, n_rows)
        # A fresh process per size, so the peak resident size belongs to that size alone.
        completed = subprocess.run(
            [sys.executable, __file__, "--measure", str(path), "--repeats", str(args.repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(completed.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{row['n']:>9,} items: {row['seconds_best']:.2f} s best of {args.repeats} "
            f"({', '.join(f'{t:.2f}' for t in row['seconds_all'])}), heap peak "
            f"{row['heap_peak_mib']:.0f} MiB, max RSS {row['max_rss_mib']:.0f} MiB "
            f"(pool file {row['pool_mib']:.0f} MiB), bit-identical: {row['bit_identical']}"
        )
    (workdir / "query_speed.json").write_text(json.dumps(rows, indent=1))
    if args.write_docs:
        from label_efficiency import replace_section

        command = " ".join(["bench/label_efficiency_speed.py", *sys.argv[1:]])
        replace_section(
            ROOT / "docs" / "benchmarks.md", "## Query speed", docs_section(rows, command)
        )
    return 0


def docs_section(rows: list[dict], command: str) -> str:
    lines = [
        "One query step of the `default` strategy over cached 384-d float32 embeddings in a "
        "memory-mapped `.npy` (what a retrain task does after training): `predict_proba` of a "
        "fitted standardised logistic regression (10 classes, 500 labels) over the whole pool "
        "in chunks of 50,000 rows, margin scores, then a diverse batch of 20 (top 180 "
        "candidates, weighted k-means, 2 random picks). Each size runs in a fresh process; "
        "*seconds* is the best of 3 runs (all three in brackets); *heap peak* is tracemalloc's "
        "peak of numpy and Python allocations during the queries — the bounded part; *max RSS* "
        "also counts the pages of the memory-mapped pool file that were read (page cache, "
        "released under memory pressure) and the imported libraries. Synthetic embeddings "
        "(10 Gaussian clusters, L2-normalised). Targets from issue 3: under 1 s at 100,000 "
        "items, under 10 s at 1,000,000 in bounded memory, bit-identical for a seed. The first "
        "of the three runs pays one-off costs: reading the pool file from disk into the page "
        "cache (1.5 GB at a million rows) and first-call imports; a retrain task that has just "
        "written or read its shards sees the warm figures.",
        "",
        "```",
        f".venv/bin/python {command}",
        "```",
        "",
        "| items | seconds (best of 3) | all runs | heap peak (MiB) | max RSS (MiB) "
        "| pool file (MiB) | bit-identical |",
        "| ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        runs = ", ".join(f"{t:.2f}" for t in row["seconds_all"])
        lines.append(
            f"| {row['n']:,} | {row['seconds_best']:.2f} | {runs} | {row['heap_peak_mib']:.0f} "
            f"| {row['max_rss_mib']:.0f} | {row['pool_mib']:.0f} | {row['bit_identical']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
