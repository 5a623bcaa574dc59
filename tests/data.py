"""Small, seeded data sets the tests make themselves."""

import io
import zipfile

import numpy as np
from PIL import Image


def shade_png(mean: int, seed: int) -> bytes:
    """An 8×8 grayscale PNG around ``mean`` brightness, with seeded noise."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(rng.normal(mean, 25, size=(8, 8)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def shades_zip(n_per_class: int) -> io.BytesIO:
    """Dark and light images; the truth is the file name's prefix (``dark_3.png``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(n_per_class):
            archive.writestr(f"dark_{index}.png", shade_png(50, index))
            archive.writestr(f"light_{index}.png", shade_png(200, 100_000 + index))
    buffer.seek(0)
    return buffer


def marked_png(marked: bool, seed: int) -> bytes:
    """An 8×8 grayscale PNG: one of four seeded high-contrast patterns with noise, whose
    top-left pixel alone, noise-free, says the class (140 marked, 120 not). Raw pixels
    separate the classes by that pixel; a neighbour graph of the images, whose distances the
    patterns and the noise dominate, does not (issue 20: a representation that caps)."""
    patterns = np.random.default_rng(7).choice([30, 220], size=(4, 8, 8))
    rng = np.random.default_rng(seed)
    pixels = patterns[seed % 4] + rng.normal(0, 20, size=(8, 8))
    pixels[0, 0] = 140 if marked else 120
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def marked_zip(n_per_class: int) -> io.BytesIO:
    """Marked and plain images (see ``marked_png``); the truth is the file name's prefix."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(n_per_class):
            archive.writestr(f"marked_{index}.png", marked_png(True, index))
            archive.writestr(f"plain_{index}.png", marked_png(False, 100_000 + index))
    buffer.seek(0)
    return buffer


SPORTS = [
    "match",
    "goal",
    "team",
    "coach",
    "league",
    "season",
    "player",
    "score",
    "referee",
    "stadium",
]
COOKING = [
    "recipe",
    "oven",
    "flour",
    "sugar",
    "simmer",
    "garlic",
    "butter",
    "roast",
    "sauce",
    "dough",
]


def topic_texts(n_per_class: int, *, seed: int = 0, offset: int = 0) -> list[tuple[str, str]]:
    """Short seeded texts about sports or cooking, with their topic."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(offset, offset + n_per_class):
        for topic, words in (("sports", SPORTS), ("cooking", COOKING)):
            picked = " ".join(rng.choice(words, size=6))
            rows.append((f"{topic} note {index}: {picked}", topic))
    return rows


def texts_csv(rows: list[tuple[str, str]], *, with_labels: bool = False) -> io.BytesIO:
    lines = ["text,label" if with_labels else "text"]
    for text, label in rows:
        lines.append(f"{text},{label}" if with_labels else text)
    return io.BytesIO("\n".join(lines).encode())
