"""``python -m learning.simulate`` on a folder ``class/<scan>/<slices>`` simulates a scan-level
project: one item per scan, PNG or DICOM slices (DICOM in anatomical order), bad folders
refused naming the folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from learning.datasets import DatasetError
from learning.scan_data import is_scan_folder, load_scans
from learning.simulate import main


def _slice(rng: np.random.Generator, *, bright: bool) -> np.ndarray:
    pixels = rng.integers(0, 60, size=(12, 12)).astype(np.uint8)
    if bright:
        pixels[3:9, 3:9] = 230
    return pixels


def png_scans(root: Path, per_class: int = 10, slices: int = 8) -> Path:
    rng = np.random.default_rng(0)
    for label in ("lesion", "clear"):
        for scan in range(per_class):
            folder = root / label / f"scan{scan:02d}"
            folder.mkdir(parents=True)
            bright = set(rng.choice(slices, size=2, replace=False)) if label == "lesion" else set()
            for index in range(slices):
                pixels = _slice(rng, bright=index in bright)
                Image.fromarray(pixels).save(folder / f"slice{index}.png")
    return root


def dicom_slice(path: Path, *, value: int, position: float, number: int) -> None:
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = pydicom.Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = MRImageStorage
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "MR"
    dataset.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    dataset.ImagePositionPatient = [0.0, 0.0, position]
    dataset.InstanceNumber = number
    dataset.Rows = dataset.Columns = 8
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0
    pixels = np.full((8, 8), value, dtype=np.uint16)
    pixels[0, 0] = 0  # a range to scale: the slice's brightness is its value
    dataset.PixelData = pixels.tobytes()
    dataset.save_as(path, enforce_file_format=True)


@pytest.mark.slow
def test_png_scan_folders_simulate_a_scan_project(tmp_path, capsys):
    data = png_scans(tmp_path / "scans")
    assert is_scan_folder(data) and not is_scan_folder(data / "lesion")
    out = tmp_path / "results.json"
    status = main(
        [str(data), "--strategies", "random,default", "--initial", "4", "--batch", "4",
         "--budget", "12", "--repeats", "2", "--out", str(out), "--no-progress"]
    )  # fmt: skip
    assert status == 0
    results = json.loads(out.read_text())
    assert [r["strategy"] for r in results] == ["random", "default"]
    for result in results:
        for curve in result["curves"]:
            assert [p[0] for p in curve["points"]] == [4, 8, 12]
    captured = capsys.readouterr()
    assert "15 pool scans, 5 test scans, 160 slices" in captured.err
    assert "to 95%" in captured.out


def test_dicom_slices_are_read_in_anatomical_order_not_file_order(tmp_path):
    root = tmp_path / "scans"
    rng = np.random.default_rng(1)
    for label in ("a", "b"):
        for scan in range(2):
            folder = root / label / f"s{scan}"
            folder.mkdir(parents=True)
            # File names and instance numbers run against the positions along the normal.
            for order, position in enumerate(rng.permutation(5)):
                dicom_slice(
                    folder / f"IM{order}.dcm",
                    value=100 * (int(position) + 1),
                    position=float(position) * 5.0,
                    number=10 - order,
                )
    scans = load_scans(root)
    assert len(scans) == 4 and list(scans.y) == ["a", "a", "b", "b"]
    for slices in scans.slices:
        brightness = [np.asarray(Image.open(path)).mean() for path in slices]
        assert brightness == sorted(brightness)


def test_a_scan_mixing_pngs_and_dicom_is_refused_naming_its_folder(tmp_path, capsys):
    root = png_scans(tmp_path / "scans", per_class=2, slices=3)
    dicom_slice(root / "clear" / "scan01" / "extra.dcm", value=10, position=0.0, number=1)
    with pytest.raises(DatasetError, match="scan01: mixes image files and DICOM"):
        load_scans(root)
    assert main([str(root), "--no-progress"]) == 2
    assert "clear/scan01: mixes" in capsys.readouterr().err
