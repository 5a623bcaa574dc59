"""Text burned into DICOM pixels is found by OCR (Tesseract, started as the real program) and the
file refused or the text masked, per project; a file whose pixels could not be checked is
refused. The test images are real pixel data: pydicom-data's CT slice with a patient's name,
ID and birth date rendered into its pixels, and the ultrasound sample that shows its
hospital's name ("BAPTIST MED CTR")."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from django.core.files.storage import default_storage
from PIL import Image, ImageDraw, ImageFont

from labeler import services
from labeler.dicom import pixel_text
from labeler.dicom.reading import read_dataset
from labeler.dicom.rendering import render
from labeler.dicom.renditions import dicom_name
from labeler.models import Item, Project
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.dicom_data import SAMPLES, identified_ct
from tests.processes import apt_install_missing

BURNED_IN = "SMITH JOHN 19510429"


@pytest.fixture(scope="session")
def tesseract():
    """The real OCR engine, installed from Debian's packages when it is missing."""
    apt_install_missing("tesseract", ["tesseract-ocr", "tesseract-ocr-eng"])
    return pixel_text.tesseract_path()


def ct_with_text(text: str = BURNED_IN) -> tuple[bytes, np.ndarray]:
    """The CT slice with ``text`` drawn into its pixels at the image's brightest value, and
    where the text is (rows × columns, True on the letters)."""
    dataset = pydicom.dcmread(io.BytesIO(identified_ct()))
    pixels = dataset.pixel_array.copy()
    canvas = Image.new("L", (pixels.shape[1], pixels.shape[0]), 0)
    font = ImageFont.load_default(size=24)
    ImageDraw.Draw(canvas).text((20, 20), text, fill=255, font=font)
    letters = np.asarray(canvas) > 127
    pixels[letters] = pixels.max()
    dataset.PixelData = pixels.tobytes()
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    return buffer.getvalue(), letters


def _project(mode: str) -> Project:
    project = ProjectFactory(kind="image", classes=["CT", "US"], created_by=UserFactory())
    services.project_update(project=project, changes={"dicom_pixel_text": mode})
    project.refresh_from_db()
    assert project.dicom_pixel_text == mode
    return project


@pytest.mark.django_db
def test_a_ct_with_a_name_burned_into_its_pixels_is_refused_and_nothing_is_stored(tesseract):
    project = _project("refuse")
    data, _ = ct_with_text()

    report = services.items_import_stream(project=project, name="scan.dcm", stream=io.BytesIO(data))

    assert report.imported == 0
    [rejected] = report.rejected
    assert "text was found burned into the pixels" in rejected["reason"]
    assert not Item.objects.filter(project=project).exists()


@pytest.mark.django_db
def test_a_masking_project_keeps_the_image_with_the_text_painted_over(tesseract):
    project = _project("mask")
    data, letters = ct_with_text()
    clean = services.items_import_stream(
        project=project, name="clean.dcm", stream=io.BytesIO(identified_ct())
    )
    assert clean.imported == 1

    report = services.items_import_stream(project=project, name="scan.dcm", stream=io.BytesIO(data))

    assert report.imported == 1, report.rejected
    item = Item.objects.filter(project=project).latest("id")
    with default_storage.open(dicom_name(item), "rb") as stored:
        dataset = read_dataset(stored.read())
    pixels = dataset.pixel_array
    assert len(np.unique(pixels[letters])) == 1, "every letter's pixel is painted one value"
    assert pixel_text.text_boxes(render(dataset, frame=0)) == []
    with default_storage.open(item.file.name, "rb") as shown:
        assert pixel_text.text_boxes(Image.open(shown)) == []
    # The rest of the slice is the slice: only the text's boxes changed.
    original = pydicom.dcmread(io.BytesIO(data)).pixel_array
    assert (pixels != original).mean() < 0.05


@pytest.mark.django_db
def test_the_ultrasound_that_shows_its_hospitals_name_is_refused(tesseract):
    project = _project("refuse")
    data = (SAMPLES / "US1_UNCR.dcm").read_bytes()

    report = services.items_import_stream(project=project, name="us.dcm", stream=io.BytesIO(data))

    assert report.imported == 0
    assert "burned into the pixels" in report.rejected[0]["reason"]


@pytest.mark.django_db
def test_a_slice_without_text_imports_unchanged(tesseract):
    project = _project("refuse")
    data = identified_ct()

    report = services.items_import_stream(project=project, name="ct.dcm", stream=io.BytesIO(data))

    assert report.imported == 1
    item = Item.objects.get(project=project)
    with default_storage.open(dicom_name(item), "rb") as stored:
        kept = read_dataset(stored.read()).pixel_array
    assert np.array_equal(kept, pydicom.dcmread(io.BytesIO(data)).pixel_array)


@pytest.mark.django_db
def test_without_tesseract_dicom_is_refused_rather_than_stored_unchecked(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract on it
    project = _project("mask")

    report = services.items_import_stream(
        project=project, name="ct.dcm", stream=io.BytesIO(identified_ct())
    )

    assert report.imported == 0
    assert "could not be checked for burned-in text" in report.rejected[0]["reason"]
    assert "Tesseract is not installed" in report.rejected[0]["reason"]


@pytest.mark.django_db
def test_a_project_that_accepts_burned_in_annotation_skips_the_check(tesseract):
    project = _project("refuse")
    services.project_update(project=project, changes={"dicom_allow_burned_in": True})
    project.refresh_from_db()
    data, _ = ct_with_text()

    report = services.items_import_stream(project=project, name="scan.dcm", stream=io.BytesIO(data))

    assert report.imported == 1
