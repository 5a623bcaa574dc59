"""Importing DICOM through the command line, the API and folders: what imports, what is
reported with its reason, and what an item keeps."""

import io
import zipfile
from hashlib import sha256

import pydicom
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from labeler import services
from labeler.dicom.renditions import dicom_name
from labeler.importing import ImportSourceError
from labeler.models import Item
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.dicom_data import SAMPLES, UNDECODABLE, identified_ct, sample_files, samples_zip


@pytest.fixture
def dicom_project(db):
    return ProjectFactory(kind="image", classes=["CT", "MR"], created_by=UserFactory())


@pytest.mark.django_db
@pytest.mark.slow
def test_the_pydicom_data_zip_imports_every_decodable_file_and_reports_the_other(
    dicom_project, tmp_path, capsys
):
    archive = samples_zip(tmp_path / "pydicom-data.zip")
    # Every sample, the ultrasounds with their burned-in text too: this is about decoding
    # (tests/labeler/test_dicom_pixel_text.py is about the text).
    services.project_update(project=dicom_project, changes={"dicom_allow_burned_in": True})

    call_command("import_items", str(dicom_project.pk), str(archive))

    out, err = capsys.readouterr()
    files = sample_files()
    decodable = [f for f in files if f.name not in UNDECODABLE]
    assert f"imported {len(decodable)}, duplicates 0, rejected {len(UNDECODABLE)}" in out
    # Refused files are named by their content's hash, never by their file name.
    refusals = [line for line in err.splitlines() if "no image in this DICOM file" in line]
    assert len(refusals) == len(UNDECODABLE)
    assert all(line.startswith("rejected DICOM file sha256:") for line in refusals)
    assert not any(name in err for name in UNDECODABLE)
    items = Item.objects.filter(project=dicom_project)
    # Named by modality and de-identified instance UID, never by the file's name.
    names = set(items.values_list("source_name", flat=True))
    assert not names & {f.name for f in decodable}
    assert all(name.split(" ")[1].startswith("2.25.") for name in names)
    modalities = {item.metadata["dicom"]["modality"] for item in items}
    assert {"CT", "MR", "US", "CR", "NM", "OT", "SEG"} <= modalities
    syntaxes = {item.metadata["dicom"]["transfer_syntax"] for item in items}
    # Uncompressed, big endian, JPEG baseline and lossless, JPEG-LS, JPEG 2000 and RLE.
    for expected in (
        "Explicit VR Big Endian",
        "JPEG Baseline",
        "JPEG Lossless",
        "JPEG-LS",
        "JPEG 2000",
        "RLE",
    ):
        assert any(expected in syntax for syntax in syntaxes), expected
    assert max(item.metadata["dicom"]["frames"] for item in items) == 120
    # Every item is an ordinary image item (a PNG rendition) with its de-identified file beside.
    for item in items:
        assert item.file.name.endswith(".png")
        with default_storage.open(dicom_name(item), "rb") as stored:
            assert pydicom.dcmread(stored).PatientIdentityRemoved == "YES"


@pytest.mark.django_db
def test_dicom_without_an_extension_is_recognised_by_its_marker_and_class_folders_prelabel(
    dicom_project, tmp_path
):
    (tmp_path / "scans" / "CT").mkdir(parents=True)
    (tmp_path / "scans" / "CT" / "IM000001").write_bytes(identified_ct())
    (tmp_path / "scans" / "MR").mkdir()
    (tmp_path / "scans" / "MR" / "1.2.3.4").write_bytes((SAMPLES / "emri_small.dcm").read_bytes())
    (tmp_path / "scans" / "notes.txt").write_text("not a scan")

    report = services.items_import_path(project=dicom_project, path=tmp_path / "scans")

    assert report.imported == 2
    assert [r["name"] for r in report.rejected] == ["notes.txt"]
    labels = dict(Item.objects.values_list("metadata__dicom__modality", "label__name"))
    assert labels == {"CT": "CT", "MR": "MR"}


@pytest.mark.django_db
def test_the_same_file_imported_again_is_a_duplicate(dicom_project):
    data = identified_ct()
    first = services.items_import_stream(
        project=dicom_project, name="a.dcm", stream=io.BytesIO(data)
    )
    again = services.items_import_stream(
        project=dicom_project, name="b.dcm", stream=io.BytesIO(data)
    )

    assert (first.imported, again.imported, again.duplicates) == (1, 0, 1)


@pytest.mark.django_db
def test_the_api_imports_a_dicom_zip_and_reports_refusals(dicom_project, tmp_path):
    from rest_framework.test import APIClient

    flagged_slice = identified_ct(burned_in="YES")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("CT/slice.dcm", identified_ct())
        archive.writestr("flagged/slice", flagged_slice)
        archive.writestr("broken.dcm", b"DICM but not really")
    buffer.seek(0)
    buffer.name = "study.zip"
    client = APIClient()
    client.force_authenticate(dicom_project.created_by)

    response = client.post(
        f"/api/projects/{dicom_project.pk}/items/", {"file": buffer}, format="multipart"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["imported"] == 1
    # DICOM refusals are named by the file's checksum, never by its (or its folder's) name.
    reasons = {row["name"]: row["reason"] for row in body["rejected"]}
    flagged = f"DICOM file sha256:{sha256(flagged_slice).hexdigest()[:12]}"
    broken = f"DICOM file sha256:{sha256(b'DICM but not really').hexdigest()[:12]}"
    assert "burned-in annotation" in reasons[flagged]
    assert "not a readable DICOM file" in reasons[broken] or "no image" in reasons[broken]
    item = Item.objects.get(project=dicom_project)
    detail = client.get(f"/api/projects/{dicom_project.pk}/items/{item.pk}/").json()
    assert detail["metadata"]["dicom"]["modality"] == "CT"
    assert detail["metadata"]["dicom"]["study_uid"].startswith("2.25.")


@pytest.mark.django_db
def test_a_text_project_refuses_dicom_with_a_reason(db):
    project = ProjectFactory(kind="text", classes=["a", "b"], created_by=UserFactory())
    with pytest.raises(ImportSourceError, match="text projects import"):
        services.items_import_stream(
            project=project, name="x.dcm", stream=io.BytesIO(identified_ct())
        )
    assert not Item.objects.filter(project=project).exists()
