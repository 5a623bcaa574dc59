"""Variants of the findings default, simulated on the bench's findings sets (issue 21): what
docs/benchmarks.md's "why the first default lost on pixels" table was measured with.

A spec (bench/findings_variants/*.json) names the sets, seeds, budget, batch and the
variants: a registered findings strategy, its ``strategy_params`` (every setting spelled out
for "diverse_centre", the registered "default" of e1–e8, whose settings changed between the
runs: e2–e5 ran against the first default, e6–e8 against the P(present) one with 20% rare
search; s9* vary session 9's default, learning.findings.arms), ``random_init`` (the seed's
shared random first batch instead of the strategy's own), ``scaling`` (the pool-fitted
scaler) and ``cw`` (the class weight). Same splits and ``C`` as bench/label_efficiency.py
--findings; curves are kept under bench/output/findings_variants/.

    nice -n 5 .venv/bin/python bench/findings_variants.py bench/findings_variants/e5.json
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from label_efficiency_findings import FIXED_C, prepared  # noqa: E402

from learning.findings.simulate import (  # noqa: E402
    FindingsSetup,
    full_data_point,
    run_findings_curve,
)
from learning.simulate import labels_to_reach, normalised_aulc  # noqa: E402

CACHE = ROOT / "bench" / "output" / "findings_variants"


def curve(dataset, strategy, params, scaling, cw, seed, budget, batch, random_init) -> list:
    key = (
        f"{dataset}|{strategy}|{json.dumps(params, sort_keys=True)}|{scaling}|{cw}|{seed}|"
        f"{budget}|{batch}|{random_init}"
    )
    path = CACHE / (hashlib.md5(key.encode()).hexdigest() + ".json")
    if path.exists():
        return json.loads(path.read_text())
    from threadpoolctl import threadpool_limits

    X, X_test, Y, Y_test = prepared(dataset)
    setup = FindingsSetup(
        20, batch, budget, 1, 0, C=FIXED_C.get(dataset), pool_scaling=scaling, class_weight=cw
    )
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        points = run_findings_curve(
            strategy, X, Y, X_test, Y_test, setup, seed,
            cold_start_initial=not random_init, strategy_params=params,
        )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(points))
    return points


def full(dataset: str, scaling: bool, cw: str | None) -> tuple[float, float]:
    X, X_test, Y, Y_test = prepared(dataset)
    setup = FindingsSetup(
        20, 20, 100, 1, 0, C=FIXED_C.get(dataset), pool_scaling=scaling, class_weight=cw
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return full_data_point(setup, X, Y, X_test, Y_test)


def main() -> int:
    from joblib import Parallel, delayed

    spec = json.loads(Path(sys.argv[1]).read_text())
    datasets, seeds, budget, batch = spec["datasets"], spec["seeds"], spec["budget"], spec["batch"]
    variants = spec["variants"]
    for v in variants.values():
        v.setdefault("params", {})
        v.setdefault("scaling", False)
        v.setdefault("cw", "balanced")
        v.setdefault("random_init", v["strategy"] == "random")
    jobs = [(d, name, s) for d in datasets for name in variants for s in range(seeds)]
    started = time.time()
    curves = Parallel(n_jobs=spec.get("jobs", 2))(
        delayed(curve)(
            d, variants[n]["strategy"], variants[n]["params"], variants[n]["scaling"],
            variants[n]["cw"], s, budget, batch, variants[n]["random_init"],
        )
        for d, n, s in jobs
    )  # fmt: skip
    got = {job: np.asarray(c) for job, c in zip(jobs, curves, strict=True)}
    print(f"{time.time() - started:.0f} s")
    for d in datasets:
        print(f"\n== {d} (seeds {seeds}, budget {budget}, batch {batch})")
        fulls: dict = {}
        for name, v in variants.items():
            key = (v["scaling"], v["cw"])
            if key not in fulls:
                fulls[key] = full(d, *key)
            full_f1, full_auc = fulls[key]
            base = spec.get("baseline", {}).get(f"{str(v['scaling']).lower()}|{v['cw']}", "random")

            def aulcs(variant: str, dataset: str = d, full_auc: float = full_auc) -> np.ndarray:
                return np.array([normalised_aulc(got[(dataset, variant, s)][:, [0, 2]], full_auc)
                                 for s in range(seeds)])  # fmt: skip

            own, gain = aulcs(name), aulcs(name) - aulcs(base)
            mean = np.mean([got[(d, name, s)] for s in range(seeds)], axis=0)
            print(
                f"{name:<24} AULC {own.mean():.3f}  vs {base}: {gain.mean():+.3f} ± "
                f"{gain.std(ddof=1) / np.sqrt(seeds):.3f}  labels to 95% macro AUC "
                f"{labels_to_reach(mean[:, [0, 2]], 0.95 * full_auc)}, micro-F1 "
                f"{labels_to_reach(mean[:, [0, 1]], 0.95 * full_f1)}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
