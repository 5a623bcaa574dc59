"""Importing from a real PACS (Orthanc with its DICOMweb plugin): QIDO-RS search, WADO-RS
retrieval, de-identified on the way in; from the command line and from the import page."""

import io

import pydicom
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import Client

from labeler.dicom.renditions import dicom_name
from labeler.models import ImportJob, Item
from labeler.services.imports import PACS_SOURCE_NAME
from labeler.tasks import run_pacs_import
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.dicom_data import SAMPLES, identified_ct, searchable_identifiers
from tests.labeler.orthanc import running_orthanc

STUDY = "1.2.826.0.1.3680043.8.498.99887766554433221100"
SERIES = "1.2.826.0.1.3680043.8.498.11223344556677889900"


@pytest.fixture(scope="module")
def pacs_with_slices(tmp_path_factory):
    """Orthanc holding one CT study of three slices (with identifiers) and one MR study."""
    with running_orthanc(tmp_path_factory.mktemp("orthanc")) as orthanc:
        slices = [identified_ct(study_uid=STUDY, series_uid=SERIES) for _ in range(3)]
        for data in slices:
            orthanc.store(data)
        orthanc.store((SAMPLES / "MR2_UNCR.dcm").read_bytes())
        yield orthanc, slices


@pytest.fixture
def pacs(pacs_with_slices, settings):
    # Outside the demo, PACS import is off until the administrator lists the PACS.
    settings.TWEEZERS_PACS_URLS = [pacs_with_slices[0].dicomweb]
    return pacs_with_slices[0]


@pytest.fixture
def stored_slices(pacs_with_slices):
    return pacs_with_slices[1]


@pytest.fixture
def project(db):
    return ProjectFactory(kind="image", classes=["CT", "MR"], created_by=UserFactory())


@pytest.mark.slow
@pytest.mark.django_db
def test_a_ct_study_found_by_qido_imports_de_identified_as_one_study(
    pacs, stored_slices, project, capsys
):
    call_command("import_pacs", str(project.pk), pacs.dicomweb, "--modality", "CT")

    assert "imported 3, duplicates 0, rejected 0" in capsys.readouterr().out
    items = list(Item.objects.filter(project=project))
    keys = [item.metadata["dicom"] for item in items]
    assert {k["modality"] for k in keys} == {"CT"}
    # One study, one series, three instances, none under an original UID.
    assert len({k["study_uid"] for k in keys}) == 1 and len({k["series_uid"] for k in keys}) == 1
    assert len({k["sop_uid"] for k in keys}) == 3
    assert keys[0]["study_uid"] not in (STUDY, SERIES)
    secrets = set().union(*(searchable_identifiers(data) for data in stored_slices))
    assert b"PID-77342190" in secrets and STUDY.encode() in secrets
    for item in items:
        assert "PACS study 1, instance" in item.source_name
        with default_storage.open(dicom_name(item), "rb") as handle:
            stored = handle.read()
        assert pydicom.dcmread(io.BytesIO(stored)).PatientIdentityRemoved == "YES"
        for value in secrets:
            assert value not in stored


@pytest.mark.slow
@pytest.mark.django_db
def test_searching_by_accession_and_importing_again_finds_duplicates(pacs, project, capsys):
    call_command("import_pacs", str(project.pk), pacs.dicomweb, "--accession", "ACC99887766")
    call_command("import_pacs", str(project.pk), pacs.dicomweb, "--accession", "ACC99887766")

    out = capsys.readouterr().out
    assert "imported 3, duplicates 0" in out and "imported 0, duplicates 3" in out


@pytest.mark.slow
@pytest.mark.django_db
def test_the_import_page_queues_a_job_that_stores_no_search_terms(pacs, project):
    client = Client()
    client.force_login(project.created_by)
    form = {"url": pacs.dicomweb, "modality": "mr", "accession": "", "limit": "5"}

    response = client.post(f"/projects/{project.pk}/import/pacs/", form)

    job = ImportJob.objects.get(project=project)
    assert response.status_code == 302 and response["Location"] == f"/imports/{job.pk}/"
    assert job.source_name == PACS_SOURCE_NAME and job.upload_path == ""
    # The worker's task, run here: the search travels in the message, not in the row.
    run_pacs_import(job.pk, {"url": pacs.dicomweb, "modality": "MR", "limit": 5})
    job.refresh_from_db()
    assert (job.status, job.imported, job.rejected) == ("succeeded", 1, [])
    page = client.get(f"/imports/{job.pk}/")
    assert b"Imported" in page.content


@pytest.mark.django_db
def test_a_bad_search_or_an_unreachable_pacs_is_a_clear_error(project, client, settings):
    settings.TWEEZERS_PACS_URLS = ["http://127.0.0.1:9/dicom-web"]
    with pytest.raises(CommandError, match="YYYYMMDD"):
        call_command(
            "import_pacs", str(project.pk), "http://127.0.0.1:9/dicom-web", "--study-date", "2020"
        )
    with pytest.raises(CommandError, match="could not search for studies"):
        call_command("import_pacs", str(project.pk), "http://127.0.0.1:9/dicom-web")
    client.force_login(project.created_by)
    response = client.post(f"/projects/{project.pk}/import/pacs/", {"url": "ftp://x", "limit": "5"})
    assert response.status_code == 400 and not ImportJob.objects.exists()


@pytest.mark.django_db
def test_with_an_allow_list_only_the_hospitals_pacs_may_be_searched(project, client, settings):
    settings.TWEEZERS_PACS_URLS = ["http://pacs.hospital.local:8042/dicom-web"]
    client.force_login(project.created_by)
    for elsewhere in (
        "http://169.254.169.254/latest/meta-data",
        "http://pacs.hospital.local.evil.example:8042/dicom-web",
        "http://pacs.hospital.local:8042/dicom-webx",
        "https://pacs.hospital.local:8042/dicom-web",
    ):
        response = client.post(
            f"/projects/{project.pk}/import/pacs/", {"url": elsewhere, "limit": "5"}
        )
        assert response.status_code == 400, elsewhere
        assert "TWEEZERS_PACS_URLS" in response.content.decode()
    with pytest.raises(CommandError, match="TWEEZERS_PACS_URLS"):
        call_command("import_pacs", str(project.pk), "http://127.0.0.1:9/dicom-web")
    assert not ImportJob.objects.exists()
    # Below the allowed root is allowed: the unreachable address is now the only complaint.
    with pytest.raises(CommandError, match="could not search for studies"):
        call_command("import_pacs", str(project.pk), "http://pacs.hospital.local:8042/dicom-web/")


@pytest.mark.django_db
def test_a_pacs_job_that_fails_ends_failed_with_the_time_it_finished(project, client, settings):
    settings.TWEEZERS_PACS_URLS = ["http://127.0.0.1:9/dicom-web"]
    client.force_login(project.created_by)
    for form in ({"url": "http://127.0.0.1:9/dicom-web", "limit": "5"},) * 2:
        client.post(f"/projects/{project.pk}/import/pacs/", form)
    unreadable, unreachable = ImportJob.objects.order_by("id")

    # A message whose search no longer validates (the allow-list changed meanwhile), and a
    # PACS that does not answer: both end where a manager sees them, with their end time.
    run_pacs_import(unreadable.pk, {"url": "ftp://pacs.local/dicom-web", "limit": 5})
    run_pacs_import(unreachable.pk, {"url": "http://127.0.0.1:9/dicom-web", "limit": 5})

    for job, reason in ((unreadable, "http://"), (unreachable, "could not search for studies")):
        job.refresh_from_db()
        assert job.status == ImportJob.Status.FAILED and reason in job.error
        assert job.finished_at is not None


def _study_described(description: str) -> bytes:
    dataset = pydicom.dcmread(io.BytesIO(identified_ct()), force=True)
    dataset.StudyDescription = description
    out = io.BytesIO()
    dataset.save_as(out)
    return out.getvalue()


@pytest.mark.slow
@pytest.mark.django_db
def test_a_study_description_is_found_anywhere_whatever_its_case_or_spaces(
    tmp_path, project, settings
):
    """Orthanc matches ``*head*`` but not the ``%2Ahead%2A`` an HTTP client sends, nor a space
    in any encoding: a search by description used to find nothing on it."""
    from labeler.dicom.dicomweb import PacsQuery
    from labeler.services.imports import pacs_studies_search

    descriptions = ["Chest CT", "Head CT routine", "CT head and neck", "Abdomen"]
    with running_orthanc(tmp_path / "orthanc") as orthanc:
        settings.TWEEZERS_PACS_URLS = [orthanc.dicomweb]
        for description in descriptions:
            orthanc.store(_study_described(description))

        def found(description: str, limit: int = 20) -> int:
            query = PacsQuery(url=orthanc.dicomweb, description=description, limit=limit)
            return len(pacs_studies_search(project=project, query=query))

        assert found("head ct") == 1
        assert found("HEAD") == 2
        assert found("head", limit=1) == 1
        assert found("ct") == 3
        assert found("*ct") == 1  # a wildcard is taken as written: ends with "ct"
        assert found("knee") == 0
