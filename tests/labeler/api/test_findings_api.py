"""Findings projects through the API (issue 21): create, import with pre-labels, label what
the queue serves, retrain, the next round, and every export format carrying exactly what was
submitted (1 / 0 / -1); bad answers are a 400 naming the field, with nothing stored."""

import csv
import io
import json

import pytest

from labeler import services
from labeler.models import Annotation, ItemFinding, ModelRun, Project
from tests.data import topic_texts

pytestmark = pytest.mark.django_db

# "origin" collides with a standard export column: its CSV column is "finding:origin".
FINDINGS = ["effusion", "cardiomegaly", "atelectasis", "origin"]
VALUES = {"present": 1, "absent": 0, "uncertain": -1}


def run_queued(project: Project) -> None:
    """What the worker does with the queued retrain."""
    run = ModelRun.objects.filter(project=project, status="queued").first()
    assert run is not None
    services.model_run_execute(run_id=run.pk)


def upload(client, project_id: int, name: str, content: bytes) -> dict:
    file = io.BytesIO(content)
    file.name = name
    response = client.post(f"/api/projects/{project_id}/items/", {"file": file})
    assert response.status_code == 201, response.json()
    return response.json()


def export(client, project_id: int, fmt: str) -> bytes:
    response = client.get(f"/api/projects/{project_id}/export/?format={fmt}")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def answer_for(number: int) -> dict:
    """A varied answer per position: every state and "no finding" occur."""
    patterns = [
        {"effusion": "present", "atelectasis": "uncertain"},
        {},
        {"cardiomegaly": "present", "origin": "present", "effusion": "absent"},
        {"atelectasis": "uncertain", "origin": "uncertain"},
    ]
    return patterns[number % len(patterns)]


def full(states: dict) -> dict:
    return {name: states.get(name, "absent") for name in FINDINGS}


@pytest.fixture
def findings_team(api, text_team):
    created = api(text_team.manager).post(
        "/api/projects/",
        {
            "name": "Reports",
            "kind": "text",
            "task": "findings",
            "findings": FINDINGS,
            "round_size": 6,
            "evaluation_share": 0,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["task"] == "findings"
    assert created.json()["findings"] == FINDINGS
    return Project.objects.get(pk=created.json()["id"])


def test_a_findings_project_round_trips_through_the_api(api, text_team, findings_team):
    project, client = findings_team, api(text_team.manager)
    rows = topic_texts(10)
    lines = ["text,labels"]
    lines += [
        f"{text},effusion|origin" if i < 2 else f"{text}," for i, (text, _) in enumerate(rows)
    ]
    report = upload(client, project.pk, "reports.csv", "\n".join(lines).encode())
    assert report["imported"] == 20 and report["rejected"] == []
    expected = {
        item.pk: full({"effusion": "present", "origin": "present"})
        for item in project.items.order_by("id")[:2]
    }
    run_queued(project)

    for number in range(6):
        step = client.get(f"/api/projects/{project.pk}/next/").json()
        assert step["state"] == "ready"
        item_id = step["item"]["id"]
        sent = answer_for(number)
        response = client.post(
            f"/api/projects/{project.pk}/annotations/",
            {"item": item_id, "findings": sent},
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["findings"] == full(sent)
        assert response.json()["label"] is None
        expected[item_id] = full(sent)

    # Retrain (the worker's queued run, or a manager's), then the next round serves.
    services.retrain_force(project=project)
    run_queued(project)
    step = client.get(f"/api/projects/{project.pk}/next/").json()
    assert step["state"] == "ready" and step["item"]["id"] not in expected
    assert step["item"]["round"] >= 2

    table = list(csv.DictReader(io.StringIO(export(client, project.pk, "csv").decode())))
    columns = ["effusion", "cardiomegaly", "atelectasis", "finding:origin"]
    assert "label" not in table[0] and "origin" in table[0]
    got = {int(row["item_id"]): [int(row[c]) for c in columns] for row in table}
    assert got == {pk: [VALUES[s[n]] for n in FINDINGS] for pk, s in expected.items()}

    for fmt in ("json", "jsonl"):
        body = export(client, project.pk, fmt).decode()
        objects = json.loads(body) if fmt == "json" else [json.loads(x) for x in body.splitlines()]
        assert {o["item_id"]: o["findings"] for o in objects} == expected

    tasks = json.loads(export(client, project.pk, "labelstudio"))
    by_text = {t["data"]["text"]: t for t in tasks}
    assert len(by_text) == len(expected)

    # Label Studio's tasks import into a new findings project with the same states.
    copy = client.post(
        "/api/projects/",
        {"name": "Copy", "kind": "text", "task": "findings", "findings": FINDINGS},
        format="json",
    ).json()
    buffer = json.dumps(tasks).encode()
    assert upload(client, copy["id"], "tasks.json", buffer)["rejected"] == []
    copied = list(csv.DictReader(io.StringIO(export(client, copy["id"], "csv").decode())))
    original = {row["text"]: [row[c] for c in columns] for row in table}
    assert {row["text"]: [row[c] for c in columns] for row in copied} == original


@pytest.mark.parametrize(
    ("export_format", "file_name"),
    [("csv", "copy.csv"), ("json", "copy.json"), ("jsonl", "copy.jsonl")],
)
def test_a_findings_export_reimports_with_the_same_states(
    api, text_team, findings_team, export_format, file_name
):
    project, client = findings_team, api(text_team.manager)
    lines = [
        json.dumps({"text": "first", "findings": {"effusion": "present", "origin": -1}}),
        json.dumps({"text": "second", "labels": ["cardiomegaly"]}),
        json.dumps({"text": "third", "findings": {}}),
        json.dumps({"text": "fourth"}),
    ]
    report = upload(client, project.pk, "reports.jsonl", "\n".join(lines).encode())
    assert report["imported"] == 4
    exported = export(client, project.pk, export_format)
    copy = client.post(
        "/api/projects/",
        {"name": "Copy", "kind": "text", "task": "findings", "findings": FINDINGS},
        format="json",
    ).json()
    upload(client, copy["id"], file_name, exported)

    def states(project_id):
        rows = csv.DictReader(io.StringIO(export(client, project_id, "csv").decode()))
        return {
            row["text"]: {k: row[k] for k in ("effusion", "cardiomegaly", "finding:origin")}
            for row in rows
        }

    assert states(project.pk) == states(copy["id"])
    assert states(project.pk) == {
        "first": {"effusion": "1", "cardiomegaly": "0", "finding:origin": "-1"},
        "second": {"effusion": "0", "cardiomegaly": "1", "finding:origin": "0"},
        "third": {"effusion": "0", "cardiomegaly": "0", "finding:origin": "0"},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"findings": {"pneumonia": "present"}}, "findings"),
        ({"findings": {"effusion": "maybe"}}, "findings"),
        ({"findings": "effusion"}, "findings"),
        # A single-label answer: the refusal names what was sent (send findings, not label).
        ({"label": "effusion"}, "label"),
        ({"label": "effusion", "findings": {}}, "label"),
    ],
)
def test_a_bad_findings_answer_is_a_400_naming_the_field(
    api, text_team, findings_team, body, field
):
    project, client = findings_team, api(text_team.manager)
    upload(client, project.pk, "r.csv", b"text\none\ntwo\n")
    run_queued(project)
    item_id = client.get(f"/api/projects/{project.pk}/next/").json()["item"]["id"]

    response = client.post(
        f"/api/projects/{project.pk}/annotations/", {"item": item_id, **body}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Annotation.objects.filter(project=project).exists()
    assert not ItemFinding.objects.filter(project=project).exists()


@pytest.mark.parametrize(
    "body", [{"label": "spam", "findings": {"spam": "present"}}, {"findings": {"spam": "present"}}]
)
def test_findings_sent_to_a_single_label_project_are_a_400_naming_findings(api, text_team, body):
    client = api(text_team.manager)
    upload(client, text_team.project.pk, "r.csv", b"text\none\ntwo\n")
    run_queued(text_team.project)
    item_id = client.get(f"/api/projects/{text_team.project.pk}/next/").json()["item"]["id"]

    response = client.post(
        f"/api/projects/{text_team.project.pk}/annotations/",
        {"item": item_id, **body},
        format="json",
    )

    assert response.status_code == 400
    assert "findings" in response.json()["error"]["fields"]
    assert not Annotation.objects.filter(project=text_team.project).exists()


def test_a_projects_task_is_fixed_and_findings_need_the_findings_task(
    api, text_team, findings_team
):
    client = api(text_team.manager)
    changed = client.patch(f"/api/projects/{findings_team.pk}/", {"task": "single"}, format="json")
    assert changed.status_code == 400 and "task" in changed.json()["error"]["fields"]
    refused = client.post(
        "/api/projects/",
        {"name": "X", "kind": "text", "findings": ["a", "b"]},
        format="json",
    )
    assert refused.status_code == 400 and "findings" in refused.json()["error"]["fields"]


def test_the_schema_documents_findings_answers(api, text_team):
    schema = api(text_team.manager).get("/api/schema/?format=json").json()
    submit = schema["components"]["schemas"]["AnnotationSubmit"]["properties"]
    assert submit["findings"]["additionalProperties"]["enum"] == ["present", "absent", "uncertain"]
    assert "task" in schema["components"]["schemas"]["Project"]["properties"]


def test_items_carry_their_findings_and_filter_by_finding_and_state(api, text_team, findings_team):
    project, client = findings_team, api(text_team.manager)
    lines = [
        json.dumps({"text": "first", "findings": {"effusion": "present", "origin": -1}}),
        json.dumps({"text": "second", "labels": "effusion|cardiomegaly"}),
        json.dumps({"text": "third", "findings": {}}),
        json.dumps({"text": "fourth"}),
    ]
    upload(client, project.pk, "reports.jsonl", "\n".join(lines).encode())

    def texts(**query):
        response = client.get(f"/api/projects/{project.pk}/items/", query)
        assert response.status_code == 200, response.json()
        return {row["text"]: row["findings"] for row in response.json()["results"]}

    everything = texts()
    assert everything["first"] == full({"effusion": "present", "origin": "uncertain"})
    assert everything["fourth"] is None
    assert set(texts(finding="effusion")) == {"first", "second"}
    assert set(texts(finding="origin", finding_state="uncertain")) == {"first"}
    assert set(texts(finding="effusion", finding_state="absent")) == {"third"}


def test_corrections_history_and_rulings_speak_findings(api, text_team, findings_team):
    project, client = findings_team, api(text_team.manager)
    upload(client, project.pk, "r.csv", b"text\none\ntwo\n")
    run_queued(project)
    item_id = client.get(f"/api/projects/{project.pk}/next/").json()["item"]["id"]
    first = client.post(
        f"/api/projects/{project.pk}/annotations/",
        {"item": item_id, "findings": {"effusion": "present"}},
        format="json",
    ).json()

    corrected = client.post(
        f"/api/projects/{project.pk}/annotations/{first['id']}/correct/",
        {"findings": {"effusion": "uncertain", "origin": "present"}},
        format="json",
    )
    assert corrected.status_code == 201, corrected.json()
    refused = client.post(
        f"/api/projects/{project.pk}/annotations/{corrected.json()['id']}/correct/",
        {"findings": {"nope": "present"}},
        format="json",
    )
    assert refused.status_code == 400 and "findings" in refused.json()["error"]["fields"]

    history = client.get(f"/api/projects/{project.pk}/items/{item_id}/history/").json()
    assert [h["findings"] for h in history] == [
        full({"effusion": "present"}),
        full({"effusion": "uncertain", "origin": "present"}),
    ]
    assert history[1]["replaces"] == first["id"]

    ruling = client.post(
        f"/api/projects/{project.pk}/items/{item_id}/adjudicate/",
        {"findings": {"cardiomegaly": "present"}},
        format="json",
    )
    assert ruling.status_code == 201, ruling.json()
    assert ruling.json()["findings"] == full({"cardiomegaly": "present"})
    rows = json.loads(export(client, project.pk, "json"))
    assert [row["findings"] for row in rows] == [full({"cardiomegaly": "present"})]


def test_an_image_findings_project_exports_one_folder_with_the_findings_in_metadata(
    api, image_team
):
    import zipfile

    from tests.data import shades_zip

    client = api(image_team.manager)
    created = client.post(
        "/api/projects/",
        {"name": "X-rays", "kind": "image", "task": "findings", "findings": ["mass", "nodule"]},
        format="json",
    ).json()
    project = Project.objects.get(pk=created["id"])
    upload(client, project.pk, "s.zip", shades_zip(3).getvalue())
    run_queued(project)
    answered = {}
    for sent in ({"mass": "present"}, {"nodule": "uncertain"}):
        item_id = client.get(f"/api/projects/{project.pk}/next/").json()["item"]["id"]
        client.post(
            f"/api/projects/{project.pk}/annotations/",
            {"item": item_id, "findings": sent},
            format="json",
        )
        answered[item_id] = sent

    archive = zipfile.ZipFile(io.BytesIO(export(client, project.pk, "imagefolder")))
    metadata = list(csv.DictReader(io.StringIO(archive.read("metadata.csv").decode())))
    assert {int(r["item_id"]): (r["mass"], r["nodule"]) for r in metadata} == {
        item_id: (str(VALUES[s.get("mass", "absent")]), str(VALUES[s.get("nodule", "absent")]))
        for item_id, s in answered.items()
    }
    assert all(r["file_name"].startswith("images/") for r in metadata)
    assert {r["file_name"] for r in metadata} <= set(archive.namelist())


@pytest.mark.parametrize("column", ["slices", "series_description", "sop_uid", "replaces"])
def test_a_finding_named_like_any_export_column_gets_its_own_column(column):
    """Every column a DICOM, scan or history export writes is protected, not only the plain
    CSV's: a finding called "slices" must not overwrite a scan's slice count."""
    from labeler.services.export_findings import finding_column

    assert finding_column(column) == "finding:" + column
    assert finding_column("effusion") == "effusion"
