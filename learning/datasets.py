"""Reading an already-labeled dataset for the simulator, with clear errors for bad input.

Formats: CSV or JSONL with ``text`` and ``label``; a folder of images in one sub-folder per
class; ``.npz`` holding ``y`` (n,) labels and ``X``, either (n, d) features or images:
(n, h, w) grayscale or (n, h, w, c) with 1, 3 or 4 channels. Any problem raises
:class:`DatasetError` whose message names the file and, where it applies, the row.
"""

from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class DatasetError(ValueError):
    """The dataset cannot be used; the message says which file and row, and why."""


@dataclass
class LabeledData:
    """``kind`` is "text", "image" or "features"; ``items`` holds texts, image paths, or the
    ``(n, d)`` feature matrix; ``y`` ``(n,)`` string or integer labels. ``storage`` keeps
    the folder that images read from an array were written to alive (see :func:`_read_npz`)."""

    kind: str
    items: Any
    y: NDArray[Any]
    source: Path
    image_shape: tuple[int, int] | None = field(default=None)
    storage: Any = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, positions: NDArray[np.int64]) -> LabeledData:
        if self.kind == "features":
            items: Any = self.items[positions]
        else:
            items = [self.items[i] for i in positions]
        return LabeledData(
            self.kind, items, self.y[positions], self.source, self.image_shape, self.storage
        )


def _check_labels(path: Path, y: NDArray[Any]) -> None:
    if len(y) < 2:
        raise DatasetError(f"{path}: needs at least 2 labeled items, found {len(y)}")
    if len(np.unique(y)) < 2:
        raise DatasetError(f"{path}: needs at least 2 different labels, found only {y[0]!r}")


def _text_rows(path: Path, rows: list[tuple[int, dict[str, Any]]], where: str) -> LabeledData:
    texts, labels = [], []
    for number, row in rows:
        for column in ("text", "label"):
            value = row.get(column)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise DatasetError(f"{path} {where} {number}: empty or missing '{column}'")
        if not isinstance(row["text"], str):
            raise DatasetError(f"{path} {where} {number}: 'text' must be a string")
        if not isinstance(row["label"], str | int) or isinstance(row["label"], bool):
            raise DatasetError(f"{path} {where} {number}: 'label' must be a string or integer")
        texts.append(row["text"])
        labels.append(str(row["label"]).strip())
    y = np.asarray(labels)
    _check_labels(path, y)
    return LabeledData("text", texts, y, path)


def _read_csv(path: Path) -> LabeledData:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"text", "label"} - set(reader.fieldnames or [])
            if missing:
                found = ", ".join(reader.fieldnames or []) or "nothing"
                raise DatasetError(
                    f"{path}: missing column(s) {', '.join(sorted(missing))} "
                    f"(header has: {found}); expected a header 'text,label'"
                )
            # Row numbers count the header as line 1, as a spreadsheet shows them.
            rows = [(number, row) for number, row in enumerate(reader, start=2)]
            for number, row in rows:
                if None in row:
                    raise DatasetError(f"{path} row {number}: more fields than the header")
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text ({error.reason})") from None
    except csv.Error as error:
        raise DatasetError(f"{path}: malformed CSV ({error})") from None
    return _text_rows(path, rows, "row")


def _read_jsonl(path: Path) -> LabeledData:
    rows = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise DatasetError(
                        f"{path} line {number}: not valid JSON ({error.msg})"
                    ) from None
                if not isinstance(row, dict):
                    raise DatasetError(f"{path} line {number}: expected an object with text, label")
                rows.append((number, row))
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text ({error.reason})") from None
    return _text_rows(path, rows, "line")


def _read_npz(path: Path) -> LabeledData:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: not a readable .npz archive ({error})") from None
    with archive:
        missing = {"X", "y"} - set(archive.files)
        if missing:
            raise DatasetError(
                f"{path}: missing array(s) {', '.join(sorted(missing))} "
                f"(has: {', '.join(archive.files) or 'nothing'})"
            )
        X, y = archive["X"], archive["y"]
    images = X.ndim == 3 or (X.ndim == 4 and X.shape[3] in (1, 3, 4))
    if not (X.ndim == 2 or images) or y.ndim != 1 or len(X) != len(y):
        raise DatasetError(
            f"{path}: X must be (n, d) features or (n, h, w) / (n, h, w, c) images with c = 1, "
            f"3 or 4, and y 1-D (n,), got X {X.shape} and y {y.shape}"
        )
    if not np.issubdtype(X.dtype, np.number):
        raise DatasetError(f"{path}: X must be numeric, got dtype {X.dtype}")
    bad = np.flatnonzero(~np.isfinite(X.reshape(len(X), -1)).all(axis=1))
    if len(bad):
        raise DatasetError(f"{path} row {int(bad[0])}: X holds NaN or infinity")
    _check_labels(path, y)
    if images:
        return _image_array(path, X, y)
    return LabeledData("features", X.astype(np.float32), y, path)


def _image_bytes(path: Path, X: NDArray[Any]) -> NDArray[np.uint8]:
    """8-bit pixels of an image array: 0..255 values as they are, 0..1 floats scaled."""
    low, high = float(X.min()), float(X.max())
    if np.issubdtype(X.dtype, np.floating) and low >= 0.0 and high <= 1.0:
        return np.rint(X * 255.0).astype(np.uint8)
    if low >= 0.0 and high <= 255.0:
        return np.rint(X).astype(np.uint8)
    raise DatasetError(
        f"{path}: image X must hold values in 0..255 (or 0..1 floats), found {low:g}..{high:g}"
    )


def _image_array(path: Path, X: NDArray[Any], y: NDArray[Any]) -> LabeledData:
    """An array of images as the app would hold it: each image a PNG file (lossless for 8-bit
    pixels), read from there by the same representations, sizes and models as a folder of
    images. The files live in a temporary folder that goes with the last data holding it."""
    from PIL import Image

    pixels = _image_bytes(path, X)
    if pixels.ndim == 4 and pixels.shape[3] == 1:
        pixels = pixels[..., 0]
    storage = tempfile.TemporaryDirectory(prefix="tweezers-npz-images-")
    folder = Path(storage.name)
    files = []
    for position, image in enumerate(pixels):
        file = folder / f"{position:08d}.png"
        Image.fromarray(image).save(file, compress_level=1)
        files.append(file)
    return LabeledData("image", files, y, path, storage=storage)


def _read_image_folder(path: Path) -> LabeledData:
    from PIL import Image, UnidentifiedImageError

    files, labels = [], []
    for folder in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for file in sorted(folder.rglob("*")):
            if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES:
                files.append(file)
                labels.append(folder.name)
    if not files:
        raise DatasetError(
            f"{path}: no images found; expected one sub-folder per class holding image files"
        )
    for file in files:
        try:
            with Image.open(file) as image:
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError) as error:
            raise DatasetError(f"{file}: cannot read image ({error})") from None
    y = np.asarray(labels)
    _check_labels(path, y)
    return LabeledData("image", files, y, path)


def load_labeled(path: str | Path) -> LabeledData:
    """Read a labeled dataset by its form: .csv, .jsonl, .npz, or a folder of class folders."""
    source = Path(path)
    if not source.exists():
        raise DatasetError(f"{source}: no such file or folder")
    if source.is_dir():
        return _read_image_folder(source)
    suffix = source.suffix.lower()
    readers = {".csv": _read_csv, ".jsonl": _read_jsonl, ".ndjson": _read_jsonl, ".npz": _read_npz}
    if suffix not in readers:
        raise DatasetError(
            f"{source}: unknown format {suffix or '(no suffix)'}; expected .csv or .jsonl "
            "(text,label), .npz (X features or images, y) or a folder of class sub-folders of "
            "images"
        )
    return readers[suffix](source)


def _first_image_size(data: LabeledData) -> tuple[int | None, int | None]:
    from PIL import Image

    with Image.open(data.items[0]) as image:
        return image.size


def _resources(backbone: str | Path | None) -> dict[str, str]:
    return {"image_backbone_weights": str(backbone) if backbone else ""}


def project_choices_for(
    train: LabeledData,
    test: LabeledData,
    features: str = "auto",
    *,
    backbone: str | Path | None = None,
):
    """What a new project importing every item of ``train`` and ``test`` would use
    (:class:`learning.project_defaults.NewProjectChoices`), for text and image data."""
    from learning.project_defaults import new_project_choices

    try:
        return new_project_choices(
            train.kind,
            len(train) + len(test),
            features=features,
            first_image_size=_first_image_size(train) if train.kind == "image" else None,
            resources=_resources(backbone),
        )
    except ValueError as problem:
        raise DatasetError(f"{train.source}: --features {features}: {problem}") from None


def featurize(
    train: LabeledData,
    test: LabeledData,
    features: str,
    *,
    image_size: tuple[int, int] | None = None,
    backbone: str | Path | None = None,
    random_state: int = 0,
) -> tuple[NDArray[np.float32], NDArray[np.float32], str]:
    """Feature matrices ``(n_train, d)``, ``(n_test, d)`` and the resolved representation.

    Text and image data go through :mod:`learning.representations` exactly as a new project
    on the same items would: ``features`` "auto" is resolved for the whole file's size
    (:func:`learning.project_defaults.new_project_choices`), a pool-fitted representation is
    fitted on the training and test items together (the app fits on its whole pool), and
    pixel sizes come from the first image unless ``image_size`` (h, w) is given.
    ``.npz`` matrices: "auto"/"raw" use them as they are, "spectral" maps them by
    :class:`learning.features.SpectralFeaturizer`.
    """
    from learning import features as feature_module
    from learning.representations import FeaturizerOptions, get_representation

    if train.kind == "features":
        if features not in {"auto", "raw", "spectral"}:
            raise DatasetError(
                f"{train.source}: --features {features} does not apply to features data "
                "(choose from auto, raw, spectral)"
            )
        if features != "spectral":
            return train.items, test.items, "raw"
        both = feature_module.SpectralFeaturizer(random_state=random_state).fit_transform(
            np.concatenate([train.items, test.items])
        )
        return both[: len(train)], both[len(train) :], "spectral"

    resources = _resources(backbone)
    choices = project_choices_for(train, test, features, backbone=backbone)
    representation = get_representation(choices.representation)
    size = image_size or choices.image_size
    featurizer = representation.featurizer(
        FeaturizerOptions(random_state=random_state, image_size=size, resources=resources)
    )
    raw_train = [str(item) for item in train.items]
    raw_test = [str(item) for item in test.items]
    featurizer.fit(raw_train + raw_test if representation.fitted_on_pool else raw_train)
    if representation.name == "pixels":
        train.image_shape = test.image_shape = size
    return featurizer.transform(raw_train), featurizer.transform(raw_test), representation.name
