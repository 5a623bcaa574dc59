import csv
import io
import json
import shutil
import subprocess
import zipfile
from datetime import timedelta

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone

from labeler.services import exports
from tests.conftest import png_bytes
from tests.labeler.api.factories import annotation_add, item_add, round_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def labeled(text_team):
    """A strategy label with a model guess, a correction, an evaluation label from two
    days ago, a pre-labeled import and an unlabeled item."""
    project = text_team.project
    strategy = item_add(project, text="Buy cheap pills", source_name="mail.csv line 2")
    evaluation = item_add(project, text="Lunch at noon?", is_evaluation=True)
    item_add(project, text="Imported with a label", label="ham")
    item_add(project, text="Nobody looked at me")
    query_round = round_add(project, [strategy, evaluation])
    annotation_add(
        strategy,
        text_team.annotator,
        "ham",
        query_round=query_round,
        predicted="spam",
        confidence=0.75,
    )
    annotation_add(strategy, text_team.annotator, "spam", query_round=query_round)
    annotation_add(
        evaluation, text_team.manager, "ham", kind="evaluation", query_round=query_round, days_ago=2
    )
    return project


def export(client, project, query: str = ""):
    response = client.get(f"/api/projects/{project.pk}/export/?{query}")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_the_csv_export_streams_one_row_per_labeled_item_with_its_provenance(
    api, text_team, labeled
):
    response, body = export(api(text_team.manager), labeled, "format=csv")

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert list(rows[0]) == exports.FINAL_COLUMNS
    by_text = {row["text"]: row for row in rows}
    assert set(by_text) == {"Buy cheap pills", "Lunch at noon?", "Imported with a label"}
    pills = by_text["Buy cheap pills"]
    assert pills["label"] == "spam"
    assert pills["source_name"] == "mail.csv line 2"
    assert pills["annotators"] == "text-annotator"
    assert pills["origin"] == "strategy"
    assert pills["is_evaluation"] == "False"
    assert by_text["Lunch at noon?"]["origin"] == "evaluation"
    assert by_text["Lunch at noon?"]["is_evaluation"] == "True"
    assert by_text["Imported with a label"]["origin"] == "import"
    assert by_text["Imported with a label"]["annotators"] == ""


def test_the_history_export_has_every_annotation_with_the_models_guess(api, text_team, labeled):
    response, body = export(api(text_team.manager), labeled, "format=jsonl&final=false")

    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert response["Content-Type"] == "application/x-ndjson"
    assert [(r["text"], r["label"], r["is_current"]) for r in rows] == [
        ("Buy cheap pills", "ham", False),
        ("Buy cheap pills", "spam", True),
        ("Lunch at noon?", "ham", True),
    ]
    assert rows[0]["predicted_label"] == "spam"
    assert rows[0]["predicted_confidence"] == 0.75
    assert rows[1]["replaces"] == rows[0]["annotation_id"]


def test_the_json_export_is_one_valid_array(api, text_team, labeled):
    _, body = export(api(text_team.manager), labeled, "format=json")

    rows = json.loads(body)
    assert len(rows) == 3
    assert rows[0]["annotators"] == ["text-annotator"]


def test_evaluation_items_can_be_left_out(api, text_team, labeled):
    _, body = export(api(text_team.manager), labeled, "format=jsonl&include_evaluation=false")

    texts = {json.loads(line)["text"] for line in body.decode().splitlines()}
    assert texts == {"Buy cheap pills", "Imported with a label"}


def test_since_keeps_only_labels_given_at_or_after_the_time(api, text_team, labeled):
    since = (timezone.now() - timedelta(days=1)).isoformat()

    _, body = export(
        api(text_team.manager), labeled, f"format=jsonl&since={since.replace('+', '%2B')}"
    )

    texts = {json.loads(line)["text"] for line in body.decode().splitlines()}
    assert texts == {"Buy cheap pills", "Imported with a label"}


def test_the_label_studio_export_carries_choices_and_predictions(api, text_team, labeled):
    response, body = export(api(text_team.manager), labeled, "format=labelstudio")

    tasks = {task["data"]["text"]: task for task in json.loads(body)}
    pills = tasks["Buy cheap pills"]
    assert pills["annotations"][0]["result"][0]["value"] == {"choices": ["spam"]}
    assert pills["annotations"][0]["result"][0]["type"] == "choices"
    assert "predictions" not in pills  # the correction came without a guess
    assert tasks["Lunch at noon?"]["meta"]["is_evaluation"] is True


def test_the_imagefolder_export_is_a_zip_of_class_folders_with_metadata(api, image_team):
    cat = item_add(image_team.project, image=png_bytes(10), label="cat")
    dog = item_add(image_team.project, image=png_bytes(20))
    annotation_add(dog, image_team.annotator, "dog")
    item_add(image_team.project, image=png_bytes(30))

    response, body = export(api(image_team.manager), image_team.project, "format=imagefolder")

    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == sorted(
        ["metadata.csv", f"cat/{cat.pk}.png", f"dog/{dog.pk}.png"]
    )
    assert archive.read(f"dog/{dog.pk}.png") == png_bytes(20)
    metadata = list(csv.DictReader(io.StringIO(archive.read("metadata.csv").decode())))
    assert [(m["file_name"], m["label"]) for m in metadata] == [
        (f"cat/{cat.pk}.png", "cat"),
        (f"dog/{dog.pk}.png", "dog"),
    ]


def test_image_rows_in_label_studio_point_at_the_access_checked_file_url(api, image_team):
    item = item_add(image_team.project, image=png_bytes(10), label="cat")

    _, body = export(api(image_team.manager), image_team.project, "format=labelstudio")

    (task,) = json.loads(body)
    assert task["data"]["image"] == f"http://testserver/api/items/{item.pk}/file/"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("format=xml", "format"),
        ("format=imagefolder", "format"),
        ("format=labelstudio&final=false", "format"),
        ("since=yesterday", "since"),
    ],
)
def test_an_export_that_cannot_be_made_is_a_400_naming_the_parameter(
    api, text_team, labeled, query, field
):
    response, _ = export(api(text_team.manager), labeled, query)

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


@pytest.mark.parametrize(("role", "status"), [("annotator", 403), ("viewer", 403)])
def test_only_managers_export(api, text_team, labeled, role, status):
    response, _ = export(api(text_team.user(role)), labeled, "format=csv")

    assert response.status_code == status


def test_an_annotator_cannot_export_another_projects_labels(api, text_team):
    item = item_add(text_team.other_project, text="their secret", label="spam")

    response, body = export(api(text_team.annotator), text_team.other_project, "format=csv")

    assert response.status_code == 404
    assert item.text.encode() not in body


def test_exports_read_the_database_in_chunks(text_team, monkeypatch, django_assert_num_queries):
    for number in range(7):
        item_add(text_team.project, text=f"text {number}", label="spam")
    monkeypatch.setattr(exports, "CHUNK_SIZE", 3)
    chunks = exports.export_labeled(project=text_team.project, format="jsonl").chunks

    # One cursor over the items, then one annotation query per chunk of three: never a query
    # per item, never the whole table at once.
    with django_assert_num_queries(1 + 3):
        lines = b"".join(chunks).decode().splitlines()

    assert len(lines) == 7


def test_the_streamed_zip_passes_info_zips_integrity_test(api, image_team, tmp_path):
    unzip = shutil.which("unzip")
    if unzip is None:
        pytest.skip("Info-ZIP's unzip is not installed")
    for shade in range(3):
        item_add(image_team.project, image=png_bytes(shade), label="cat")

    _, body = export(api(image_team.manager), image_team.project, "format=imagefolder")
    archive = tmp_path / "export.zip"
    archive.write_bytes(body)

    result = subprocess.run([unzip, "-t", str(archive)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors detected" in result.stdout
