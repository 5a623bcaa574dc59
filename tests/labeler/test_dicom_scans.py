"""Series and studies as items (issue 22): instances grouped by their de-identified series
or study across uploads, zips and folders, slices in anatomical order, broken series reported
with their reason while the rest imports."""

import csv
import io
import zipfile

import pydicom
import pytest
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from labeler import services
from labeler.dicom.deidentify import remap_uid
from labeler.models import Item, Project, ScanSeries, ScanSlice
from labeler.selectors_scans import scan_series, scan_slices
from labeler.services.scans import montage_path
from tests.factories import UserFactory
from tests.labeler.dicom_data import SAMPLES
from tests.labeler.scan_data import SAGITTAL, mr_series, zipped


@pytest.fixture
def manager(db):
    return UserFactory()


def scan_project(manager, unit: str = "series") -> Project:
    return services.project_create(
        name="Brain MRI",
        kind=Project.Kind.IMAGE,
        unit=unit,
        classes=["parkinson", "normal"],
        created_by=manager,
    )


def upload(project, name: str, data: io.BytesIO | bytes):
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    return services.items_import_stream(project=project, name=name, stream=stream)


def anatomical_sop_uids(project, instances) -> list[str]:
    ordered = sorted(instances, key=lambda instance: instance.position)
    return [remap_uid(instance.sop_uid, project.dicom_uid_secret) for instance in ordered]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_series_split_over_uploads_and_a_zip_become_one_item_each_in_anatomical_order(
    manager, settings
):
    project = scan_project(manager)
    axial = mr_series(series_number=3, prefix="ax-")
    sagittal = mr_series(series_number=4, orientation=SAGITTAL, count=8, prefix="sag-")
    gapped = mr_series(series_number=5, missing=[4], prefix="gap-")
    # The axial series in three parts: every other slice in a zip, one slice alone, the rest
    # in a job upload; the sagittal series and the gapped one in the first zip too.
    first, single, rest = axial[::2], axial[1], axial[3::2]
    report = upload(project, "part-1.zip", zipped([*first, *sagittal, *gapped]))
    assert report.imported == 3
    assert {row["name"].split(",")[0] for row in report.incomplete} == {
        "MR series 3",
        "MR series 5",
    }

    again = upload(project, single.name, single.data)
    job = services.import_job_create(
        project=project, created_by=manager, name="part-2.zip", stream=zipped(rest)
    )
    services.import_job_run(job_id=job.pk)

    assert again.imported == 0 and again.scans_extended == 1
    job.refresh_from_db()
    assert job.status == "succeeded" and job.imported == 0 and job.rejected == []
    assert job.incomplete == []
    items = list(Item.objects.filter(project=project))
    assert len(items) == 3
    project.refresh_from_db()
    assert project.n_items == 3 and project.has_dicom
    by_number = {scan_series(item)[0].number: item for item in items}
    for number, instances in ((3, axial), (4, sagittal), (5, gapped)):
        item = by_number[number]
        slices = scan_slices(item)
        assert [s.sop_uid for s in slices] == anatomical_sop_uids(project, instances)
        assert [s.index for s in slices] == list(range(len(instances)))
        positions = [s.position for s in slices]
        assert positions == sorted(positions)
        assert item.metadata["scan"]["slices"] == len(instances)
    # The gapped series is kept, and says what is missing.
    assert scan_series(by_number[5])[0].problem.startswith("1 slice(s) missing between 35 and 45")
    assert scan_series(by_number[3])[0].problem == ""


@pytest.mark.django_db(transaction=True)
def test_a_series_of_mixed_sizes_is_refused_with_its_reason_and_the_rest_imports(manager):
    project = scan_project(manager)
    good = mr_series(series_number=7, prefix="good-")
    mixed = mr_series(series_number=8, size=32, prefix="mixed-")

    report = upload(project, "scans.zip", zipped([*good, *mixed]))

    assert report.imported == 1
    assert len(report.rejected) == 1
    refused = report.rejected[0]
    # Named by the series and a de-identified instance, never by a file's name.
    assert refused["name"].startswith("MR series 8, 10 file(s) from MR 2.25.")
    assert "mixed-" not in refused["name"]
    assert "different sizes: 64×64 (9 slices), 32×32 (1 slices)" in refused["reason"]
    assert ScanSeries.objects.filter(number=8).count() == 0
    # The refused series' files were not kept.
    assert ScanSlice.objects.count() == len(good)


@pytest.mark.django_db(transaction=True)
def test_slices_imported_again_are_duplicates_and_change_nothing(manager):
    project = scan_project(manager)
    series = mr_series(series_number=2)
    upload(project, "a.zip", zipped(series))

    report = upload(project, "b.zip", zipped(series[:4]))

    assert report.imported == 0 and report.duplicates == 4 and report.scans_extended == 0
    assert ScanSlice.objects.count() == len(series)


@pytest.mark.django_db(transaction=True)
def test_a_study_project_makes_one_item_of_a_studys_series(manager):
    project = scan_project(manager, unit="study")
    study_uid = pydicom.uid.generate_uid()
    t1 = mr_series(series_number=2, study_uid=study_uid, prefix="t1-")
    t2 = mr_series(series_number=5, study_uid=study_uid, count=6, prefix="t2-")
    other = mr_series(series_number=2, count=4, prefix="other-")

    upload(project, "t2.zip", zipped(t2, folder="normal/"))
    # A folder that names no class (a DICOM CD's layout) pre-labels nothing and refuses nothing.
    rest = upload(project, "rest.zip", zipped([*t1, *other], folder="DICOM/SE0002/"))

    assert rest.rejected == [] and rest.imported == 1 and rest.scans_extended == 1

    items = list(Item.objects.filter(project=project).order_by("id"))
    assert len(items) == 2
    study = items[0]
    series = scan_series(study)
    assert [(s.number, s.n_slices) for s in series] == [(2, 10), (5, 6)]
    assert [s.description for s in series] == ["MR series 2", "MR series 5"]
    slices = scan_slices(study)
    assert len(slices) == 16 and [s.series.number for s in slices[:10]] == [2] * 10
    assert scan_slices(study, series_uid=series[1].series_uid)[0].index == 0
    # Its class folder came with the first part: the study is pre-labeled.
    assert study.label.name == "normal" and items[1].label is None
    assert study.metadata["scan"]["series"] == 2 and study.metadata["scan"]["slices"] == 16


@pytest.mark.django_db(transaction=True)
def test_a_multi_frame_file_is_a_series_of_its_frames_and_the_item_shows_its_middle(manager):
    project = scan_project(manager)

    report = upload(project, "emri_small.dcm", (SAMPLES / "emri_small.dcm").read_bytes())

    assert report.imported == 1
    item = Item.objects.get(project=project)
    slices = scan_slices(item)
    assert [s.frame for s in slices] == list(range(10))
    assert len({s.dicom_path for s in slices}) == 1
    # The item's own image is the middle slice, and its montage holds key slices.
    assert item.file.name.endswith(".png") and item.metadata["width"] == 64
    assert item.metadata["dicom"]["modality"] == "MR"
    assert item.metadata["scan"]["shown"]["index"] == 5
    with default_storage.open(montage_path(item), "rb") as montage:
        assert montage.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.django_db(transaction=True)
def test_a_png_in_a_series_project_is_refused(manager, make_png):
    project = scan_project(manager)

    report = upload(project, "photo.png", make_png())

    assert report.imported == 0
    assert "imports DICOM files only" in report.rejected[0]["reason"]


@pytest.mark.django_db
def test_the_create_page_makes_a_series_project_and_the_settings_page_cannot_change_it(manager):
    manager.user_permissions.add(Permission.objects.get(codename="add_project"))
    client = Client()
    client.force_login(manager)
    assert 'name="unit"' in client.get("/projects/new/").content.decode()

    created = client.post(
        "/projects/new/",
        {
            "name": "Brain MRI",
            "kind": "image",
            "unit": "series",
            "classes": "parkinson\nnormal",
            "strategy": "default",
            "features": "auto",
            "round_size": 20,
            "evaluation_share": 0.1,
            "target_metric": "accuracy",
            "lease_seconds": 600,
        },
    )
    refused = client.post(
        "/projects/new/", {"name": "Notes", "kind": "text", "unit": "study", "features": "auto"}
    )

    assert created.status_code == 302
    project = Project.objects.get(name="Brain MRI")
    assert project.unit == "series"
    assert "DICOM images" in refused.content.decode()
    settings_page = client.get(f"/projects/{project.pk}/settings/").content.decode()
    assert 'name="unit"' not in settings_page
    assert 'id="scan-import-note"' in client.get(f"/projects/{project.pk}/import/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_exports_have_one_row_per_scan_keyed_by_de_identified_uids_and_a_montage_each(manager):
    project = scan_project(manager)
    sick = mr_series(series_number=3, prefix="a-")
    healthy = mr_series(series_number=4, count=6, orientation=SAGITTAL, prefix="b-")
    upload(project, "labeled.zip", zipped([*sick], folder="parkinson/"))
    upload(project, "more.zip", zipped([*healthy], folder="normal/"))

    made = services.export_labeled(project=project, format="csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(made.chunks).decode())))

    secret = project.dicom_uid_secret
    assert len(rows) == 2
    by_label = {row["label"]: row for row in rows}
    for label, instances, slices in (("parkinson", sick, "10"), ("normal", healthy, "6")):
        original = pydicom.dcmread(io.BytesIO(instances[0].data), stop_before_pixels=True)
        row = by_label[label]
        assert row["study_uid"] == remap_uid(original.StudyInstanceUID, secret)
        assert row["series_uid"] == remap_uid(original.SeriesInstanceUID, secret)
        assert (row["modality"], row["slices"]) == ("MR", slices)
        assert row["series_description"] == f"MR series {original.SeriesNumber}"
        assert "sop_uid" not in row
    folder = services.export_labeled(project=project, format="imagefolder")
    with zipfile.ZipFile(io.BytesIO(b"".join(folder.chunks))) as archive:
        names = sorted(archive.namelist())
        assert len(names) == 3 and names[0] == "metadata.csv"
        montage = Image.open(io.BytesIO(archive.read(names[-1])))
        # Nine key slices of the ten, three by three.
        assert montage.size == (768, 768)
