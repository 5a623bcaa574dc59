#!/usr/bin/env python3
"""Build demo_data/debian_debtags.csv: the texts of debian_packages.csv with each package's
Debian tags (debtags) as findings, a multi-label demo for findings projects (issue 21).

Standalone, Python standard library only. Debian's ``Packages`` indexes carry a ``Tag:``
field, the debtags of each package (``interface::commandline, implemented-in::c, ...``). A
row of debian_packages.csv starts with its package's short description (see
make_debian_packages_csv.py), so each row is matched to the package(s) whose short
description it starts with; a row whose matching packages disagree on the chosen tags, or
that matches none, is dropped. The findings are the chosen tags that a package has.

    python3 demo_data/make_debtags_csv.py demo_data/debian_debtags.csv

Rows keep the exact text of debian_packages.csv, so the demo reuses its cached MiniLM
embeddings. Running it twice on the same apt lists gives a byte-identical file.
"""

import argparse
import csv
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_debian_packages_csv import index_order, read_index, records  # noqa: E402

# Chosen for meaning a reader grasps and for prevalence between ~2% and ~60% of the rows.
TAGS = [
    "interface::commandline",
    "interface::x11",
    "interface::text-mode",
    "interface::daemon",
    "implemented-in::c",
    "implemented-in::c++",
    "implemented-in::python",
    "implemented-in::perl",
    "role::shared-lib",
    "use::editing",
    "use::playing",
    "use::viewing",
    "works-with::image",
    "works-with::audio",
    "network::client",
    "network::server",
]


def short_key(short: str) -> str:
    short = re.sub(r"\s+", " ", short).strip()
    if short and short[-1] not in ".!?:":
        short += "."
    return short


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("output")
    ap.add_argument("--texts", default=os.path.join(os.path.dirname(__file__), "debian_packages.csv"))
    ap.add_argument("--lists-dir", default="/var/lib/apt/lists")
    args = ap.parse_args(argv)
    lists = args.lists_dir.rstrip("/") + "/"
    pkg_files = sorted(glob.glob(lists + "*_binary-*_Packages*"), key=index_order)
    tags_by_short: dict[str, set[frozenset]] = {}
    for path in pkg_files:
        for rec in records(read_index(path)):
            if "Description" not in rec:
                continue
            tags = {t.strip() for t in rec.get("Tag", "").replace("\n", " ").split(",")}
            chosen = frozenset(t for t in tags if t in TAGS)
            key = short_key(rec["Description"].split("\n")[0])
            tags_by_short.setdefault(key, set()).add(chosen if rec.get("Tag") else None)
    with open(args.texts, newline="", encoding="utf-8") as fh:
        texts = [row["text"] for row in csv.DictReader(fh)]
    rows, dropped = [], 0
    for text in texts:
        # The short description ends where the text's first sentence of it does.
        candidates = [
            text[: end + 1]
            for end in [m.start() for m in re.finditer(r"[.!?:]", text)][:6]
        ]
        found = next((tags_by_short[c] for c in candidates if c in tags_by_short), None)
        if not found or len(found) != 1 or None in found:
            dropped += 1
            continue
        (chosen,) = found
        rows.append((text, "|".join(t for t in TAGS if t in chosen)))
    with open(args.output, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["text", "labels"])
        writer.writerows(rows)
    print(f"{len(rows)} rows written, {dropped} dropped", file=sys.stderr)
    for tag in TAGS:
        n = sum(1 for _, labels in rows if tag in labels.split("|"))
        print(f"{tag:28s} {n:5d} {100 * n / max(len(rows), 1):5.1f}%", file=sys.stderr)


if __name__ == "__main__":
    main()
