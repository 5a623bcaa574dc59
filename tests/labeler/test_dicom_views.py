"""The viewer's server side: windowed renditions (presets, the file's own, a dragged window,
invert, frames), who may see them, and the pages that carry the viewer and the PACS form."""

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from labeler import services
from labeler.models import Item
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.dicom_data import SAMPLES, identified_ct


@pytest.fixture
def project(db):
    project = ProjectFactory(kind="image", classes=["CT", "MR"], created_by=UserFactory())
    services.items_import_stream(project=project, name="ct.dcm", stream=io.BytesIO(identified_ct()))
    data = (SAMPLES / "emri_small.dcm").read_bytes()
    services.items_import_stream(project=project, name="mr.dcm", stream=io.BytesIO(data))
    return project


@pytest.fixture
def manager(project):
    client = Client()
    client.force_login(project.created_by)
    return client


def pixels(response) -> np.ndarray:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


def test_presets_window_the_hounsfield_units_as_radiologists_set_them(project, manager):
    ct = Item.objects.get(project=project, metadata__dicom__modality="CT")
    url = f"/items/{ct.pk}/dicom/render.png"

    lung = pixels(manager.get(url, {"preset": "lung"}))
    bone = pixels(manager.get(url, {"preset": "bone"}))
    brain = pixels(manager.get(url, {"preset": "brain"}))
    own = pixels(manager.get(url))

    assert lung.shape == bone.shape == (512, 512)
    # Brain (80 HU wide) saturates far more of the head than bone (1800 HU wide).
    assert (brain == 255).mean() > (bone == 255).mean()
    assert not np.array_equal(lung, bone)
    # The file's own window is what the item's stored rendition shows.
    with default_storage.open(ct.file.name, "rb") as stored:
        assert np.array_equal(own, np.asarray(Image.open(stored)))


def test_invert_and_a_dragged_window_and_frames(project, manager):
    ct = Item.objects.get(project=project, metadata__dicom__modality="CT")
    mr = Item.objects.get(project=project, metadata__dicom__modality="MR")
    url = f"/items/{ct.pk}/dicom/render.png"

    plain = pixels(manager.get(url, {"preset": "soft_tissue"}))
    inverted = pixels(manager.get(url, {"preset": "soft_tissue", "invert": "1"}))
    dragged = pixels(manager.get(url, {"wc": "40", "ww": "400"}))
    first = pixels(manager.get(f"/items/{mr.pk}/dicom/render.png", {"frame": "0"}))
    last = pixels(manager.get(f"/items/{mr.pk}/dicom/render.png", {"frame": "9"}))

    assert np.array_equal(inverted, 255 - plain)
    assert np.array_equal(dragged, plain)
    assert first.shape == (64, 64) and not np.array_equal(first, last)
    cached = default_storage.listdir(f"renditions/{project.pk}/{ct.pk}")[1]
    # Presets are cached; a dragged window is not (a drag must not fill the disk).
    assert sorted(cached) == ["0-soft_tissue-0.png", "0-soft_tissue-1.png"]


def test_the_viewer_learns_an_items_frames_window_and_presets(project, manager):
    mr = Item.objects.get(project=project, metadata__dicom__modality="MR")

    info = manager.get(f"/items/{mr.pk}/dicom/").json()

    assert info["frames"] == 10 and info["modality"] == "MR" and info["color"] is False
    assert info["presets"]["lung"] == [-600, 1500]
    assert len(info["window"]) == 2


@pytest.mark.parametrize(
    "query, reason",
    [
        ({"frame": "10"}, b"frame must be between 0 and 9"),
        ({"frame": "x"}, b"frame must be a whole number"),
        ({"preset": "liver"}, b"unknown preset"),
        ({"wc": "40", "ww": "0"}, b"ww must be at least 1"),
        ({"wc": "abc", "ww": "10"}, b"must be numbers"),
    ],
)
def test_a_bad_rendition_request_is_a_400_with_its_reason(project, manager, query, reason):
    mr = Item.objects.get(project=project, metadata__dicom__modality="MR")
    response = manager.get(f"/items/{mr.pk}/dicom/render.png", query)
    assert response.status_code == 400 and reason in response.content


def test_outsiders_and_non_dicom_items_get_a_404(project, make_png):
    outsider = Client()
    outsider.force_login(UserFactory())
    ct = Item.objects.get(project=project, metadata__dicom__modality="CT")
    services.items_import_stream(project=project, name="x.png", stream=io.BytesIO(make_png(9)))
    png_item = Item.objects.get(project=project, source_name="x.png")
    member = Client()
    member.force_login(project.created_by)

    assert outsider.get(f"/items/{ct.pk}/dicom/render.png").status_code == 404
    assert outsider.get(f"/items/{ct.pk}/dicom/").status_code == 404
    assert member.get(f"/items/{png_item.pk}/dicom/").status_code == 404
    assert Client().get(f"/items/{ct.pk}/dicom/").status_code == 302


def test_the_labeling_page_carries_the_viewer_only_for_dicom_projects(project, manager, make_png):
    other = ProjectFactory(kind="image", classes=["a"], created_by=project.created_by)
    services.items_import_stream(project=other, name="x.png", stream=io.BytesIO(make_png(3)))

    assert b'id="dicom-viewer"' in manager.get(f"/projects/{project.pk}/label/").content
    assert b'id="dicom-viewer"' not in manager.get(f"/projects/{other.pk}/label/").content
    assert b'id="pacs-import"' in manager.get(f"/projects/{project.pk}/import/").content
