import io
import zipfile

import pytest

from labeler.models import Item, Skip
from tests.conftest import png_bytes
from tests.labeler.api.factories import annotation_add, item_add, round_add

pytestmark = pytest.mark.django_db


def upload(client, project, name: str, content: bytes):
    file = io.BytesIO(content)
    file.name = name
    return client.post(f"/api/projects/{project.pk}/items/", {"file": file}, format="multipart")


def test_uploading_a_csv_reports_imported_duplicates_and_rejected_rows(api, text_team):
    csv_text = b"text,label\nBuy now,spam\nHello mum,ham\nBuy now,spam\n,ham\nWin big,eggs\n"

    response = upload(api(text_team.manager), text_team.project, "mail.csv", csv_text)

    assert response.status_code == 201
    body = response.json()
    assert body["imported"] == 2
    assert body["duplicates"] == 1
    assert body["rejected"] == [
        {"name": "mail.csv line 5", "reason": "empty text"},
        {
            "name": "mail.csv line 6",
            "reason": "unknown label 'eggs'; the project's classes are: ham, spam",
        },
    ]
    assert Item.objects.filter(project=text_team.project).count() == 2


def test_uploading_a_zip_of_class_folders_imports_images_with_their_labels(api, image_team):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cat/a.png", png_bytes(1))
        archive.writestr("dog/b.png", png_bytes(2))
        archive.writestr("notes.txt", b"hello")

    response = upload(api(image_team.manager), image_team.project, "pets.zip", buffer.getvalue())

    assert response.status_code == 201
    assert response.json()["imported"] == 2
    assert response.json()["rejected"][0]["name"] == "notes.txt"
    labels = dict(Item.objects.values_list("source_name", "label__name"))
    assert labels == {"cat/a.png": "cat", "dog/b.png": "dog"}


def test_an_unreadable_source_is_a_400_in_the_common_error_format(api, text_team):
    response = upload(api(text_team.manager), text_team.project, "mail.csv", b"name,age\nx,1\n")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "no text column" in error["fields"]["file"][0]
    assert not Item.objects.exists()


def test_an_upload_without_a_file_is_a_400(api, text_team):
    response = api(text_team.manager).post(
        f"/api/projects/{text_team.project.pk}/items/", {}, format="multipart"
    )

    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]


@pytest.mark.parametrize("role", ["annotator", "viewer"])
def test_only_managers_import_items(api, text_team, role):
    response = upload(api(text_team.user(role)), text_team.project, "a.csv", b"text\nhello\n")

    assert response.status_code == 403
    assert not Item.objects.exists()


def test_an_outsider_cannot_import_into_another_project(api, text_team):
    response = upload(api(text_team.outsider), text_team.project, "a.csv", b"text\nhello\n")

    assert response.status_code == 404
    assert not Item.objects.exists()


@pytest.fixture
def labeled_pool(text_team):
    project, annotator = text_team.project, text_team.annotator
    items = {
        "unlabeled": item_add(project, text="unlabeled one"),
        "skipped": item_add(project, text="skipped one"),
        "prelabeled": item_add(project, text="prelabeled one", label="ham"),
        "labeled": item_add(project, text="labeled one"),
        "evaluation": item_add(project, text="evaluation one", is_evaluation=True),
    }
    first = round_add(project, [items["labeled"], items["evaluation"]], number=1)
    annotation_add(items["labeled"], annotator, "spam", query_round=first)
    annotation_add(items["evaluation"], text_team.manager, "ham", query_round=first)
    Skip.objects.create(project=project, item=items["skipped"], annotator=annotator)
    Item.objects.filter(pk=items["skipped"].pk).update(status=Item.Status.SKIPPED)
    item_add(text_team.other_project, text="someone else's")
    return items


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["unlabeled", "skipped", "prelabeled", "labeled", "evaluation"]),
        ("status=labeled", ["prelabeled", "labeled", "evaluation"]),
        ("status=unlabeled", ["unlabeled"]),
        ("status=skipped", ["skipped"]),
        ("evaluation=true", ["evaluation"]),
        ("evaluation=false&status=labeled", ["prelabeled", "labeled"]),
        ("label=ham", ["prelabeled", "evaluation"]),
        ("annotator=text-annotator", ["labeled"]),
        ("round=1", ["labeled", "evaluation"]),
        ("round=2", []),
    ],
)
def test_items_filter_by_status_evaluation_label_annotator_and_round(
    api, text_team, labeled_pool, query, expected
):
    response = api(text_team.manager).get(f"/api/projects/{text_team.project.pk}/items/?{query}")

    assert response.status_code == 200
    ids = [item["id"] for item in response.json()["results"]]
    assert ids == [labeled_pool[name].pk for name in expected]


def test_item_lists_page_with_a_cursor(api, text_team):
    for number in range(5):
        item_add(text_team.project, text=f"text {number}")
    client = api(text_team.manager)

    first = client.get(f"/api/projects/{text_team.project.pk}/items/?page_size=3").json()
    second = client.get(first["next"]).json()

    assert len(first["results"]) == 3
    assert len(second["results"]) == 2
    assert second["next"] is None
    seen = [i["id"] for i in first["results"] + second["results"]]
    assert seen == sorted(set(seen))


def test_a_bad_cursor_is_a_404_not_a_crash(api, text_team):
    response = api(text_team.manager).get(
        f"/api/projects/{text_team.project.pk}/items/?cursor=garbage"
    )

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid cursor"


def test_an_item_of_another_project_is_404_under_this_project(api, text_team):
    other = item_add(text_team.other_project, text="secret")

    response = api(text_team.manager).get(f"/api/projects/{text_team.project.pk}/items/{other.pk}/")

    assert response.status_code == 404


def test_image_items_carry_an_access_checked_image_url(api, image_team):
    item = item_add(image_team.project, image=png_bytes(7))

    listed = api(image_team.manager).get(f"/api/projects/{image_team.project.pk}/items/")
    url = listed.json()["results"][0]["image_url"]

    assert url == f"http://testserver/api/items/{item.pk}/file/"
    response = api(image_team.annotator).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == png_bytes(7)


@pytest.mark.parametrize(("role", "status"), [("outsider", 404), ("anonymous", 401)])
def test_item_files_are_refused_to_anyone_outside_the_project(api, image_team, role, status):
    item = item_add(image_team.project, image=png_bytes(9))

    response = api(image_team.user(role)).get(f"/api/items/{item.pk}/file/")

    assert response.status_code == status
    assert "error" in response.json()


def test_an_item_whose_file_vanished_from_storage_is_a_404_not_a_crash(api, image_team):
    item = item_add(image_team.project, image=png_bytes(11))
    item.file.storage.delete(item.file.name)

    response = api(image_team.manager).get(f"/api/items/{item.pk}/file/")

    assert response.status_code == 404
    assert "missing" in response.json()["error"]["message"]
