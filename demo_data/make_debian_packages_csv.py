#!/usr/bin/env python3
"""Build demo_data/debian_packages.csv from this machine's apt metadata.

Each row is one Debian binary package: ``text`` is its description (short
description + long description, whitespace-normalised, at most ~1,000
characters) and ``label`` is its archive section (``admin``, ``games``, ...).

Standalone, Python standard library only. It reads the index files that
``apt-get update`` leaves in /var/lib/apt/lists/:

* ``*_Packages*``             -> package name, Source, Section, Description-md5
* ``*_i18n_Translation-en*``  -> the long descriptions, keyed by Description-md5

Debian's Packages files carry only the one-line short description; the long
text lives in the Translation-en files. Docker-derived images usually set
``Acquire::Languages "none"``, so fetch them explicitly first::

    apt-get update -o Acquire::Languages=en
    python3 demo_data/make_debian_packages_csv.py demo_data/debian_packages.csv

Compressed indexes (.lz4/.zst, which the stdlib cannot read) are decompressed
with ``/usr/lib/apt/apt-helper cat-file``; .gz/.xz/.bz2/plain use the stdlib.

Selection (all deterministic, seeded):

1. Drop mechanical variants by name suffix (-dev, -dbg, -dbgsym, -doc,
   -data, -common, -examples, -test(s)) and transitional/dummy packages.
2. Keep one binary per (section, source package): the one named like the
   source, else the shortest name. Sibling binaries of one source share most
   of their description, which would leak near-duplicates across CV folds.
3. Skip texts shorter than 40 characters; drop exact duplicate texts.
4. For each chosen section, shuffle with random.Random(seed) and keep
   ``--per-section`` rows; finally shuffle all rows with the same RNG.
"""

import argparse
import bz2
import csv
import glob
import gzip
import lzma
import os
import random
import re
import subprocess
import sys
from collections import defaultdict

DEFAULT_SECTIONS = ["admin", "devel", "games", "graphics", "net", "science", "sound", "text"]
MECHANICAL = re.compile(r"-(dev|dbg|dbgsym|doc|docs|data|common|examples|tests?)$")
TRANSITIONAL = re.compile(r"\b(transitional|dummy) package\b", re.IGNORECASE)
MIN_CHARS = 40
MAX_CHARS = 1000


def read_index(path):
    """Return the decompressed text of an apt list file."""
    if path.endswith(".gz"):
        data = gzip.open(path).read()
    elif path.endswith(".xz") or path.endswith(".lzma"):
        data = lzma.open(path).read()
    elif path.endswith(".bz2"):
        data = bz2.open(path).read()
    elif path.endswith(".lz4") or path.endswith(".zst"):
        data = subprocess.run(
            ["/usr/lib/apt/apt-helper", "cat-file", path],
            check=True, stdout=subprocess.PIPE,
        ).stdout
    else:
        with open(path, "rb") as fh:
            data = fh.read()
    return data.decode("utf-8", "replace")


def records(text):
    """Parse deb822 stanzas into dicts (continuation lines kept with '\\n')."""
    for stanza in text.split("\n\n"):
        rec, key = {}, None
        for line in stanza.split("\n"):
            if not line:
                continue
            if line[0] in " \t" and key is not None:
                rec[key] += "\n" + line
            else:
                key, _, value = line.partition(":")
                rec[key] = value.strip()
        if rec:
            yield rec


def index_order(path):
    # Base suite first, then -updates / -security / -backports, so that the
    # newer records of a package override the point-release ones.
    name = os.path.basename(path)
    is_update = any(tag in name for tag in ("-updates_", "-security_", "-backports_", "-proposed-updates_"))
    return (is_update, name)


def description_text(raw):
    """Short description + long description as one line of prose."""
    lines = raw.split("\n")
    short = lines[0].strip()
    paragraphs, current = [], []
    for line in lines[1:]:
        if line.strip() == ".":  # paragraph break
            if current:
                paragraphs.append(" ".join(current))
                current = []
        else:
            current.append(line.strip())
    if current:
        paragraphs.append(" ".join(current))
    if short and short[-1] not in ".!?:":
        short += "."
    text = re.sub(r"\s+", " ", " ".join([short] + paragraphs)).strip()
    if len(text) > MAX_CHARS:
        cut = text[: MAX_CHARS - 4]
        cut = cut[: cut.rfind(" ")].rstrip(" ,;:-")
        text = cut + " ..."
    return text


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("output", help="CSV path to write (columns: text,label)")
    ap.add_argument("--lists-dir", default="/var/lib/apt/lists")
    ap.add_argument("--sections", default=",".join(DEFAULT_SECTIONS))
    ap.add_argument("--per-section", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    lists = args.lists_dir.rstrip("/") + "/"
    trans_files = sorted(glob.glob(lists + "*_i18n_Translation-en*"), key=index_order)
    pkg_files = sorted(glob.glob(lists + "*_binary-*_Packages*"), key=index_order)
    pkg_files = [p for p in pkg_files if not p.endswith((".diff_Index", ".IndexDiff"))]
    if not pkg_files:
        sys.exit("no Packages indexes in %s: run `apt-get update` first" % lists)

    long_desc = {}  # Description-md5 -> full description
    for path in trans_files:
        for rec in records(read_index(path)):
            if "Description-md5" in rec and "Description-en" in rec:
                long_desc[rec["Description-md5"]] = rec["Description-en"]

    packages = {}  # name -> record (later indexes override earlier ones)
    for path in pkg_files:
        for rec in records(read_index(path)):
            if "Package" in rec:
                packages[rec["Package"]] = rec

    # Group candidates by (section, source package).
    groups = defaultdict(list)
    missing = 0
    for name, rec in packages.items():
        section = rec.get("Section", "").split("/")[-1]  # strip contrib/, non-free/
        if not section or MECHANICAL.search(name):
            continue
        raw = rec.get("Description", "")
        if "\n" not in raw:  # Packages has only the short line; use Translation-en
            raw = long_desc.get(rec.get("Description-md5"), None)
            if raw is None:
                missing += 1
                continue
        source = rec.get("Source", name).split()[0]
        groups[(section, source)].append((name, raw))
    if missing > len(packages) // 2:
        sys.exit("long descriptions missing for most packages: run "
                 "`apt-get update -o Acquire::Languages=en` first")

    pool, seen = defaultdict(list), set()
    for (section, source), cands in sorted(groups.items()):
        name, raw = min(cands, key=lambda c: (c[0] != source, len(c[0]), c[0]))
        text = description_text(raw)
        if len(text) < MIN_CHARS or TRANSITIONAL.search(text) or text in seen:
            continue
        seen.add(text)
        pool[section].append((name, text))

    rng = random.Random(args.seed)
    rows = []
    for section in args.sections.split(","):
        items = sorted(pool.get(section, []))
        rng.shuffle(items)
        rows += [(text, section) for _, text in items[: args.per_section]]
    rng.shuffle(rows)

    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    with open(args.output, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)

    counts = defaultdict(int)
    for _, label in rows:
        counts[label] += 1
    print("wrote %d rows to %s" % (len(rows), args.output), file=sys.stderr)
    for section in args.sections.split(","):
        print("  %-10s %4d (of %d available)" % (section, counts[section], len(pool.get(section, []))),
              file=sys.stderr)


if __name__ == "__main__":
    main()
