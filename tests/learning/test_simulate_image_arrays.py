"""An ``.npz`` whose ``X`` holds images is simulated as an image project: the same choices as
the same images written as a folder (representation, model, strategy, pixel size, features and
first labels); a 2-D ``X`` stays a feature matrix."""

from pathlib import Path

import numpy as np
import pytest

from learning import simulate
from learning.datasets import DatasetError, featurize, load_labeled, project_choices_for
from learning.project_defaults import initial_positions

CLASSES = ("dark", "light")


def _images(shape: tuple[int, ...], n_per_class: int = 20, seed: int = 0):
    """Images of two classes, ``dark`` first (the order a folder of class folders reads in)."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, level in zip(CLASSES, (70, 180), strict=True):
        for _ in range(n_per_class):
            noise = rng.integers(-60, 60, size=shape)
            images.append(np.clip(level + noise, 0, 255).astype(np.uint8))
            labels.append(label)
    return np.stack(images), np.array(labels)


def _as_folder(folder: Path, X: np.ndarray, y: np.ndarray) -> Path:
    from PIL import Image

    for position, (image, label) in enumerate(zip(X, y, strict=True)):
        (folder / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / label / f"{position:03d}.png")
    return folder


def _plan(path: Path, capsys) -> dict:
    """What ``python -m learning.simulate PATH`` resolves (its log line, less the path) and what
    a new project on the whole file would label first."""
    argv = [str(path), "--budget", "24", "--batch", "4", "--initial", "20", "--repeats", "1",
            "--no-progress", "--strategies", "default", "--out", str(path) + ".json"]  # fmt: skip
    assert simulate.main(argv) == 0
    log = capsys.readouterr().err.replace(str(path), "DATA")
    data = load_labeled(path)
    nothing = data.subset(np.arange(0))
    choices = project_choices_for(data, nothing)
    X, _, representation = featurize(data, nothing, "auto")
    first = initial_positions(choices.strategy, X, 10, rng=np.random.default_rng(0))
    curve = Path(str(path) + ".json").read_text().replace(str(path), "DATA")
    return {"log": log, "choices": choices, "X": X, "representation": representation,
            "first": first, "kind": data.kind, "curve": curve}  # fmt: skip


@pytest.mark.parametrize(
    "shape", [(9, 7), (9, 7, 1), (9, 7, 3)], ids=["gray", "one-channel", "rgb"]
)
def test_an_image_array_makes_the_choices_of_the_same_images_as_a_folder(tmp_path, capsys, shape):
    X, y = _images(shape)
    array = tmp_path / "images.npz"
    np.savez(array, X=X, y=y)
    folder = _as_folder(tmp_path / "folder", X[..., 0] if shape[-1] == 1 else X, y)

    from_array, from_folder = _plan(array, capsys), _plan(folder, capsys)

    assert from_array["kind"] == from_folder["kind"] == "image"
    assert from_array["choices"] == from_folder["choices"]
    assert from_array["choices"].image_size == (9, 7)
    assert from_array["representation"] == from_folder["representation"]
    np.testing.assert_array_equal(from_array["X"], from_folder["X"])
    np.testing.assert_array_equal(from_array["first"], from_folder["first"])
    assert from_array["log"] == from_folder["log"]
    assert from_array["curve"] == from_folder["curve"]


def test_float_images_in_0_to_1_read_as_their_8_bit_pixels(tmp_path):
    X, y = _images((6, 6))
    np.savez(tmp_path / "bytes.npz", X=X, y=y)
    np.savez(tmp_path / "floats.npz", X=X.astype(np.float32) / 255.0, y=y)
    nothing = np.arange(0)
    as_bytes, as_floats = (
        load_labeled(tmp_path / "bytes.npz"),
        load_labeled(tmp_path / "floats.npz"),
    )
    X_bytes, _, _ = featurize(as_bytes, as_bytes.subset(nothing), "auto")
    X_floats, _, _ = featurize(as_floats, as_floats.subset(nothing), "auto")
    np.testing.assert_array_equal(X_bytes, X_floats)


def test_a_2d_array_stays_a_feature_matrix(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "rows.npz", X=rng.normal(size=(30, 5)), y=np.repeat([0, 1], 15))
    data = load_labeled(tmp_path / "rows.npz")
    assert data.kind == "features"
    X, _, representation = featurize(data, data.subset(np.arange(0)), "auto")
    assert representation == "raw" and X.shape == (30, 5)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros((4, 3, 3, 2)), "(n, h, w, c) images with c = 1, 3 or 4"),
        (np.full((4, 3, 3), 300.0), "values in 0..255 (or 0..1 floats), found 300..300"),
    ],
    ids=["two-channels", "out-of-range"],
)
def test_an_image_array_that_cannot_be_images_is_rejected_by_name(tmp_path, X, message):
    path = tmp_path / "bad.npz"
    np.savez(path, X=X, y=np.array([0, 1, 0, 1]))
    with pytest.raises(DatasetError) as raised:
        load_labeled(path)
    assert str(path) in str(raised.value) and message in str(raised.value)
