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
    assert Item.objects.filter(project=project).count() == len(originals) - 1

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
    exports: list[bytes] = []
    for format in EXPORT_FORMATS:
        for final in (True, False):
            if format in ("imagefolder", "labelstudio") and not final:
                continue
            made = services.export_labeled(project=project, format=format, final=final)
            exports.append(b"".join(made.chunks))
    exports += _zip_members(exports[[i for i, d in enumerate(exports) if d[:2] == b"PK"][0]])
    run = trained.exclude(artifact_path="").latest("id")
    exports.append(b"".join(services.model_artifact_export(run=run).chunks))
    csv_export = services.export_labeled(project=project, format="csv")
    header = b"".join(csv_export.chunks).split(b"\n")[0]
    assert b"study_uid" in header and b"sop_uid" in header

    stored: dict[str, bytes] = {}
    for path in Path(tmp_path).rglob("*"):
        if path.is_file():
            stored[str(path.relative_to(tmp_path))] = path.read_bytes()
    assert any(name.endswith(".dcm") for name in stored)
    assert any(name.startswith("media/renditions/") for name in stored)
    assert not any(name.startswith("uploads/") for name in stored)
    dump = subprocess.run(
        ["pg_dump", "--data-only", "--dbname", processes.worker_database_url()],
        check=True,
        capture_output=True,
    ).stdout
    assert b"Radiology" in dump and b"2.25." in dump
    out, err = capfd.readouterr()
    logs = caplog.text.encode() + out.encode() + err.encode()
    assert b"imported" in logs

    places = {**stored, "pg_dump": dump, "logs": logs}
    places.update({f"export {n}": data for n, data in enumerate(exports)})
    leaks = [
        (where, value.decode())
        for where, data in places.items()
        for value in secrets
        if value in data
    ]
    assert leaks == []


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

    exports: list[bytes] = []
    for format in EXPORT_FORMATS:
        for final in (True, False):
            if format in ("imagefolder", "labelstudio") and not final:
                continue
            exports.append(
                b"".join(
                    services.export_labeled(project=project, format=format, final=final).chunks
                )
            )
    exports += _zip_members(next(data for data in exports if data[:2] == b"PK"))
    assert b"slices" in exports[0].split(b"\n")[0]

    stored = {
        str(path.relative_to(tmp_path)): path.read_bytes()
        for path in Path(tmp_path).rglob("*")
        if path.is_file()
    }
    assert sum(name.endswith(".dcm") for name in stored) >= len(instances)
    dump = subprocess.run(
        ["pg_dump", "--data-only", "--dbname", processes.worker_database_url()],
        check=True,
        capture_output=True,
    ).stdout
    assert b"Brain scans" in dump and b"2.25." in dump
    out, err = capfd.readouterr()
    logs = caplog.text.encode() + out.encode() + err.encode()
    assert b"imported" in logs
    places = {**stored, "pg_dump": dump, "logs": logs}
    places.update({f"export {n}": data for n, data in enumerate(exports)})
    leaks = [
        (where, value.decode())
        for where, data in places.items()
        for value in secrets
        if value in data
    ]
    assert leaks == []
