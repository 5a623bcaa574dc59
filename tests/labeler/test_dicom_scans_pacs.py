"""Series and studies from a real PACS (Orthanc with its DICOMweb plugin, started by the
fixture): QIDO-RS lists studies and their series under de-identified UIDs, the import brings
whole studies or the chosen series, and a scan that arrives in two imports is one item."""

import io

import pydicom
import pytest
from django.core.management import call_command
from django.test import Client
from pydicom.uid import generate_uid

from labeler import services
from labeler.dicom.deidentify import remap_uid
from labeler.dicom.dicomweb import PacsQuery
from labeler.models import Item, Project
from labeler.selectors_scans import scan_series, scan_slices
from tests.factories import UserFactory
from tests.labeler.dicom_data import searchable_identifiers
from tests.labeler.orthanc import running_orthanc
from tests.labeler.scan_data import SAGITTAL, mr_series

BRAIN_STUDY = generate_uid()
OTHER_STUDY = generate_uid()


@pytest.fixture(scope="module")
def pacs_with_scans(tmp_path_factory):
    """Orthanc holding a brain MRI study of two series (T1 axial, T2 sagittal) and another
    study whose only series misses a slice."""
    series = {
        "t1": mr_series(study_uid=BRAIN_STUDY, series_number=3, description="T1 axial"),
        "t2": mr_series(
            study_uid=BRAIN_STUDY,
            series_number=4,
            count=6,
            orientation=SAGITTAL,
            description="T2 sagittal",
        ),
        "gapped": mr_series(
            study_uid=OTHER_STUDY,
            series_number=2,
            missing=[6],
            patient="Choi^Minho^Jun",
            description="FLAIR axial",
        ),
    }
    with running_orthanc(tmp_path_factory.mktemp("orthanc-scans")) as orthanc:
        for instances in series.values():
            for instance in instances:
                orthanc.store(instance.data)
        yield orthanc, series


@pytest.fixture
def pacs(pacs_with_scans, settings):
    settings.TWEEZERS_PACS_URLS = [pacs_with_scans[0].dicomweb]
    return pacs_with_scans[0]


@pytest.fixture
def scans(pacs_with_scans):
    return pacs_with_scans[1]


def project_of(unit: str) -> Project:
    return services.project_create(
        name=f"PACS {unit}",
        kind=Project.Kind.IMAGE,
        unit=unit,
        classes=["parkinson", "normal"],
        created_by=UserFactory(),
    )


def keyed(project, instances) -> list[str]:
    ordered = sorted(instances, key=lambda instance: instance.position)
    return [remap_uid(instance.sop_uid, project.dicom_uid_secret) for instance in ordered]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_whole_studies_from_the_pacs_become_one_item_per_series_in_anatomical_order(
    pacs, scans, capsys
):
    project = project_of("series")

    call_command("import_pacs", str(project.pk), pacs.dicomweb, "--modality", "MR")

    captured = capsys.readouterr()
    assert "imported 3, duplicates 0, rejected 0" in captured.out
    assert "incomplete MR series 2, 9 file(s) from PACS study" in captured.err
    assert "1 slice(s) missing between 45 and 55 mm" in captured.err
    items = {scan_series(item)[0].number: item for item in Item.objects.filter(project=project)}
    for number, name in ((3, "t1"), (4, "t2"), (2, "gapped")):
        assert [s.sop_uid for s in scan_slices(items[number])] == keyed(project, scans[name])
    assert scan_series(items[2])[0].problem

    call_command("import_pacs", str(project.pk), pacs.dicomweb, "--modality", "MR")
    assert "imported 0, duplicates 25, rejected 0" in capsys.readouterr().out
    assert Item.objects.filter(project=project).count() == 3


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_study_listed_by_series_imports_the_chosen_series_and_later_the_others_into_it(
    pacs, scans
):
    project = project_of("study")
    search = PacsQuery(url=pacs.dicomweb, modality="MR")

    studies = services.pacs_studies_search(project=project, query=search)

    secret = project.dicom_uid_secret
    assert {study.uid for study in studies} == {
        remap_uid(BRAIN_STUDY, secret),
        remap_uid(OTHER_STUDY, secret),
    }
    brain = next(s for s in studies if s.uid == remap_uid(BRAIN_STUDY, secret))
    assert sorted((s.number, s.modality, s.instances) for s in brain.series) == [
        (3, "MR", 10),
        (4, "MR", 6),
    ]
    sagittal = next(s for s in brain.series if s.number == 4)
    chosen = PacsQuery(url=pacs.dicomweb, modality="MR", series=(sagittal.uid,))
    report = services.items_import_pacs(project=project, query=chosen)
    assert report.imported == 1
    study = Item.objects.get(project=project)
    assert [s.number for s in scan_series(study)] == [4]
    assert [s.sop_uid for s in scan_slices(study)] == keyed(project, scans["t2"])

    # The T1 series, chosen by what its description says, joins it.
    by_description = PacsQuery(url=pacs.dicomweb, modality="MR", series_description="t1")
    report = services.items_import_pacs(project=project, query=by_description)

    assert report.imported == 0 and report.scans_extended == 1
    study.refresh_from_db()
    assert [(s.number, s.n_slices) for s in scan_series(study)] == [(3, 10), (4, 6)]
    assert study.metadata["scan"]["study_uid"] == remap_uid(BRAIN_STUDY, secret)
    assert Item.objects.filter(project=project).count() == 1


@pytest.mark.slow
@pytest.mark.django_db
def test_the_import_page_lists_series_de_identified_and_queues_the_ticked_ones(pacs, scans):
    project = project_of("series")
    client = Client()
    client.force_login(project.created_by)
    form = {"url": pacs.dicomweb, "modality": "MR", "limit": "5"}

    listed = client.post(f"/projects/{project.pk}/import/pacs/", {**form, "action": "search"})

    page = listed.content
    assert listed.status_code == 200 and page.count(b'name="series"') == 3
    secrets = set().union(*(searchable_identifiers(i.data) for s in scans.values() for i in s))
    assert not [value for value in secrets if value in page]
    assert b"T1 axial" not in page and b"Park" not in page
    uid = remap_uid(_series_uid(scans["t1"][0].data), project.dicom_uid_secret)
    assert uid.encode() in page

    queued = client.post(
        f"/projects/{project.pk}/import/pacs/", {**form, "action": "import", "series": [uid]}
    )
    assert queued.status_code == 302
    refused = client.post(f"/projects/{project.pk}/import/pacs/", {**form, "series": ["1.2.840.1"]})
    assert refused.status_code == 400 and "2.25." in refused.content.decode()


def _series_uid(data: bytes) -> str:
    return str(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).SeriesInstanceUID)
