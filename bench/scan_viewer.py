"""Scan viewer: how long a slice change takes once the slice is in the browser's cache
(issue 22, done when the median is at most 50 ms).

Runs the browser test that scrolls a 24-slice MR series in Debian's Chromium against the live
server with a real worker (tests/browser/test_scan_viewer.py); the page times each slice
change itself, from the image swap to the decoded image (performance.now() around
``img.decode()``), and the test leaves the cached changes' timings in test-output/. This
script prints them and writes the "## Scan viewer" section of docs/benchmarks.md.

    DATABASE_URL=... CELERY_BROKER_URL=... .venv/bin/python bench/scan_viewer.py --write-docs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from label_efficiency import replace_section  # noqa: E402

TEST = "tests/browser/test_scan_viewer.py::test_scans_scroll_by_wheel_and_keys_with_presets_evidence_and_keyboard_labels"  # noqa: E501
HEADING = "## Scan viewer: slice change from cache (issue 22)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    timings_file = ROOT / "test-output" / "scan_slice_timings.json"
    timings_file.unlink(missing_ok=True)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", TEST, "-q", "-s", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "1")},
    )
    if completed.returncode != 0 or not timings_file.exists():
        print("the browser test failed: no timings", file=sys.stderr)
        return 1
    cached = json.loads(timings_file.read_text())["cached_ms"]
    median, high = statistics.median(cached), max(cached)
    p90 = statistics.quantiles(cached, n=10)[-1]
    load = os.getloadavg()[0]
    print(f"{len(cached)} slice changes from cache: median {median:.1f} ms, "
          f"90th percentile {p90:.1f} ms, max {high:.1f} ms (load average {load:.1f})")  # fmt: skip
    if args.write_docs:
        body = "\n".join(
            [
                "`tests/browser/test_scan_viewer.py` scrolls a 24-slice MR series (64×64 real "
                "slices from pydicom-data, de-identified on import) at 768×1024 in Debian's "
                "Chromium against the live server, with a real Celery worker. The viewer asks "
                "the server for PNG renditions (cached on disk per preset) and keeps the 12 "
                "slices either side of the shown one decoded, nearest first. Each slice change "
                "is timed in the page, from setting the image's source to its decoded image "
                "(`performance.now()` around `img.decode()`); the test presses ↓ and ↑ 40 times "
                "over slices already fetched. Measured on the shared machine "
                f"(load average {load:.0f} on 2 cores):",
                "",
                "| slice changes from cache | median | 90th percentile | max |",
                "| ---: | ---: | ---: | ---: |",
                f"| {len(cached)} | {median:.1f} ms | {p90:.1f} ms | {high:.1f} ms |",
                "",
                "Reproduce: `.venv/bin/python bench/scan_viewer.py --write-docs` (with "
                "`DATABASE_URL` and `CELERY_BROKER_URL` as for the tests).",
            ]
        )
        replace_section(ROOT / "docs" / "benchmarks.md", HEADING, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
