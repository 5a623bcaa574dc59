"""Tables for issue 20, items 3 and 4: AutoML and the unlabeled pool against the fixed model,
from the curves bench/label_efficiency.py wrote (``--runners i20_semi,i20_automl``).

    .venv/bin/python bench/model_choice_report.py bench/output/s8_semisup_a.json ...

Per set: labels to the target (95% of the best full-data accuracy of any runner's learner)
on the mean curve, absolute AULC, the paired per-seed AULC difference to the runner it
changes (``default pipeline`` or ``random``) ± standard error, and the accuracy at the budget.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

BASE = {
    "default pipeline + AutoML": "default pipeline",
    "default pipeline + pool (on)": "default pipeline",
    "default pipeline + pool (gated)": "default pipeline",
    "default pipeline + pool (gated on 50 evaluation answers)": "default pipeline",
    "random + pool (on)": "random",
}


def _aulc(curve: list) -> float:
    points = np.asarray(curve, dtype=np.float64)
    n, accuracy = points[:, 0], points[:, 1]
    return float(np.sum((accuracy[1:] + accuracy[:-1]) / 2 * np.diff(n)) / (n[-1] - n[0]))


def table(name: str, result: dict) -> str:
    summary = result["i20"]
    target = summary["target"]
    lines = [
        f"#### {name}",
        "",
        f"{result['seeds']} seeds, budget {result['budget']}; target 95% of "
        f"{summary['best_full']:.3f} = {target:.3f}; `{result['command']}` "
        f"({result['seconds']} s, load average {result['load'][0]:.1f} at the end).",
        "",
        "| runner | features | labels to target | AULC | AULC vs its base | accuracy at budget |",
        "| --- | --- | ---: | ---: | --- | ---: |",
    ]
    for label, curves in result["curves"].items():
        row = summary["rows"][label]
        aulcs = np.array([_aulc(c) for c in curves])
        versus = "—"
        base = BASE.get(label)
        if base in result["curves"]:
            paired = aulcs - np.array([_aulc(c) for c in result["curves"][base]])
            se = paired.std(ddof=1) / np.sqrt(len(paired)) if len(paired) > 1 else float("nan")
            versus = f"{paired.mean():+.4f} ± {se:.4f} (vs {base})"
        final = np.mean([c[-1][1] for c in curves])
        reached = row["labels_to_target"]
        lines.append(
            f"| {label} | {row['features']} | {reached if reached else '>' + str(result['budget'])}"
            f" | {aulcs.mean():.4f} | {versus} | {final:.3f} |"
        )
    return "\n".join(lines)


def main(paths: list[str]) -> int:
    for path in paths:
        for name, result in json.loads(Path(path).read_text()).items():
            if result.get("i20"):
                print(table(name, result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
