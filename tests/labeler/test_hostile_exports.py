"""Exports a hostile dataset cannot turn against the person opening them: spreadsheet
formulas neutralised in CSV, and class folders that never merge two classes."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from labeler import services
from labeler.models import LabelClass
from labeler.services.exports import class_folders
from tests.conftest import png_bytes
from tests.factories import ProjectFactory
from tests.labeler.api.factories import item_add

pytestmark = pytest.mark.django_db


def csv_rows(export) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(export.chunks).decode())))


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"]
)
def test_a_csv_export_neutralises_cells_a_spreadsheet_would_run(text):
    project = ProjectFactory(kind="text", classes=("spam", "ham"))
    item_add(project, text=text, label="spam")

    raw = csv_rows(
        services.export_labeled(project=project, format="csv", neutralise_formulas=False)
    )
    safe = csv_rows(services.export_labeled(project=project, format="csv"))

    assert safe[0]["text"] == "'" + raw[0]["text"]
    assert raw[0]["text"] == text.strip() or raw[0]["text"] == text


def test_the_api_turns_formula_neutralisation_off_on_request(client):
    from tests.factories import UserFactory

    manager = UserFactory()
    project = ProjectFactory(kind="text", classes=("spam", "ham"), created_by=manager)
    item_add(project, text="=1+1", label="spam")
    client.force_login(manager)
    url = f"/api/projects/{project.pk}/export/?format=csv"

    safe = b"".join(client.get(url).streaming_content).decode()
    raw = b"".join(client.get(url + "&neutralise_formulas=false").streaming_content).decode()

    assert "'=1+1" in safe and "'=1+1" not in raw and "=1+1" in raw


def test_two_classes_never_share_an_imagefolder_folder():
    project = ProjectFactory(kind="image", classes=("a_b", "cat"))
    # Stored before names were checked: a slash, and a case twin.
    LabelClass.objects.create(project=project, name="a/b", order=5)
    LabelClass.objects.create(project=project, name="Cat", order=6)
    for shade, label in enumerate(["a_b", "a/b", "cat", "Cat"]):
        item_add(project, image=png_bytes(shade * 30), label=label)

    export = services.export_labeled(project=project, format="imagefolder")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(export.chunks)))
    folders = {name.split("/")[0] for name in archive.namelist() if "/" in name}
    metadata = list(csv.DictReader(io.StringIO(archive.read("metadata.csv").decode())))

    assert len({folder.casefold() for folder in folders}) == 4
    by_label = {row["label"]: row["file_name"].split("/")[0] for row in metadata}
    assert by_label["a_b"] == "a_b" and by_label["cat"] == "cat"
    assert len(set(by_label.values())) == 4


def test_folder_names_stay_the_class_names_when_they_are_safe():
    assert class_folders(["benign", "malignant"]) == {"benign": "benign", "malignant": "malignant"}
    assert class_folders(["..", "."])["."] != class_folders(["..", "."])[".."]
