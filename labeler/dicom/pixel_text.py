"""Text burned into the pixels (an ultrasound's hospital name, a patient ID, a date): found by
optical character recognition, then masked or the file refused.

The engine is Tesseract, Debian's ``tesseract-ocr`` (5.3), run as its own command-line program
on the rendition Tweezers made anyway: no Python binding to pin, and the engine's crash or
hang stays in a child process with a deadline. A word counts as text when Tesseract reads it
with at least ``MIN_CONFIDENCE`` and it has at least ``MIN_CHARACTERS`` letters or digits: on
pydicom-data's decodable samples that finds text in exactly the ultrasound images that carry
it (US1 "BAPTIST MED CTR", OBXXXX1A "PHILIPS" and a date, the Aloka and the colour Doppler
ones) and none in the CT, MR, CR, NM and secondary-capture images.

Masking paints the words' boxes (with a margin) in every frame, decodes compressed pixel data
to store it uncompressed, and reads the result again: a file whose rendition still shows text
is refused rather than stored."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
from PIL import Image
from pydicom import Dataset

MIN_CONFIDENCE = 70.0
MIN_CHARACTERS = 3
# Larger renditions are read at this size: burned-in text is tens of pixels tall, and the time
# Tesseract takes grows with the area.
MAX_SIDE = 1600
MARGIN = 4
OCR_SECONDS = 60


class PixelTextUnchecked(RuntimeError):
    """The pixels could not be read for text (no Tesseract, or it failed): the caller refuses
    the file rather than store pixels it has not checked."""


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    width: int
    height: int


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


def _tsv(image: Image.Image) -> str:
    program = tesseract_path()
    if program is None:
        raise PixelTextUnchecked(
            "Tesseract is not installed (Debian's tesseract-ocr), so the pixels cannot be "
            "checked for burned-in text"
        )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    try:
        done = subprocess.run(
            [program, "stdin", "stdout", "--psm", "11", "-l", "eng", "tsv"],
            input=buffer.getvalue(),
            capture_output=True,
            timeout=OCR_SECONDS,
            # One thread: imports run beside the retrains on a few cores.
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise PixelTextUnchecked(
            f"reading the pixels for text took over {OCR_SECONDS} s"
        ) from error
    if done.returncode != 0:
        raise PixelTextUnchecked(f"Tesseract could not read the image (exit {done.returncode})")
    return done.stdout.decode("utf-8", "replace")


def text_boxes(image: Image.Image) -> list[Box]:
    """Boxes of the words read in ``image``, in its own pixel coordinates."""
    gray = image.convert("L")
    scale = min(1.0, MAX_SIDE / max(gray.size))
    if scale < 1.0:
        gray = gray.resize((round(gray.width * scale), round(gray.height * scale)))
    boxes = []
    for line in _tsv(gray).splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) != 12:
            continue
        word, confidence = fields[11].strip(), float(fields[10])
        if confidence < MIN_CONFIDENCE or sum(c.isalnum() for c in word) < MIN_CHARACTERS:
            continue
        left, top, width, height = (int(int(v) / scale) for v in fields[6:10])
        boxes.append(Box(left, top, width + 1, height + 1))
    return boxes


def mask(dataset: Dataset, boxes: list[Box]) -> None:
    """Paint ``boxes`` in every frame of ``dataset``'s pixels and store them uncompressed."""
    pixels = dataset.pixel_array.copy()
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
    # pixel_array gives colour as RGB whatever the stored colour space was.
    if samples == 3:
        photometric = "RGB"
    fill = pixels.max() if photometric == "MONOCHROME1" else pixels.min()
    view = pixels if frames > 1 else pixels[np.newaxis]
    rows, columns = view.shape[1], view.shape[2]
    for box in boxes:
        top, left = max(box.top - MARGIN, 0), max(box.left - MARGIN, 0)
        bottom = min(box.top + box.height + MARGIN, rows)
        right = min(box.left + box.width + MARGIN, columns)
        view[:, top:bottom, left:right] = fill
    dataset.set_pixel_data(pixels, photometric, int(dataset.BitsStored))
