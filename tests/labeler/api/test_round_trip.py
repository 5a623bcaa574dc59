"""Export a labeled set, import it into a new project through the API: same labels."""

import base64
import io
import json

import pytest

from labeler.models import Item, Project
from tests.conftest import png_bytes
from tests.labeler.api.factories import annotation_add, item_add

pytestmark = pytest.mark.django_db


def labels_by_checksum(project: Project) -> dict[str, str]:
    return dict(
        Item.objects.filter(project=project, label__isnull=False).values_list(
            "checksum", "label__name"
        )
    )


def export_then_import(client, source: Project, export_format: str, file_name: str) -> Project:
    response = client.get(f"/api/projects/{source.pk}/export/?format={export_format}")
    assert response.status_code == 200
    created = client.post(
        "/api/projects/", {"name": "Copy", "kind": source.kind, "classes": []}, format="json"
    )
    target = Project.objects.get(pk=created.json()["id"])
    upload = io.BytesIO(b"".join(response.streaming_content))
    upload.name = file_name
    report = client.post(f"/api/projects/{target.pk}/items/", {"file": upload})
    assert report.status_code == 201, report.json()
    assert report.json()["rejected"] == []
    return target


@pytest.fixture
def labeled_texts(text_team):
    project = text_team.project
    for number in range(6):
        item = item_add(project, text=f"message number {number}, with a comma")
        annotation_add(item, text_team.annotator, "spam" if number % 2 else "ham")
    item_add(project, text="prelabeled", label="spam")
    item_add(project, text='unlabeled "quoted" text')
    return project


@pytest.mark.parametrize(
    ("export_format", "file_name"),
    [
        ("csv", "labels.csv"),
        ("jsonl", "labels.jsonl"),
        ("json", "labels.json"),
        ("labelstudio", "tasks.json"),
    ],
)
def test_a_text_export_reimports_into_a_new_project_with_the_same_labels(
    api, text_team, labeled_texts, export_format, file_name
):
    target = export_then_import(api(text_team.manager), labeled_texts, export_format, file_name)

    assert labels_by_checksum(target) == labels_by_checksum(labeled_texts)
    assert len(labels_by_checksum(target)) == 7
    assert set(target.classes.values_list("name", flat=True)) == {"spam", "ham"}


def test_an_imagefolder_export_reimports_with_the_same_labels(api, image_team):
    for shade in range(4):
        item = item_add(image_team.project, image=png_bytes(shade * 40))
        annotation_add(item, image_team.annotator, "cat" if shade % 2 else "dog")
    item_add(image_team.project, image=png_bytes(250))
    client = api(image_team.manager)
    response = client.get(f"/api/projects/{image_team.project.pk}/export/?format=imagefolder")
    created = client.post(
        "/api/projects/", {"name": "Copy", "kind": "image", "classes": []}, format="json"
    )
    upload = io.BytesIO(b"".join(response.streaming_content))
    upload.name = "pets.zip"

    report = client.post(f"/api/projects/{created.json()['id']}/items/", {"file": upload})

    # metadata.csv rides along for other tools and is reported, not imported.
    assert report.json()["rejected"] == [
        {"name": "metadata.csv", "reason": "not an image file (expected .png, .jpg, .jpeg)"}
    ]
    target = Project.objects.get(pk=created.json()["id"])
    assert labels_by_checksum(target) == labels_by_checksum(image_team.project)
    assert len(labels_by_checksum(target)) == 4


def test_label_studio_tasks_with_inline_images_import_with_their_choices(api, image_team):
    tasks = [
        {
            "data": {"image": "data:image/png;base64," + base64.b64encode(png_bytes(5)).decode()},
            "annotations": [
                {"result": [{"type": "choices", "value": {"choices": ["dog"]}}]},
                {
                    "was_cancelled": True,
                    "result": [{"type": "choices", "value": {"choices": ["cat"]}}],
                },
            ],
        },
        {"data": {"image": "/data/upload/1/cat.png"}},
    ]
    upload = io.BytesIO(json.dumps(tasks).encode())
    upload.name = "export.json"

    report = api(image_team.manager).post(
        f"/api/projects/{image_team.project.pk}/items/", {"file": upload}
    )

    assert report.json()["imported"] == 1
    assert report.json()["rejected"][0]["name"] == "export.json task 2"
    assert Item.objects.get(project=image_team.project).label.name == "dog"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "invalid JSON"),
        (b'{"data": {}}', "expected a JSON array"),
        (b"\xff\xfe[]", "not UTF-8"),
    ],
)
def test_an_unreadable_label_studio_file_is_a_400(api, text_team, content, message):
    upload = io.BytesIO(content)
    upload.name = "tasks.json"

    response = api(text_team.manager).post(
        f"/api/projects/{text_team.project.pk}/items/", {"file": upload}
    )

    assert response.status_code == 400
    assert message in response.json()["error"]["fields"]["file"][0]
    assert not Item.objects.exists()
