"""Three findings (multi-label) sets built from offline material, for the benchmarks.

- ``digit_canvases``: 1,500 16×16 canvases of scikit-learn's 8×8 digits in a 2×2 grid, each slot
  empty (40%) or holding a digit drawn with geometric frequencies (digit ``d`` with weight
  0.65^d), so digit 0 is on 58% of the canvases and digit 9 on 2%; the findings are the ten
  digits, present when the digit is on the canvas. Features: the 256 pixels.
- ``digit_canvases_clutter``: the same canvases (another seed) over textured patches of the
  sample photographs with pixel noise, as bench/hard_images.py's cluttered sets.
- ``debtags_minilm``: the demo corpus (``demo_data/debian_packages.csv``, its shipped MiniLM
  embeddings) joined with the Debian tags (debtags) of the same packages, read from the
  ``Tag:`` fields of this machine's apt lists (Debian 12 bookworm ``main``,
  ``/var/lib/apt/lists/*_Packages*``): a row is matched by its section and its short
  description (the text up to the first sentence end); rows whose package carries no tags
  are dropped. The findings are 14 tags from 32% to 2% of the rows.

    .venv/bin/python bench/findings_corpus.py        # prints the sizes and prevalences
"""

from __future__ import annotations

import csv
import functools
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LISTS = Path("/var/lib/apt/lists")
DEBTAGS = (
    "interface::commandline", "interface::graphical", "implemented-in::c", "use::gameplaying",
    "implemented-in::c++", "uitoolkit::qt", "uitoolkit::gtk", "works-with::audio",
    "works-with::text", "works-with::image", "implemented-in::python", "network::server",
    "game::puzzle", "field::biology",
)  # fmt: skip


def digit_canvases(n: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``X`` (n, 256) float32, ``Y`` (n, 10) int8, the finding names."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    weights = 0.65 ** np.arange(10)
    weights /= weights.sum()
    by_digit = [np.flatnonzero(digits.target == d) for d in range(10)]
    X = np.zeros((n, 16, 16), dtype=np.float32)
    Y = np.zeros((n, 10), dtype=np.int8)
    for i in range(n):
        for slot in range(4):
            if rng.random() < 0.4:
                continue
            digit = int(rng.choice(10, p=weights))
            image = digits.images[rng.choice(by_digit[digit])]
            row, column = divmod(slot, 2)
            X[i, row * 8 : row * 8 + 8, column * 8 : column * 8 + 8] = image
            Y[i, digit] = 1
    return X.reshape(n, -1), Y, [f"digit_{d}" for d in range(10)]


def digit_canvases_clutter(
    n: int = 1500, seed: int = 1
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The digit canvases drawn over textured patches of scikit-learn's sample photographs
    with pixel noise (as bench/hard_images.py's cluttered sets): ``X`` (n, 256) in 0..1."""
    from hard_images import _texture_patches

    X, Y, names = digit_canvases(n, seed)
    rng = np.random.default_rng(seed + 100)
    background = _texture_patches(n, 16, rng).reshape(n, -1)
    ink = X / 16.0
    noisy = np.clip(np.maximum(background, ink) + rng.normal(0, 0.08, X.shape), 0, 1)
    return noisy.astype(np.float32), Y, names


def _package_records() -> list[dict[str, str]]:
    records = []
    for path in sorted(LISTS.glob("*_binary-*_Packages*")):
        text = subprocess.run(
            ["/usr/lib/apt/apt-helper", "cat-file", str(path)], check=True, capture_output=True
        ).stdout.decode("utf-8", "replace")
        for stanza in text.split("\n\n"):
            record: dict[str, str] = {}
            key = None
            for line in stanza.split("\n"):
                if line.startswith(" ") and key:
                    record[key] += " " + line.strip()
                elif ":" in line:
                    key, _, value = line.partition(":")
                    record[key] = value.strip()
            if "Description" in record:
                records.append(record)
    return records


@functools.cache
def debtags_minilm() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``X`` (n, 384) float32 MiniLM rows, ``Y`` (n, 14) int8, the tag names."""
    tags_of: dict[tuple[str, str], str] = {}
    for record in _package_records():
        short = " ".join(record["Description"].split())
        section = record.get("Section", "").split("/")[-1]
        tags_of.setdefault((short, section), record.get("Tag", ""))
    if not tags_of:
        raise SystemExit(f"no Packages indexes under {LISTS}: run apt-get update")
    with open(ROOT / "demo_data" / "debian_packages.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    embeddings = np.load(ROOT / "demo_data" / "debian_packages.minilm.npy").astype(np.float32)
    kept, answers = [], []
    for index, row in enumerate(rows):
        text, tags = row["text"], None
        for end in [m.start() for m in re.finditer(r"[.!?] ", text)] + [len(text) - 1]:
            prefix = text[: end + 1]
            for short in (prefix, prefix[:-1]):
                tags = tags_of.get((short, row["label"]))
                if tags is not None:
                    break
            if tags is not None:
                break
        if not tags:
            continue
        present = {t.strip() for t in tags.split(",")}
        kept.append(index)
        answers.append([int(tag in present) for tag in DEBTAGS])
    return embeddings[kept], np.asarray(answers, dtype=np.int8), list(DEBTAGS)


FINDINGS_DATASETS = {
    "digit_canvases": digit_canvases,
    "debtags_minilm": debtags_minilm,
    "digit_canvases_clutter": digit_canvases_clutter,
}


def main() -> int:
    for name, build in FINDINGS_DATASETS.items():
        X, Y, names = build()
        share = ", ".join(f"{n} {p:.1%}" for n, p in zip(names, Y.mean(axis=0), strict=True))
        print(f"{name}: {X.shape[0]} items, {X.shape[1]} features; {share}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
