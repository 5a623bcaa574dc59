"""Precompute the demo corpus's all-MiniLM-L6-v2 embeddings (float16, CSV row order).

Embedding 3,176 descriptions takes several minutes on a 2-core CPU; shipping the result lets
`make demo` start the text project at once. Tweezers computes the same embeddings itself for
any other data.

    HF_HUB_OFFLINE=1 .venv/bin/python demo_data/make_minilm_embeddings.py
"""

import csv
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from learning.features import MiniLMEmbedder  # noqa: E402


def main() -> None:
    with (HERE / "debian_packages.csv").open(encoding="utf-8", newline="") as handle:
        texts = [row["text"].strip() for row in csv.DictReader(handle)]
    embeddings = MiniLMEmbedder().transform(texts)
    np.save(HERE / "debian_packages.minilm.npy", embeddings.astype(np.float16))
    print(f"{len(texts)} texts -> {embeddings.shape}")


if __name__ == "__main__":
    main()
