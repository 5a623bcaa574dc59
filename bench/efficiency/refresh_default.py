"""Re-summarise a results file with the current default's cached curves (issue 20, session 9).

``python bench/efficiency/refresh_default.py IN.json OUT.json``: every set of IN (a
``bench/label_efficiency.py --results`` file) gets the curves of its runners of the default
strategy ("default pipeline", "default pipeline on raw") that the current default left in the
curve cache (``bench/label_efficiency.py`` computes them; a runner without every seed there
keeps the file's curves, and is named), its rows and issue-20 summary recomputed with the
report's helpers, and the done-when overview and each set's table printed. The other
runners' curves (the libraries', random's) are the file's own: their code did not change.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from efficiency import runners as groups  # noqa: E402
from efficiency.curves import curve_path  # noqa: E402
from efficiency.report import i20_summary, i20_table, overview, summarise  # noqa: E402
from efficiency.runners import Runner  # noqa: E402
from learning.simulate import SimulationSetup  # noqa: E402

KNOWN = {
    runner.label: runner
    for value in vars(groups).values()
    if isinstance(value, list)
    for runner in value
    if isinstance(runner, Runner)
}


def refresh(entry: dict, dataset: str) -> dict:
    runners = []
    for row in entry["rows"]:
        known = KNOWN[row["runner"]]
        runners.append(dataclasses.replace(known, model=row["model"], features=row["features"]))
    full = {(row["model"], row["features"]): row["full_accuracy"] for row in entry["rows"]}
    curves = dict(entry["curves"])
    setup = SimulationSetup(20, 10, entry["budget"], entry["seeds"], 0, "", {})
    stale = []
    for runner in runners:
        if runner.library != "tweezers" or runner.strategy != "default":
            continue
        paths = [curve_path(runner, dataset, setup, seed) for seed in range(entry["seeds"])]
        if all(path.exists() for path in paths):
            curves[runner.label] = [json.loads(path.read_text()) for path in paths]
        else:
            stale.append(runner.label)
    if stale:
        print(f"{dataset}: not in the cache under the current default, kept: {stale}")
    return {
        **entry,
        "curves": curves,
        "rows": summarise(runners, curves, full, entry["budget"]),
        "i20": i20_summary(runners, curves, full, 10),
    }


def main() -> int:
    source, target = (Path(p) for p in sys.argv[1:3])
    report = {d: refresh(e, d) for d, e in json.loads(source.read_text()).items()}
    target.write_text(json.dumps(report, indent=1))
    print(overview(report))
    for dataset, entry in report.items():
        print(f"\n### {dataset}\n\n{i20_table(entry['i20'], entry['budget'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
