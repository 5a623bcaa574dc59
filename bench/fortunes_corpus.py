"""A second real text corpus for the benchmarks: Debian's ``fortunes`` cookies by topic file.

The Debian package ``fortunes`` (fortune-mod's data, 1:1.99.1-7.3 on Debian 12) installs
topic files under ``/usr/share/games/fortunes``; each cookie ends at a line holding ``%``.
The label is the topic file. Eight topics with a clear subject are kept, at most 400
cookies each (a seeded sample), cookies of 20 to 1,000 characters, whitespace joined:

    apt-get install fortunes
    HF_HUB_OFFLINE=1 .venv/bin/python bench/fortunes_corpus.py

writes ``bench/output/fortunes.csv`` (text,label) and its all-MiniLM-L6-v2 embeddings
``bench/output/fortunes.minilm.npy`` (float32, CSV row order). Not committed: the package is
the source.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FORTUNES_DIR = Path("/usr/share/games/fortunes")
TOPICS = ("computers", "politics", "science", "songs-poems", "startrek", "law", "food", "drugs")
PER_TOPIC = 400
CSV_PATH = ROOT / "bench" / "output" / "fortunes.csv"
EMBEDDINGS_PATH = ROOT / "bench" / "output" / "fortunes.minilm.npy"


def read_cookies(path: Path) -> list[str]:
    """The cookies of one fortune file, whitespace-normalised, 20 to 1,000 characters."""
    text = path.read_text(encoding="utf-8", errors="replace")
    cookies = (" ".join(chunk.split()) for chunk in text.split("\n%\n"))
    return [c for c in cookies if 20 <= len(c) <= 1000]


def build_rows(seed: int = 0) -> list[tuple[str, str]]:
    if not FORTUNES_DIR.is_dir():
        raise SystemExit(f"{FORTUNES_DIR} not found: apt-get install fortunes")
    rng = np.random.default_rng(seed)
    rows = []
    for topic in TOPICS:
        cookies = read_cookies(FORTUNES_DIR / topic)
        if len(cookies) > PER_TOPIC:
            cookies = [cookies[i] for i in np.sort(rng.choice(len(cookies), PER_TOPIC, False))]
        rows += [(c, topic) for c in cookies]
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


def load_fortunes() -> tuple[list[str], np.ndarray]:
    """``(texts, labels)`` from the CSV, built first if missing."""
    if not CSV_PATH.exists():
        CSV_PATH.parent.mkdir(parents=True, exist_ok=True)
        with CSV_PATH.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(build_rows())
    with CSV_PATH.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], np.asarray([r["label"] for r in rows])


def fortunes_minilm() -> tuple[np.ndarray, np.ndarray]:
    """``(X (n, 384) float32, y (n,) int)``: MiniLM embeddings, computed once and cached."""
    texts, labels = load_fortunes()
    if not EMBEDDINGS_PATH.exists():
        from learning.features import MiniLMEmbedder

        started = time.perf_counter()
        embeddings = MiniLMEmbedder().transform(texts)
        np.save(EMBEDDINGS_PATH, embeddings)
        print(f"embedded {len(texts)} cookies in {time.perf_counter() - started:.0f} s")
    X = np.load(EMBEDDINGS_PATH).astype(np.float32)
    return X, np.unique(labels, return_inverse=True)[1]


if __name__ == "__main__":
    X, y = fortunes_minilm()
    print(f"{len(y)} cookies, {len(np.unique(y))} topics, embeddings {X.shape}")
    print(dict(zip(*np.unique(load_fortunes()[1], return_counts=True), strict=True)))
