"""Issue 12's confidentiality check: import real DICOM files by every route, run the loop,
view, export in every format, then read every byte Tweezers stored — media, uploads, model
artifacts and features, a pg_dump of the database, the logs and every export — and find none
of the originals' patient names, IDs, birth dates, institution names or UIDs."""

import io
import logging
import subprocess
import zipfile
from pathlib import Path

import pydicom
import pytest
from django.core.management import call_command
from django.test import Client

from labeler import services
from labeler.models import Item, ModelRun, Project
from labeler.services.exports import EXPORT_FORMATS
from tests import processes
from tests.factories import UserFactory
from tests.labeler.api.factories import annotation_add
from tests.labeler.dicom_data import (
    identified_ct,
    sample_files,
    samples_zip,
    searchable_identifiers,
)
from tests.labeler.scan_data import SAGITTAL, mr_series, zipped
from tests.loop_steps import run_queued

MODALITIES = ["CT", "MR", "US", "CR", "NM", "OT", "SEG"]


def _zip_members(data: bytes) -> list[bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [archive.read(name) for name in archive.namelist()]


def _every_export(project: Project) -> list[bytes]:
    """Every export format, final and history (where both exist), and the first zip's members."""
    exports: list[bytes] = []
    for format in EXPORT_FORMATS:
        for final in (True, False):
            if format in ("imagefolder", "labelstudio") and not final:
                continue
            made = services.export_labeled(project=project, format=format, final=final)
            exports.append(b"".join(made.chunks))
    return exports + _zip_members(next(data for data in exports if data[:2] == b"PK"))


def _stored_files(root: Path) -> dict[str, bytes]:
    """Every file under the test's storage root, by its relative path."""
    return {
        str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }


def _pg_dump() -> bytes:
    return subprocess.run(
        ["pg_dump", "--data-only", "--dbname", processes.worker_database_url()],
        check=True,
        capture_output=True,
    ).stdout


def _leaks(places: dict, needles) -> list[tuple[str, str]]:
    """``(where, needle)`` for each needle found in each place's bytes."""
    return [
        (str(where), n.decode()) for where, data in places.items() for n in needles if n in data
    ]


def _label_round(project: Project, annotator, count: int) -> int:
    answered = 0
    for _ in range(count):
        next_item = services.next_item_lease(project=project, annotator=annotator)
        if next_item.state != "ready":
            break
        item = next_item.entry.item
        services.annotation_submit(
            project=project,
            annotator=annotator,
            item_id=item.pk,
            label=item.metadata["dicom"]["modality"],
            note="looks like a " + item.metadata["dicom"]["modality"],
        )
        answered += 1
    return answered


@pytest.mark.slow
# Every sample is read for burned-in text (OCR, 1-10 s an image on a loaded 2-core machine).
@pytest.mark.timeout(1500)
@pytest.mark.django_db(transaction=True)
def test_no_original_identifier_reaches_disk_database_logs_or_exports(
    tmp_path, settings, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    manager = UserFactory()
    project = services.project_create(
        name="Radiology",
        kind=Project.Kind.IMAGE,
        classes=MODALITIES,
        created_by=manager,
        round_size=12,
    )
    sources = tmp_path.parent / f"{tmp_path.name}-sources"
    sources.mkdir()
    archive = samples_zip(sources / "pydicom-data.zip")
    study = "1.2.826.0.1.3680043.8.498.1234567890123456789"
    slices = [identified_ct(study_uid=study, patient_id=f"PID-7734219{n}") for n in range(3)]
    originals = [f.read_bytes() for f in sample_files()] + slices
    secrets: set[bytes] = set()
    for data in originals:
        found = searchable_identifiers(data)
        assert all(value in data for value in found)
        secrets |= found
    # A value that is also image content of some sample cannot tell a leak from a pixel: the
    # MR sample's birth date 11111111 is a run of pixel value 49 in four ultrasound samples.
    pixels = [pydicom.dcmread(io.BytesIO(d), force=True).get("PixelData") or b"" for d in originals]
    in_pixels = {value for value in secrets if any(value in p for p in pixels)}
    assert in_pixels == {b"11111111"}
    secrets -= in_pixels
    assert len(secrets) > 100

    # Every route in: the command line (zip), an upload through the import job (a worker's
    # path: spooled, imported, deleted), and the API.
    call_command("import_items", str(project.pk), str(archive))
    # The ultrasounds that show text in their pixels are refused (test_dicom_pixel_text).
    command_out, command_err = capfd.readouterr()
    text_refused = command_err.count("burned into the pixels")
    assert text_refused >= 4
    job = services.import_job_create(
        project=project, created_by=manager, name="CT/slice-1.dcm", stream=io.BytesIO(slices[0])
    )
    services.import_job_run(job_id=job.pk)
    client = Client()
    client.force_login(manager)
    upload = io.BytesIO()
    with zipfile.ZipFile(upload, "w") as bundle:
        bundle.writestr("CT/slice-2", slices[1])
        bundle.writestr("CT/slice-3.dcm", slices[2])
        bundle.writestr("CT/flagged.dcm", identified_ct(burned_in="YES"))
    upload.seek(0)
    upload.name = "more.zip"
    response = client.post(f"/api/projects/{project.pk}/items/", {"file": upload})
    assert response.status_code == 201 and response.json()["imported"] == 2
    # All but the one undecodable sample; the flagged slice was refused.
    assert Item.objects.filter(project=project).count() == len(originals) - 1 - text_refused

    # The loop: cold start, a round labeled, a retrain on the labels.
    for _ in range(2):
        run_queued(project)  # the embedding worker's share first, then the retrain
        _label_round(project, manager, 12)
    trained = ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED)
    assert trained.exclude(artifact_path="").exists()

    # Viewing: renditions in presets (cached) and a dragged window (not cached).
    for item in Item.objects.filter(project=project)[:10]:
        for query in ("preset=lung", "preset=own&invert=1", "wc=50&ww=350"):
            assert client.get(f"/items/{item.pk}/dicom/render.png?{query}").status_code == 200

    # Every export format, final and history, and the model artifact.
    exports = _every_export(project)
    run = trained.exclude(artifact_path="").latest("id")
    exports.append(b"".join(services.model_artifact_export(run=run).chunks))
    csv_export = services.export_labeled(project=project, format="csv")
    header = b"".join(csv_export.chunks).split(b"\n")[0]
    assert b"study_uid" in header and b"sop_uid" in header

    stored = _stored_files(Path(tmp_path))
    assert any(name.endswith(".dcm") for name in stored)
    assert any(name.startswith("media/renditions/") for name in stored)
    assert not any(name.startswith("uploads/") for name in stored)
    dump = _pg_dump()
    assert b"Radiology" in dump and b"2.25." in dump
    out, err = capfd.readouterr()
    logs = caplog.text.encode() + (command_out + command_err + out + err).encode()
    assert b"imported" in logs

    places = {**stored, "pg_dump": dump, "logs": logs}
    places.update({f"export {n}": data for n, data in enumerate(exports)})
    assert _leaks(places, secrets) == []


# Issue 23: names and text the profile's table does not know ----------------------------------

PATIENT_NAMED = "SMITH_JOHN_19510429"


def _patient_named_zip() -> io.BytesIO:
    """A study exported by a PACS viewer into a folder named after the patient."""
    upload = io.BytesIO()
    with zipfile.ZipFile(upload, "w") as bundle:
        bundle.writestr(f"{PATIENT_NAMED}/{PATIENT_NAMED}_1.dcm", identified_ct())
        bundle.writestr(f"{PATIENT_NAMED}/{PATIENT_NAMED}_2.dcm", identified_ct())
        bundle.writestr(f"{PATIENT_NAMED}/{PATIENT_NAMED}_bad.dcm", b"DICM but not really")
    upload.seek(0)
    upload.name = f"{PATIENT_NAMED}.zip"
    return upload


def _scan_secrets(instances) -> set[bytes]:
    """The identifiers of synthesised series, and their free-text descriptions (the patient's
    name is in them), as the bytes a leak would show."""
    secrets: set[bytes] = set()
    for instance in instances:
        secrets |= searchable_identifiers(instance.data)
        dataset = pydicom.dcmread(io.BytesIO(instance.data), stop_before_pixels=True)
        secrets |= {str(dataset.SeriesDescription).encode(), str(dataset.StudyDescription).encode()}
        secrets.add(str(dataset.AccessionNumber).encode())
    return secrets


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_patient_named_file_or_folder_appears_nowhere(tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    manager = UserFactory()
    project = services.project_create(
        name="Named files", kind=Project.Kind.IMAGE, classes=MODALITIES, created_by=manager
    )
    client = Client()
    client.force_login(manager)
    reports: list[bytes] = []

    # Every route in: a single upload and a zip through the API, the browser's background
    # import job, and a folder on the server's disk.
    single = io.BytesIO(identified_ct())
    single.name = f"{PATIENT_NAMED}.dcm"
    reports.append(client.post(f"/api/projects/{project.pk}/items/", {"file": single}).content)
    reports.append(
        client.post(f"/api/projects/{project.pk}/items/", {"file": _patient_named_zip()}).content
    )
    job = services.import_job_create(
        project=project,
        created_by=manager,
        name=f"{PATIENT_NAMED}.zip",
        stream=_patient_named_zip(),
    )
    services.import_job_run(job_id=job.pk)
    reports.append(client.get(f"/api/projects/{project.pk}/imports/{job.pk}/").content)
    reports.append(client.get(f"/imports/{job.pk}/").content)
    folder = tmp_path.parent / f"{tmp_path.name}-disk" / PATIENT_NAMED
    folder.mkdir(parents=True)
    (folder / f"{PATIENT_NAMED}_3.dcm").write_bytes(identified_ct())
    reports.append(repr(services.items_import_path(project=project, path=folder.parent)).encode())
    items = Item.objects.filter(project=project)
    assert items.count() == 6
    assert b"DICOM file sha256:" in reports[1]

    # Shown and exported.
    pages = [client.get(f"/projects/{project.pk}/items/").content]
    pages += [client.get(f"/projects/{project.pk}/items/{item.pk}/").content for item in items]
    for item in items:
        annotation_add(item, manager, "CT")
    exports = []
    for format in EXPORT_FORMATS:
        made = services.export_labeled(project=project, format=format, final=True)
        exports.append(b"".join(made.chunks))
    exports += _zip_members(exports[list(EXPORT_FORMATS).index("imagefolder")])
    assert all(str(item.pk).encode() in exports[0] for item in items)
    dump = _pg_dump()
    assert b"Named files" in dump
    out, err = capfd.readouterr()
    logs = caplog.text.encode() + out.encode() + err.encode()
    assert b"imported" in logs
    media = _stored_files(tmp_path)

    places = {"pg_dump": dump, "logs": logs, **dict(enumerate(reports + pages + exports))}
    places.update({f"media {name}": data for name, data in media.items()})
    places.update({f"media path {name}": name.encode() for name in media})
    needles = [PATIENT_NAMED.encode(), b"SMITH_JOHN", b"SMITH"]
    assert _leaks(places, needles) == []


def test_text_the_profile_does_not_name_is_removed_by_the_allow_list():
    """A Text Value (0040,A160) at the top level, in a content sequence item and in a kept
    reference's item, and free-text comments: none is in the profile's table."""
    from pydicom import Dataset, Sequence

    from labeler.dicom.reading import DicomOptions, dicom_file

    planted = {
        "top": "Patient Smith John, seen 1951-04-29 at Baptist",
        "content": "Findings for Smith John: nodule",
        "reference": "Reference note naming Smith John",
        "comments": "Call Smith John on 010-1234-5678",
    }
    dataset = pydicom.dcmread(io.BytesIO(identified_ct()))
    dataset.TextValue = planted["top"]
    item = Dataset()
    item.ValueType = "TEXT"
    item.TextValue = planted["content"]
    dataset.ContentSequence = Sequence([item])
    dataset.ReferencedImageSequence[0].TextValue = planted["reference"]
    dataset.ImageComments = planted["comments"]
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    original = buffer.getvalue()
    assert all(text.encode() in original for text in planted.values())

    stored = dicom_file(original, DicomOptions(uid_secret="a" * 64), max_pixels=10**8)

    assert [where for where, text in planted.items() if text.encode() in stored.dicom] == []
    assert b"Smith" not in stored.dicom
    kept = pydicom.dcmread(io.BytesIO(stored.dicom))
    assert "TextValue" not in kept and "ImageComments" not in kept
    # What reading, windowing and references need is still there.
    assert kept.Modality == "CT" and kept.pixel_array.shape == (512, 512)
    assert kept.ReferencedImageSequence[0].ReferencedSOPInstanceUID == kept.SOPInstanceUID


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("unit", ["series", "study"])
def test_no_identifier_of_a_series_or_study_reaches_disk_database_logs_or_exports(
    unit, tmp_path, caplog, capfd
):
    """Issue 22's confidentiality check: series and studies (synthesised from real MR
    slices, dressed with identifiers), imported by the command line, an import job and the
    API, grouped across them, labeled, trained on, viewed and exported."""
    caplog.set_level(logging.DEBUG)
    manager = UserFactory()
    project = services.project_create(
        name="Brain scans",
        kind=Project.Kind.IMAGE,
        unit=unit,
        classes=["parkinson", "normal"],
        created_by=manager,
        round_size=4,
    )
    study = pydicom.uid.generate_uid()
    series = [
        mr_series(study_uid=study, series_number=2, prefix="t1-"),
        mr_series(study_uid=study, series_number=3, count=6, orientation=SAGITTAL, prefix="t2-"),
        *[
            mr_series(series_number=2, count=5, patient=f"Lee^Patient{n}^Kyung", prefix=f"p{n}-")
            for n in range(4)
        ],
        mr_series(series_number=9, missing=[3], patient="Yoon^Gapped^Seri", prefix="gap-"),
    ]
    instances = [instance for one in series for instance in one]
    secrets = _scan_secrets(instances)
    assert len(secrets) > 40

    sources = tmp_path.parent / f"{tmp_path.name}-scan-sources"
    sources.mkdir()
    first = sources / "first.zip"
    first.write_bytes(zipped(instances[::2], folder="scans/").getvalue())
    call_command("import_items", str(project.pk), str(first))
    job = services.import_job_create(
        project=project, created_by=manager, name="second.zip", stream=zipped(instances[1::4])
    )
    services.import_job_run(job_id=job.pk)
    client = Client()
    client.force_login(manager)
    upload = zipped(instances[3::4])
    upload.name = "third.zip"
    response = client.post(f"/api/projects/{project.pk}/items/", {"file": upload})
    assert response.status_code == 201
    expected = 6 if unit == "study" else 7
    assert Item.objects.filter(project=project).count() == expected

    for _ in range(2):
        run_queued(project)
        for _ in range(4):
            lease = services.next_item_lease(project=project, annotator=manager)
            if lease.state != "ready":
                break
            services.annotation_submit(
                project=project,
                annotator=manager,
                item_id=lease.entry.item.pk,
                label=["parkinson", "normal"][lease.entry.item.pk % 2],
                note="reviewed",
            )
    assert ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED).exists()
    for item in Item.objects.filter(project=project):
        assert client.get(f"/items/{item.pk}/dicom/render.png?preset=brain").status_code == 200
        assert client.get(f"/projects/{project.pk}/items/{item.pk}/").status_code == 200

    exports = _every_export(project)
    assert b"slices" in exports[0].split(b"\n")[0]

    stored = _stored_files(Path(tmp_path))
    assert sum(name.endswith(".dcm") for name in stored) >= len(instances)
    dump = _pg_dump()
    assert b"Brain scans" in dump and b"2.25." in dump
    out, err = capfd.readouterr()
    logs = caplog.text.encode() + out.encode() + err.encode()
    assert b"imported" in logs
    places = {**stored, "pg_dump": dump, "logs": logs}
    places.update({f"export {n}": data for n, data in enumerate(exports)})
    assert _leaks(places, secrets) == []
