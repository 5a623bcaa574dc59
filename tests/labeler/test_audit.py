"""The view audit is complete and durable: every page, file, export and API answer that shows an
item's content adds a row naming who, where and which item; a URL pattern is either walked
here or named as showing no item content (a new one fails until it is classified); the rows
outlive a deleted project; managers and administrators read them on the audit page, filtered
and as CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from labeler import services
from labeler.models import Item, ItemView, Project, QueueEntry
from tests.conftest import png_bytes
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.api.factories import annotation_add, item_add, membership_add, round_add
from tests.labeler.dicom_data import identified_ct
from tests.labeler.test_access_matrix import url_patterns

# URL name -> what the page, file or answer shows of an item, and so where its row says.
CONTENT_SHOWING = {
    "label": "labeling",
    "label-lease": "labeling",
    "label-answer": "labeling",
    "item-history": "item_page",
    "project-items": "items_page",
    "project-conflicts": "conflicts",
    "item-file": "file",
    "item-dicom-render": "file",
    "project-export": "export",
    "api:next-item": "api",
    "api:item-list": "api",
    "api:item-detail": "api",
    "api:item-history": "api",
    "api:item-file": "file",
    "api:export": "export",
    "admin:labeler_item_changelist": "admin",
    "admin:labeler_item_change": "admin",
}
# A scan's slices (issue 22): walked by test_a_scan_slice_adds_an_audit_row, on a series
# project of its own.
SCAN_CONTENT_SHOWING = {"item-scan-slice": "file"}
# These answer with the same held items as label-answer (through the same code), walked by
# the labeling tests; a row per answer they give is recorded the same way.
LABELING_POSTS = {"label-skip", "label-undo", "label-unskip"}
# Pages and endpoints that show no item's text, image or name: counts, settings, members,
# answers by item id, models, jobs, accounts, and the audit itself.
SHOWS_NO_ITEM_CONTENT = {
    "account-tokens",
    "api:agreement",
    "api:annotation-correct",
    "api:annotation-detail",
    "api:annotation-list",
    "api:class-list",
    "api:docs",
    "api:import-job",
    "api:item-adjudicate",
    "api:item-skip",
    "api:item-views",
    "api:logout",
    "api:logout-all",
    "api:member-detail",
    "api:member-list",
    "api:model-run-artifact",
    "api:model-run-detail",
    "api:model-run-export",
    "api:model-run-list",
    "api:project-detail",
    "api:project-list",
    "api:project-stats",
    "api:round-list",
    "api:schema",
    "api:token",
    "api:unknown",
    "api:webhook-delivery-list",
    "api:webhook-detail",
    "api:webhook-list",
    "audit",
    "health",
    "import-job",
    "item-correct",
    # Frames, modality and window of a DICOM item: no pixel, no header value of the patient.
    "item-dicom",
    # A scan's series (de-identified descriptions), slice counts and evidence slices: no pixel.
    "item-scan",
    # Your model's suggestions, by item id and class; the page importing them shows counts.
    "api:suggestion-list",
    "project-suggestions",
    "javascript-catalog",
    "label-correct",
    "login",
    "logout",
    "member-remove",
    "member-role",
    "oidc_authentication_callback",
    "oidc_authentication_init",
    "password_change",
    "password_change_done",
    "password_reset",
    "password_reset_complete",
    "password_reset_confirm",
    "password_reset_done",
    "project-audit",
    "project-create",
    "project-dashboard",
    "project-import",
    "project-import-pacs",
    "project-items-bulk",
    "project-list",
    "project-members",
    "project-retrain",
    "project-settings",
    "project-webhook-change",
    "project-webhooks",
    "set_language",
}


def test_every_url_pattern_is_walked_for_its_audit_row_or_shows_no_item_content():
    names = {name for name, _, _ in url_patterns() if name and not name.startswith("admin:")}
    classified = (
        set(CONTENT_SHOWING) | set(SCAN_CONTENT_SHOWING) | LABELING_POSTS | SHOWS_NO_ITEM_CONTENT
    ) - {name for name in CONTENT_SHOWING if name.startswith("admin:")}
    assert names - classified == set(), "classify these URL patterns in this test"
    assert classified - names == set(), "these URL patterns no longer exist"


@pytest.fixture
def world(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    manager = UserFactory(username="audit-manager")
    annotators = [UserFactory(username=f"audit-annotator-{n}") for n in (1, 2)]
    project = ProjectFactory(
        name="Chest films", kind="image", created_by=manager, classes=("cat", "dog"), overlap=2
    )
    for annotator in annotators:
        membership_add(project=project, user=annotator, role="annotator")
    pool = [item_add(project, image=png_bytes(shade)) for shade in range(10, 60, 10)]
    round_add(project, pool)
    disputed = item_add(project, image=png_bytes(200))
    annotation_add(disputed, annotators[0], "cat")
    annotation_add(disputed, annotators[1], "dog")
    Item.objects.filter(pk=disputed.pk).update(status=Item.Status.CONFLICT, label=None)
    report = services.items_import_stream(
        project=project, name="ct.dcm", stream=io.BytesIO(identified_ct())
    )
    assert report.imported == 1
    dicom = Item.objects.filter(project=project, metadata__has_key="dicom").get()
    admin = get_user_model().objects.create_superuser("audit-admin", password="x" * 12)
    return {
        "project": project,
        "manager": manager,
        "admin": admin,
        "disputed": disputed,
        "dicom": dicom,
    }


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _held_item(client: Client, project: Project) -> int:
    answer = client.post(reverse("label-lease", args=[project.pk]), {"hold": 1})
    return answer.json()["items"][0]["item_id"]


def _visit(name: str, world) -> tuple[object, int | None, str]:
    """Open ``name`` as a user of the project would; the response, the item it shows (None
    for several) and who opened it."""
    project, disputed, dicom = world["project"], world["disputed"], world["dicom"]
    pk = project.pk
    manager = _client(world["manager"])
    as_manager = world["manager"].username
    if name == "label":
        return manager.get(reverse("label", args=[pk])), None, as_manager
    if name == "label-lease":
        return manager.post(reverse("label-lease", args=[pk]), {"hold": 2}), None, as_manager
    if name == "label-answer":
        held = _held_item(manager, project)
        body = {"item_id": held, "label": "cat", "hold": 2}
        return manager.post(reverse("label-answer", args=[pk]), body), None, as_manager
    if name == "item-history":
        return manager.get(reverse(name, args=[pk, disputed.pk])), disputed.pk, as_manager
    if name in ("project-items", "project-conflicts"):
        return manager.get(reverse(name, args=[pk])), None, as_manager
    if name == "item-file":
        return manager.get(reverse(name, args=[disputed.pk])), disputed.pk, as_manager
    if name == "item-dicom-render":
        return manager.get(reverse(name, args=[dicom.pk])), dicom.pk, as_manager
    if name == "project-export":
        return manager.get(reverse(name, args=[pk]), {"format": "csv"}), None, as_manager
    if name == "api:next-item":
        response = manager.get(f"/api/projects/{pk}/next/")
        return response, response.json()["item"]["id"], as_manager
    if name == "api:item-list":
        return manager.get(f"/api/projects/{pk}/items/"), None, as_manager
    if name in ("api:item-detail", "api:item-history"):
        url = reverse(name, kwargs={"project_pk": pk, "pk": disputed.pk})
        return manager.get(url), disputed.pk, as_manager
    if name == "api:item-file":
        return manager.get(f"/api/items/{disputed.pk}/file/"), disputed.pk, as_manager
    if name == "api:export":
        return manager.get(f"/api/projects/{pk}/export/", {"format": "csv"}), None, as_manager
    admin = _client(world["admin"])
    if name == "admin:labeler_item_changelist":
        return admin.get(reverse(name)), None, "audit-admin"
    if name == "admin:labeler_item_change":
        return admin.get(reverse(name, args=[disputed.pk])), disputed.pk, "audit-admin"
    raise AssertionError(f"no visit for {name}")


@pytest.mark.parametrize("name", sorted(CONTENT_SHOWING))
def test_each_content_showing_url_adds_an_audit_row(world, name):
    before = ItemView.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response, item_id, username = _visit(name, world)

    assert response.status_code == 200, (name, response.status_code)
    rows = list(ItemView.objects.filter(id__gt=before, where=CONTENT_SHOWING[name]))
    assert rows, f"{name} showed an item and left no audit row"
    assert {row.username for row in rows} == {username}
    assert {row.project_id for row in rows} == {world["project"].pk}
    assert {row.project_name for row in rows} == {"Chest films"}
    if item_id is not None:
        assert item_id in {row.item_id for row in rows}


@pytest.mark.django_db(transaction=True)
def test_a_scan_slice_adds_an_audit_row():
    from tests.labeler.test_scan_viewer import import_series, logged_in, scan_project

    manager = UserFactory(username="scan-reader")
    project = scan_project(manager)
    import_series(project, 1)
    item = Item.objects.get(project=project)

    response = logged_in(manager).get(
        reverse("item-scan-slice", args=[item.pk]), {"series": 0, "index": 2}
    )

    assert response.status_code == 200
    rows = ItemView.objects.filter(item_id=item.pk, where=SCAN_CONTENT_SHOWING["item-scan-slice"])
    assert [(row.username, row.project_id) for row in rows] == [("scan-reader", project.pk)]


def test_a_page_of_items_records_each_item_shown(world):
    project = world["project"]
    response = _client(world["manager"]).get(f"/api/projects/{project.pk}/items/")

    shown = {row["id"] for row in response.json()["results"]}
    recorded = set(ItemView.objects.filter(detail="item list").values_list("item_id", flat=True))
    assert len(shown) == Item.objects.filter(project=project).count()
    assert recorded == shown


def test_deleting_a_project_keeps_its_audit_with_the_projects_name(world):
    project, disputed = world["project"], world["disputed"]
    _client(world["manager"]).get(reverse("item-history", args=[project.pk, disputed.pk]))
    admin = _client(world["admin"])
    recorded = ItemView.objects.filter(project_id=project.pk).count()
    assert recorded >= 1

    # Through the admin's own delete page, as hospital IT would: the project holds queue rows,
    # which the admin never deletes one by one (they used to refuse the project's deletion).
    assert QueueEntry.objects.filter(project_id=project.pk).exists()
    confirm = admin.get(reverse("admin:labeler_project_delete", args=[project.pk]))
    assert confirm.status_code == 200 and "Are you sure" in confirm.text
    deleted = admin.post(
        reverse("admin:labeler_project_delete", args=[project.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 302

    assert not Project.objects.filter(pk=project.pk).exists()
    kept = ItemView.objects.filter(project_id=project.pk)
    assert kept.count() == recorded
    assert set(kept.values_list("project_name", flat=True)) == {"Chest films"}
    page = admin.get(reverse("audit"), {"project": project.pk})
    assert page.status_code == 200
    assert "Chest films" in page.text and "audit-manager" in page.text


def test_deleting_the_user_keeps_their_name_in_the_audit(world):
    project, disputed, manager = world["project"], world["disputed"], world["manager"]
    _client(manager).get(reverse("item-history", args=[project.pk, disputed.pk]))

    get_user_model().objects.filter(pk=manager.pk).delete()

    row = ItemView.objects.get(project_id=project.pk, where="item_page")
    assert row.user_id is None and row.username == "audit-manager"


def test_the_audit_page_filters_and_downloads_every_matching_row_as_csv(world):
    project, disputed = world["project"], world["disputed"]
    manager = _client(world["manager"])
    manager.get(reverse("item-history", args=[project.pk, disputed.pk]))
    manager.get(f"/api/projects/{project.pk}/items/")
    url = reverse("project-audit", args=[project.pk])

    page = manager.get(url, {"where": "item_page"})
    download = manager.get(url, {"item": disputed.pk, "format": "csv"})

    assert page.status_code == 200
    assert page.text.count("<tr>") == 1 + 1  # the header and the one item-page view
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert {row["where"] for row in rows} == {"item_page", "api"}
    assert {row["item_id"] for row in rows} == {str(disputed.pk)}
    assert {row["user"] for row in rows} == {"audit-manager"}


def test_audit_csv_neutralises_a_project_name_a_spreadsheet_would_run(world):
    project, disputed = world["project"], world["disputed"]
    Project.objects.filter(pk=project.pk).update(name='=HYPERLINK("http://x.test","y")')
    manager = _client(world["manager"])
    manager.get(reverse("item-history", args=[project.pk, disputed.pk]))

    download = manager.get(reverse("project-audit", args=[project.pk]), {"format": "csv"})

    text = b"".join(download.streaming_content).decode()
    assert "'=HYPERLINK" in text


@pytest.mark.parametrize(
    "query",
    [
        {"item": "x"},
        {"item": str(2**70)},
        {"where": "nowhere"},
        {"date_from": "2026-13-40"},
        {"date_from": "2026-05-02", "date_to": "2026-05-01"},
        {"user": "a\x00b"},
        {"user": "u" * 151},
    ],
)
def test_a_bad_audit_filter_is_a_400_naming_the_field(world, query):
    manager = _client(world["manager"])
    url = reverse("project-audit", args=[world["project"].pk])

    page = manager.get(url, query)
    download = manager.get(url, {**query, "format": "csv"})

    assert page.status_code == 400 and download.status_code == 400
    assert 'class="errorlist' in page.text


def test_only_managers_read_a_projects_audit_and_only_administrators_every_projects(world):
    project = world["project"]
    annotator = _client(get_user_model().objects.get(username="audit-annotator-1"))
    outsider = _client(UserFactory(username="audit-outsider"))
    manager = _client(world["manager"])

    assert annotator.get(reverse("project-audit", args=[project.pk])).status_code == 403
    assert outsider.get(reverse("project-audit", args=[project.pk])).status_code == 404
    assert manager.get(reverse("audit")).status_code == 403
    assert _client(world["admin"]).get(reverse("audit")).status_code == 200
