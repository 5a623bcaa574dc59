"""A team's own model's predictions imported as suggestions (issue 24, item 4): never labels;
shown on the labeling page only where the project turns them on; the items page and the API
find where the loop's model and the team's disagree; the ``disagreement_external`` strategy
asks those items first. Bad files are refused naming the row, and nothing is stored."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from labeler import engine, services
from labeler.models import Annotation, Item, Membership, QueueEntry, Suggestion
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import label_open_entries, run_queued, truth


@pytest.fixture
def manager(db):
    return UserFactory(username="lead")


@pytest.fixture
def project(manager):
    """40 dark and light images, the cold-start round chosen, nothing labeled."""
    project = ProjectFactory(
        kind="image", classes=["dark", "light"], created_by=manager, round_size=10
    )
    services.items_import_stream(project=project, name="s.zip", stream=shades_zip(20))
    run_queued(project)
    project.refresh_from_db()
    return project


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(client: Client, project, name: str, body: str, **headers):
    file = io.BytesIO(body.encode())
    file.name = name
    return client.post(f"/api/projects/{project.pk}/suggestions/", {"file": file}, **headers)


def other(label: str) -> str:
    return "light" if label == "dark" else "dark"


def trained(project, annotator, labels: int = 10):
    """Label the open round truthfully and run the retrain it queues."""
    label_open_entries(project, annotator, labels)
    run = run_queued(project)
    assert run.artifact_path, run.error
    project.refresh_from_db()
    return run


def test_imported_predictions_are_suggestions_not_labels(project, manager):
    items = list(project.items.order_by("pk")[:3])
    queue_before = list(QueueEntry.objects.filter(project=project).values_list("pk", "done"))
    body = "item,label,score\n" + "".join(f"{item.pk},{truth(item)},0.9\n" for item in items)

    response = upload(client_for(manager), project, "team.csv", body)

    assert response.status_code == 201, response.json()
    assert response.json() == {"imported": 3, "replaced": 0}
    stored = {s.item_id: (s.label.name, s.score) for s in Suggestion.objects.all()}
    assert stored == {item.pk: (truth(item), 0.9) for item in items}
    # Not a label: no answer, no status, no counter, the queue untouched.
    assert Annotation.objects.count() == 0
    assert set(project.items.values_list("status", flat=True)) == {Item.Status.UNLABELED}
    assert not project.items.filter(label__isnull=False).exists()
    project.refresh_from_db()
    assert project.n_labeled == 0 and project.n_annotations == 0
    assert (
        list(QueueEntry.objects.filter(project=project).values_list("pk", "done")) == queue_before
    )


def test_a_row_per_class_gives_the_distribution_and_a_new_import_replaces(project, manager):
    item = project.items.order_by("pk").first()
    client = client_for(manager)
    lines = [{"item": item.pk, "label": "dark", "score": 0.3}]
    lines.append({"item": item.pk, "label": "light", "score": 0.7, "model": "team-v2"})
    body = "\n".join(json.dumps(line) for line in lines) + "\n"

    assert upload(client, project, "team.jsonl", body).json() == {"imported": 1, "replaced": 0}
    suggestion = Suggestion.objects.get(item=item)
    assert (suggestion.label.name, suggestion.score) == ("light", 0.7)
    assert suggestion.scores == {"dark": 0.3, "light": 0.7}
    again = upload(client, project, "again.csv", f"item,label\n{item.pk},dark\n")
    assert again.json() == {"imported": 1, "replaced": 1}
    assert Suggestion.objects.get(item=item).label.name == "dark"


def test_label_studio_predictions_import_by_task_id_or_source_name(project, manager):
    first, second = project.items.order_by("pk")[:2]
    tasks = [
        {
            "id": first.pk,
            "data": {"image": "x"},
            "predictions": [
                {
                    "model_version": "resnet-7",
                    "score": 0.8,
                    "result": [{"type": "choices", "value": {"choices": ["light"]}}],
                }
            ],
        },
        {
            "data": {"image": "y"},
            "meta": {"source_name": second.source_name},
            "predictions": [
                {"result": [{"type": "choices", "value": {"choices": ["dark"]}, "score": 0.6}]}
            ],
        },
        {"id": 10**9, "data": {"image": "z"}},  # no predictions: skipped
    ]

    response = upload(client_for(manager), project, "ls.json", json.dumps(tasks))

    assert response.status_code == 201, response.json()
    rows = Suggestion.objects.order_by("item_id").values_list(
        "item_id", "label__name", "score", "model_version"
    )
    assert list(rows) == [
        (first.pk, "light", 0.8, "resnet-7"),
        (second.pk, "dark", 0.6, ""),
    ]


@pytest.mark.parametrize(
    "row, says",
    [
        ("{other_item},dark,0.5", "item {other_item} is not in this project"),
        ("{item},cat,0.5", "'cat' is not one of the project's classes"),
        ("{item},dark,1.5", "'score' must be a number between 0 and 1"),
        ("{item},dark,nan", "'score' must be a number between 0 and 1"),
        ("abc,dark,0.5", "'item' must be an item id"),
        ("99999999999999999999999,dark,0.5", "'item' must be an item id"),
        (",,0.5", "'item' (the item id) or 'source_name' is missing"),
    ],
)
def test_a_bad_row_is_a_400_naming_it_and_nothing_is_stored(project, manager, row, says):
    item = project.items.order_by("pk").first()
    other_item = 10**9  # no item of this project
    body = f"item,label,score\n{item.pk},dark,0.5\n" + row.format(
        item=item.pk, other_item=other_item
    )

    response = upload(client_for(manager), project, "bad.csv", body + "\n")

    assert response.status_code == 400
    message = response.json()["error"]["fields"]["file"][0]
    assert message.startswith("Row 3: ")
    assert says.format(other_item=other_item) in message
    assert Suggestion.objects.count() == 0


def test_a_nul_in_a_name_is_refused_naming_its_row(project, manager):
    line = json.dumps({"source_name": "a\x00b", "label": "dark"})
    response = upload(client_for(manager), project, "bad.jsonl", line + "\n")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["file"][0].startswith("Row 1: 'source_name'")
    assert Suggestion.objects.count() == 0


def test_a_bad_row_is_refused_in_korean_and_an_unknown_format_names_the_file(project, manager):
    client = client_for(manager)
    with translation.override("ko"):
        response = upload(
            client, project, "bad.csv", f"item,label\n{10**9},dark\n", HTTP_ACCEPT_LANGUAGE="ko"
        )
    assert response.status_code == 400
    message = response.json()["error"]["fields"]["file"][0]
    assert message.startswith("2행") and "이 프로젝트에 없습니다" in message, message
    unknown = upload(client, project, "team.xlsx", "x")
    assert (
        unknown.status_code == 400 and "team.xlsx" in unknown.json()["error"]["fields"]["file"][0]
    )


def test_annotators_and_viewers_cannot_import_or_list_suggestions(project, manager):
    for role in (Membership.Role.ANNOTATOR, Membership.Role.VIEWER):
        user = UserFactory()
        Membership.objects.create(project=project, user=user, role=role)
        client = client_for(user)
        assert upload(client, project, "t.csv", "item,label\n").status_code == 403
        assert client.get(f"/api/projects/{project.pk}/suggestions/").status_code == 403


def test_the_labeling_page_shows_a_suggestion_only_where_the_project_turns_it_on(project, manager):
    client = client_for(manager)
    served = client.get(f"/api/projects/{project.pk}/next/").json()["item"]
    # Every item has one: the page is a tab of its own and holds other items than the API's.
    rows = "".join(f"{pk},light,0.75\n" for pk in project.items.values_list("pk", flat=True))
    upload(client, project, "t.csv", "item,label,score\n" + rows)

    assert served["suggestion"] is None
    assert client.get(f"/api/projects/{project.pk}/next/").json()["item"]["suggestion"] is None
    page = client.get(reverse("label", args=[project.pk])).content.decode()
    assert '"suggestion": {' not in page

    services.project_update(project=project, changes={"show_suggestions": True})
    again = client.get(f"/api/projects/{project.pk}/next/").json()["item"]
    assert again["id"] == served["id"]
    assert again["suggestion"] == {"label": "light", "score": 0.75}
    page = client.get(reverse("label", args=[project.pk])).content.decode()
    assert '"suggestion": {"label": "light", "score": 0.75}' in page
    assert "Your model suggests" in page

    # Accepting it is the annotator's own answer, like any other.
    answer = client.post(
        f"/api/projects/{project.pk}/annotations/",
        {"item": served["id"], "label": again["suggestion"]["label"]},
        content_type="application/json",
    )
    assert answer.status_code == 201
    assert Item.objects.get(pk=served["id"]).label.name == "light"


def listed_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-item="(\d+)"', response.content.decode())]


def test_the_items_page_and_the_api_find_where_our_model_and_your_model_disagree(project, manager):
    trained(project, manager)
    guessed = list(project.items.filter(model_label__isnull=False).order_by("pk")[:6])
    assert len(guessed) == 6
    disagreeing = {item.pk for item in guessed[:2]}
    said = {
        item.pk: other(item.model_label.name) if item.pk in disagreeing else item.model_label.name
        for item in guessed
    }
    body = "item,label,score\n" + "".join(f"{pk},{label},0.9\n" for pk, label in said.items())
    client = client_for(manager)
    assert upload(client, project, "t.csv", body).status_code == 201

    url = reverse("project-items", args=[project.pk])
    assert set(listed_ids(client.get(url, {"suggestion_disagrees": "on"}))) == disagreeing
    page = client.get(url).content.decode()
    assert "Our model and your model disagree" in page and "Your model" in page
    api = client.get(f"/api/projects/{project.pk}/items/", {"suggestion_disagrees": "true"})
    assert {row["id"] for row in api.json()["results"]} == disagreeing


def test_after_a_retrain_the_suggested_items_have_the_models_guess_to_compare(project, manager):
    label_open_entries(project, manager, 10)
    unqueued = (
        project.items.filter(status=Item.Status.UNLABELED)
        .exclude(queue_entries__isnull=False)
        .order_by("pk")
        .first()
    )
    upload(client_for(manager), project, "t.csv", f"item,label\n{unqueued.pk},dark\n")

    run_queued(project)

    unqueued.refresh_from_db()
    assert unqueued.model_label is not None


def test_disagreement_external_asks_first_where_the_two_models_disagree(project, manager):
    run = trained(project, manager)
    services.project_update(project=project, changes={"strategy": "disagreement_external"})
    pool = list(
        project.items.filter(status=Item.Status.UNLABELED, is_evaluation=False).values_list(
            "pk", flat=True
        )
    )
    guesses = engine.predict_items(run=run, item_ids=pool)
    assert len(guesses) >= 8
    # The team's model agrees with the loop's guess everywhere but on three items the loop's
    # model is surest of.
    surest = sorted(guesses, key=lambda pk: -guesses[pk][1])
    contradicted = set(surest[:3])
    body = "item,label,score\n" + "".join(
        f"{pk},{other(label) if pk in contradicted else label},{confidence:.6f}\n"
        for pk, (label, confidence) in guesses.items()
    )
    assert upload(client_for(manager), project, "t.csv", body).status_code == 201
    services.retrain_force(project=project)

    chosen_by = run_queued(project)

    assert chosen_by.artifact_path, chosen_by.error
    picks = list(
        QueueEntry.objects.filter(
            round__model_run=chosen_by, kind=QueueEntry.Kind.STRATEGY, is_reserve=False
        )
        .order_by("rank")
        .values_list("item_id", flat=True)
    )
    assert set(picks[:3]) == contradicted, picks
