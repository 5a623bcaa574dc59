"""What each role sees (labeler/access.py's SIGHT), on the pages, in the API and in the exports:
an annotator never learns which items are evaluation items, and reads an item's history only
for items they answered and only their own answers there, on the page and in the API alike."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from labeler import access
from labeler.models import Item, Project, QueueEntry
from tests.factories import UserFactory
from tests.labeler.api.factories import annotation_add, item_add, membership_add, round_add

pytestmark = pytest.mark.django_db

EVALUATION_WORDS = re.compile(r"evaluation|is_evaluation|>eval<|Training pool", re.IGNORECASE)


@pytest.fixture
def evaluation_item(text_team):
    """An evaluation item the annotator answered (served as an evaluation entry), beside a
    strategy item they answered too."""
    project = text_team.project
    evaluation = item_add(project, text="the first message", is_evaluation=True)
    chosen = item_add(project, text="the second message")
    query_round = round_add(project, [evaluation, chosen])
    QueueEntry.objects.filter(item=evaluation).update(kind=QueueEntry.Kind.EVALUATION, done=True)
    QueueEntry.objects.filter(item=chosen).update(done=True)
    annotation_add(
        evaluation,
        text_team.annotator,
        "spam",
        kind=QueueEntry.Kind.EVALUATION,
        query_round=query_round,
    )
    annotation_add(chosen, text_team.annotator, "ham", query_round=query_round)
    return evaluation


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# The policy ---------------------------------------------------------------------------------


def test_only_managers_see_which_items_are_evaluation_items():
    assert {role for role in access.ALL_ROLES if access.sight(role).evaluation} == {access.MANAGER}
    assert not access.sight(None).evaluation


def test_whoever_may_export_sees_the_evaluation_set_the_export_carries():
    exporters = access.ACTIONS["labels.export"].roles
    assert exporters and all(access.sight(role).evaluation for role in exporters)
    for name in ("project-export", "api:export"):
        assert access.URL_RULES[name].read == "labels.export"


def test_annotators_see_only_their_own_answers_and_readers_see_everyones():
    assert not access.sight(access.ANNOTATOR).every_answer
    assert access.sight(access.VIEWER).every_answer and access.sight(access.MANAGER).every_answer


def test_the_history_page_and_the_history_api_follow_one_rule():
    assert access.URL_RULES["item-history"].read == access.URL_RULES["api:item-history"].read


def test_item_and_annotation_fields_drop_evaluation_membership_below_manager():
    fields = ["id", "text", "is_evaluation"]
    assert access.item_fields_for(access.MANAGER, fields) == fields
    assert access.item_fields_for(access.VIEWER, fields) == ["id", "text"]
    assert access.item_fields_for(access.ANNOTATOR, fields) == ["id", "text"]
    assert access.annotation_fields_for(access.ANNOTATOR, ["label", "kind"]) == ["label"]


# Evaluation membership on the pages ---------------------------------------------------------


def test_an_annotator_never_sees_evaluation_membership_on_the_item_and_items_pages(
    text_team, evaluation_item
):
    client = page_client(text_team.annotator)
    project = text_team.project

    history = client.get(reverse("item-history", args=[project.pk, evaluation_item.pk]))
    items = client.get(reverse("project-items", args=[project.pk]))

    assert history.status_code == 200 and items.status_code == 200
    assert "the first message" in history.text and "the first message" in items.text
    assert not EVALUATION_WORDS.search(history.text)
    assert not EVALUATION_WORDS.search(items.text)


def test_a_manager_sees_the_evaluation_set_on_the_item_and_items_pages(text_team, evaluation_item):
    client = page_client(text_team.manager)
    project = text_team.project

    history = client.get(reverse("item-history", args=[project.pk, evaluation_item.pk]))
    items = client.get(reverse("project-items", args=[project.pk]))

    assert "Evaluation (never trained on)" in history.text
    assert re.search(r"<td>\s*evaluation\s*</td>", history.text)
    assert ">eval<" in items.text


def test_a_viewer_reads_every_answer_but_not_the_evaluation_set(text_team, evaluation_item):
    history = page_client(text_team.viewer).get(
        reverse("item-history", args=[text_team.project.pk, evaluation_item.pk])
    )

    assert history.status_code == 200
    assert "<td>text-annotator</td>" in history.text
    assert not EVALUATION_WORDS.search(history.text)


def test_the_labeling_page_serves_an_evaluation_item_like_any_other(text_team):
    project = text_team.project
    evaluation = item_add(project, text="served first", is_evaluation=True)
    chosen = item_add(project, text="served second")
    round_add(project, [evaluation, chosen])
    QueueEntry.objects.filter(item=evaluation).update(kind=QueueEntry.Kind.EVALUATION)

    page = page_client(text_team.annotator).get(reverse("label", args=[project.pk]))

    assert page.status_code == 200
    setup = json.loads(re.search(r'id="label-setup"[^>]*>(.*?)</script>', page.text, re.S)[1])
    served = {item["text"]: item for item in setup["items"]}
    assert set(served) == {"served first", "served second"}
    assert served["served first"].keys() == served["served second"].keys()
    assert not EVALUATION_WORDS.search(page.text)


# Evaluation membership in the API -----------------------------------------------------------


def test_next_item_serves_an_evaluation_item_unmarked(api, text_team):
    project = text_team.project
    evaluation = item_add(project, text="served first", is_evaluation=True)
    round_add(project, [evaluation])
    QueueEntry.objects.filter(item=evaluation).update(kind=QueueEntry.Kind.EVALUATION)

    response = api(text_team.annotator).get(f"/api/projects/{project.pk}/next/")

    assert response.status_code == 200
    assert response.json()["item"]["id"] == evaluation.pk
    assert not EVALUATION_WORDS.search(response.content.decode())


def test_an_annotator_cannot_tell_their_evaluation_answers_apart_in_the_api(
    api, text_team, evaluation_item
):
    client = api(text_team.annotator)
    base = f"/api/projects/{text_team.project.pk}"

    answers = client.get(f"{base}/annotations/").json()["results"]
    by_kind = client.get(f"{base}/annotations/?kind=evaluation").json()["results"]
    history = client.get(f"{base}/items/{evaluation_item.pk}/history/")

    assert len(answers) == 2 and all(answer["kind"] is None for answer in answers)
    # The kind filter would tell them apart: it is ignored for annotators.
    assert len(by_kind) == 2
    assert history.status_code == 200
    assert [answer["kind"] for answer in history.json()] == [None]
    assert not EVALUATION_WORDS.search(history.content.decode())


def test_a_manager_reads_and_filters_the_kind_of_answers_in_the_api(
    api, text_team, evaluation_item
):
    client = api(text_team.manager)
    base = f"/api/projects/{text_team.project.pk}"

    by_kind = client.get(f"{base}/annotations/?kind=evaluation").json()["results"]
    history = client.get(f"{base}/items/{evaluation_item.pk}/history/").json()
    item = client.get(f"{base}/items/{evaluation_item.pk}/").json()

    assert [answer["item"] for answer in by_kind] == [evaluation_item.pk]
    assert [answer["kind"] for answer in history] == ["evaluation"]
    assert item["is_evaluation"] is True


def test_a_viewer_reads_the_history_without_the_kind_of_answers(api, text_team, evaluation_item):
    history = api(text_team.viewer).get(
        f"/api/projects/{text_team.project.pk}/items/{evaluation_item.pk}/history/"
    )

    assert history.status_code == 200
    assert [(a["annotator"], a["kind"]) for a in history.json()] == [("text-annotator", None)]


# Exports ------------------------------------------------------------------------------------


def test_annotators_and_viewers_get_no_export_which_carries_the_evaluation_set(
    api, text_team, evaluation_item
):
    project = text_team.project
    for user in (text_team.annotator, text_team.viewer):
        api_export = api(user).get(f"/api/projects/{project.pk}/export/?format=csv")
        page_export = page_client(user).get(reverse("project-export", args=[project.pk]))
        items = page_client(user).get(reverse("project-items", args=[project.pk]))

        assert api_export.status_code == 403 and page_export.status_code == 403
        assert reverse("project-export", args=[project.pk]) not in items.text

    manager_export = api(text_team.manager).get(f"/api/projects/{project.pk}/export/?format=csv")
    assert manager_export.status_code == 200
    assert "is_evaluation" in b"".join(manager_export.streaming_content).decode()


# An item's history: one rule on the page and in the API --------------------------------------


@pytest.fixture
def shared_item(text_team):
    """An item two annotators answered differently (overlap)."""
    second = UserFactory(username="second-annotator")
    membership_add(project=text_team.project, user=second, role="annotator")
    item = item_add(text_team.project, text="a disputed message")
    annotation_add(item, text_team.annotator, "spam")
    annotation_add(item, second, "ham")
    return item


def _history_answers(text_team, user, item, *, where: str) -> tuple[int, list[str]]:
    """(status, the annotators whose answers show) of an item's history page or API."""
    project = text_team.project
    if where == "page":
        response = page_client(user).get(reverse("item-history", args=[project.pk, item.pk]))
        shown = re.findall(
            r'data-annotation="\d+">\s*<td[^>]*>[^<]*</td>\s*<td>([^<]+)</td>', response.text
        )
        return response.status_code, sorted(shown)
    client = Client()
    client.force_login(user)
    response = client.get(f"/api/projects/{project.pk}/items/{item.pk}/history/")
    answers = response.json() if response.status_code == 200 else []
    return response.status_code, sorted(a["annotator"] for a in answers)


@pytest.mark.parametrize("where", ["page", "api"])
def test_an_annotator_reads_only_their_own_answers_in_an_items_history(
    text_team, shared_item, where
):
    status, shown = _history_answers(text_team, text_team.annotator, shared_item, where=where)

    assert (status, shown) == (200, ["text-annotator"])


@pytest.mark.parametrize("where", ["page", "api"])
def test_an_annotator_cannot_open_the_history_of_an_item_they_did_not_answer(text_team, where):
    item = item_add(text_team.project, text="someone else's")
    annotation_add(item, text_team.manager, "spam")

    status, shown = _history_answers(text_team, text_team.annotator, item, where=where)

    assert (status, shown) == (403, [])


@pytest.mark.parametrize("where", ["page", "api"])
@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_managers_and_viewers_read_every_answer_in_an_items_history(
    text_team, shared_item, where, role
):
    status, shown = _history_answers(text_team, text_team.user(role), shared_item, where=where)

    assert (status, shown) == (200, ["second-annotator", "text-annotator"])


@pytest.mark.parametrize("where", ["page", "api"])
def test_an_outsider_finds_no_history(text_team, shared_item, where):
    status, _ = _history_answers(text_team, text_team.outsider, shared_item, where=where)

    assert status == 404


# Links and forms follow the same table as the URLs ------------------------------------------


@pytest.mark.parametrize("role", ["manager", "annotator", "viewer"])
def test_the_project_tabs_link_exactly_the_pages_the_policy_opens_to_the_role(text_team, role):
    project = text_team.project
    body = page_client(text_team.user(role)).get(reverse("project-items", args=[project.pk])).text
    listed = page_client(text_team.user(role)).get(reverse("project-list")).text

    for name, action in [
        ("label", "label"),
        ("project-dashboard", "dashboard.read"),
        ("project-settings", "project.manage"),
        ("project-import", "project.manage"),
    ]:
        link = f'href="{reverse(name, args=[project.pk])}"'
        allowed = access.role_may(role, action)
        assert (link in body) is allowed, (name, role)
        assert (link in listed) is allowed, (name, role)


def test_with_overlap_an_annotators_items_page_tells_no_consensus(text_team, shared_item):
    """As on the item's page: with several annotators per item, an item's status (waiting,
    disputed, decided) and final label are their consensus, which biases the next answer."""
    project = text_team.project
    Project.objects.filter(pk=project.pk).update(overlap=2)
    Item.objects.filter(pk=shared_item.pk).update(status=Item.Status.CONFLICT)
    url = reverse("project-items", args=[project.pk])

    mine = page_client(text_team.annotator).get(url).text
    disputed = page_client(text_team.annotator).get(url, {"status": "conflict"}).text
    managed = page_client(text_team.manager).get(url).text

    assert "a disputed message" in mine and "a disputed message" in disputed
    assert "status-item-conflict" not in mine and 'name="status"' not in mine
    assert 'name="label"' not in mine and 'name="disagrees"' not in mine
    assert "status-item-conflict" in managed and 'name="status"' in managed
