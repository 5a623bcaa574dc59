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
