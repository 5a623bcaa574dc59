"""Issue 20, session 9: the default pipeline's cold starts against random on the same
features, per set, from a results file of ``bench/label_efficiency.py --runners s9_cold...``
(``.venv/bin/python bench/efficiency/cold_start_report.py s9_cold10.json``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from efficiency.report import _points, absolute_aulc  # noqa: E402
from learning.simulate import labels_to_reach  # noqa: E402

# 95% of the best full-data accuracy any system reached (docs/benchmarks.md, issue 20's
# done-when table, or the libraries' rerun of session 9), and the best library's labels.
TARGETS = {
    "digits": (0.931, "30 (scikit-activeml TypiClust on auto)"),
    "demo_text_minilm": (0.741, "160 (scikit-activeml TypiClust)"),
    "digits_clutter": (0.628, ">500 (none)"),
    "shapes_clutter": (0.595, ">500 (none)"),
    "digits70k@10k": (0.928, "110 (scikit-activeml TypiClust on auto)"),
    "digits70k": (0.913, "120 (modAL margin on auto; the libraries' session-9 run)"),
    "fortunes_minilm": (0.732, "130 (scikit-activeml TypiClust; the libraries' session-9 run)"),
}


def cold_start_tables(report: dict) -> str:
    parts = []
    for dataset, entry in report.items():
        if dataset not in TARGETS:
            continue
        target, library = TARGETS[dataset]
        curves = entry["curves"]
        baseline = "random on auto" if "random on auto" in curves else "random"
        base = np.array([absolute_aulc(_points(c)) for c in curves[baseline]])
        lines = [
            f"### {dataset}",
            "",
            f"{entry['seeds']} seeds, budget {entry['budget']}, target {target:.3f}; best "
            f"library: {library}; `{entry['command']}` (load average "
            f"{entry['load'][0]:.1f} at the end of the last pass).",
            "",
            f"| runner | labels to target | AULC | vs {baseline} (all seeds) | seeds 0-2 only |",
            "| --- | ---: | ---: | --- | --- |",
        ]
        for name, runs in curves.items():
            stacked = np.stack([_points(c) for c in runs])
            aulcs = np.array([absolute_aulc(c) for c in stacked])
            reached = labels_to_reach(stacked.mean(axis=0), target)
            versus = first = "baseline"
            if name != baseline:
                paired = aulcs - base[: len(aulcs)]
                se = paired.std(ddof=1) / np.sqrt(len(paired))
                versus = f"{paired.mean():+.3f} ± {se:.3f}"
                few = paired[:3]
                first = f"{few.mean():+.3f} ± {few.std(ddof=1) / np.sqrt(len(few)):.3f}"
            lines.append(
                f"| {name} | {reached if reached else '>' + str(entry['budget'])} "
                f"| {aulcs.mean():.3f} | {versus} | {first} |"
            )
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


if __name__ == "__main__":
    print(cold_start_tables(json.loads((ROOT / "bench" / "output" / sys.argv[1]).read_text())))
