"""Text embedding throughput on this machine, before and after, and what the fast paths cost.

Measures texts/s on the demo corpus (3,176 Debian package descriptions, median ~90 word
pieces) for:

- *before*: :class:`learning.features.MiniLMEmbedder` as the app ran it (max 256 word
  pieces, batches of 64), on a ``--sample`` of the texts;
- *tuned MiniLM*: :class:`learning.text_encoders.FastMiniLMEmbedder` (128 word pieces,
  batches of 32, every core), the same network: its cosine to *before* is reported;
- *static MiniLM*: :class:`learning.text_encoders.StaticMiniLMEmbedder`, distilled from the
  same weights on this machine (distillation time reported once; then cached), on all texts;
- *TF-IDF + SVD*, the existing light option, for reference.

Then the label-efficiency cost of each approximation: the default pipeline (cold start,
``default`` strategy, cross-validated logistic regression) and random labels on the shipped
MiniLM embeddings against the same on the static and TF-IDF features.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/embedding_speed.py --sample 256 --seeds 3 \
        --write-docs
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def demo_texts() -> tuple[list[str], np.ndarray]:
    with open(ROOT / "demo_data" / "debian_packages.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], np.unique([r["label"] for r in rows], return_inverse=True)[1]


def timed(embed: Any, texts: list[str]) -> tuple[np.ndarray, float]:
    embed(texts[:8])  # first-call costs (thread pools, allocator) are not throughput
    started = time.perf_counter()
    out = embed(texts)
    return out, len(texts) / (time.perf_counter() - started)


def curves(X: np.ndarray, y: np.ndarray, seeds: int, budget: int) -> dict[str, Any]:
    from joblib import Parallel, delayed
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    from learning.models import make_model
    from learning.simulate import SimulationSetup, labels_to_reach, normalised_aulc, run_curve

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    setup = SimulationSetup(20, 10, budget, seeds, 0, "logreg", {})

    def one(strategy: str, seed: int) -> list:
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run_curve(
                strategy, X_train, y_train, X_test, y_test, setup, seed,
                cold_start_initial=strategy == "default",
            )  # fmt: skip

    jobs = [(s, seed) for s in ("default", "random") for seed in range(seeds)]
    results = Parallel(n_jobs=2)(delayed(one)(s, seed) for s, seed in jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_model("logreg", random_state=0).fit(X_train, y_train)
        full = float(model.score(X_test, y_test))
    out: dict[str, Any] = {"full_accuracy": full}
    for strategy in ("default", "random"):
        stacked = np.stack(
            [np.asarray(c, float) for (s, _), c in zip(jobs, results, strict=True) if s == strategy]
        )
        mean = stacked.mean(axis=0)
        out[strategy] = {
            "labels_to_95": labels_to_reach(mean, 0.95 * full),
            "accuracy_at_100": float(np.interp(100, mean[:, 0], mean[:, 1])),
            "accuracy_at_budget": float(mean[-1, 1]),
            "aulc_vs_minilm_full": None,
            "mean_curve": mean.tolist(),
            "aulc": float(np.mean([normalised_aulc(c, full) for c in stacked])),
        }
    return out


def main() -> int:
    from label_efficiency import replace_section

    from learning.features import MiniLMEmbedder, TfidfSvdFeaturizer
    from learning.text_encoders import FastMiniLMEmbedder, StaticMiniLMEmbedder

    parser = argparse.ArgumentParser(description="Text embedding speed (issue 10).")
    parser.add_argument("--sample", type=int, default=256)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    texts, y = demo_texts()
    sample = texts[: args.sample]
    speed: dict[str, Any] = {}
    before = MiniLMEmbedder()
    full_sample, speed["before"] = timed(before.transform, sample)
    tuned = FastMiniLMEmbedder()
    tuned_sample, speed["tuned"] = timed(tuned.transform, sample)
    cosine_tuned = float((full_sample * tuned_sample).sum(axis=1).mean())
    static = StaticMiniLMEmbedder()
    started = time.perf_counter()
    static.fit(texts)
    static_fit = time.perf_counter() - started
    static_all, speed["static"] = timed(static.transform, texts)
    started = time.perf_counter()
    tfidf = TfidfSvdFeaturizer(random_state=0).fit(texts)
    tfidf_fit = time.perf_counter() - started
    tfidf_all, speed["tfidf"] = timed(tfidf.transform, texts)
    print(json.dumps(speed), flush=True)
    minilm_all = np.load(ROOT / "demo_data" / "debian_packages.minilm.npy").astype(np.float32)
    efficiency = {
        "minilm": curves(minilm_all, y, args.seeds, args.budget),
        "static": curves(static_all, y, args.seeds, args.budget),
        "tfidf": curves(tfidf_all, y, args.seeds, args.budget),
    }
    report = {
        "speed": speed,
        "sample": args.sample,
        "cosine_tuned_to_before": cosine_tuned,
        "static_fit_seconds": static_fit,
        "tfidf_fit_seconds": tfidf_fit,
        "efficiency": efficiency,
        "seeds": args.seeds,
        "budget": args.budget,
        "load_average": os.getloadavg()[0],
    }
    output = ROOT / "bench" / "output"
    output.mkdir(parents=True, exist_ok=True)
    (output / "embedding_speed.json").write_text(json.dumps(report, indent=1))
    section = docs_section(report)
    print(section)
    if args.write_docs:
        replace_section(ROOT / "docs" / "benchmarks.md", "## Text embedding speed", section)
    return 0


def docs_section(report: dict[str, Any]) -> str:
    speed, eff = report["speed"], report["efficiency"]
    base = speed["before"]

    def labels(value: int | None) -> str:
        return str(value) if value is not None else f">{report['budget']}"

    lines = [
        "Texts per second on the demo corpus (3,176 Debian package descriptions, median ~90 "
        "word pieces, 99th percentile 245) on the 2 shared cores (load average "
        f"{report['load_average']:.1f} while measuring: other engineers' test suites ran), "
        f"CPU torch. *Before* and *tuned* embed the first {report['sample']} texts; static and "
        "TF-IDF embed all of them. Label efficiency: the default pipeline and random labels "
        f"with cross-validated logistic regression, {report['seeds']} seeds, 20 initial "
        f"labels, batches of 10, budget {report['budget']}, a stratified 25% test split.",
        "",
        "```",
        "HF_HUB_OFFLINE=1 .venv/bin/python bench/embedding_speed.py --sample "
        f"{report['sample']} --seeds {report['seeds']} --budget {report['budget']} --write-docs",
        "```",
        "",
        "| embedding | texts/s | × before | note |",
        "| --- | ---: | ---: | --- |",
        f"| MiniLM, before (`MiniLMEmbedder`: 256 word pieces, batches of 64) | {base:.1f} "
        "| 1.0× | the app's embedder until now |",
        f"| MiniLM, tuned (`FastMiniLMEmbedder`: 128 word pieces, batches of 32) "
        f"| {speed['tuned']:.1f} | {speed['tuned'] / base:.1f}× | same network; cosine to "
        f"before {report['cosine_tuned_to_before']:.3f} (texts past 128 word pieces are cut) |",
        f"| static MiniLM (`StaticMiniLMEmbedder`, distilled here) | {speed['static']:.0f} "
        f"| {speed['static'] / base:.0f}× | one-off distillation "
        f"{report['static_fit_seconds']:.0f} s (cached; 0 s when cached) |",
        f"| TF-IDF + SVD (`TfidfSvdFeaturizer`) | {speed['tfidf']:.0f} "
        f"| {speed['tfidf'] / base:.0f}× | fit {report['tfidf_fit_seconds']:.0f} s on the "
        "corpus |",
        "",
        "| features | full acc. | default: labels to 95% | default: acc. @100 | random: acc. "
        "@100 | default: acc. @budget |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, title in (("minilm", "MiniLM"), ("static", "static MiniLM"), ("tfidf", "TF-IDF")):
        e = eff[name]
        lines.append(
            f"| {title} | {e['full_accuracy']:.3f} | {labels(e['default']['labels_to_95'])} "
            f"| {e['default']['accuracy_at_100']:.3f} | {e['random']['accuracy_at_100']:.3f} "
            f"| {e['default']['accuracy_at_budget']:.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
