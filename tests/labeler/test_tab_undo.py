"""Undo in a labeling-page tab takes back that tab's own last action (an answer, a skip, a
change from the strip), not the one another tab of the same person gave just after it; an undo
without a tab (the API's way) still takes back the latest of any."""

import pytest
from django.urls import reverse

from labeler import services
from labeler.models import Annotation, Item, Membership, Project
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import run_queued, truth


@pytest.fixture
def project(db) -> Project:
    project = ProjectFactory(kind="image", classes=["dark", "light"], round_size=10)
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(10))
    run_queued(project)
    project.refresh_from_db()
    return project


@pytest.fixture
def expert(client, project):
    user = UserFactory()
    Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
    client.force_login(user)
    return user


def post(client, project: Project, name: str, tab: str = "", **data) -> dict:
    if tab:
        data["tab"] = tab
    response = client.post(reverse(f"label-{name}", args=[project.pk]), {"hold": 2, **data})
    assert response.status_code == 200, response.content
    return response.json()


def shown(client, project: Project, tab: str) -> int:
    """The item on the tab's screen: the first it holds."""
    return post(client, project, "lease", tab)["items"][0]["item_id"]


def answer(client, project: Project, tab: str, item_id: int, label: str | None = None) -> int:
    label = label or truth(Item.objects.get(pk=item_id))
    body = post(client, project, "answer", tab, item_id=item_id, label=label)
    return body["saved"]["annotation_id"]


def current(item_id: int) -> list[str]:
    return [a.label.name for a in Annotation.objects.filter(item_id=item_id, is_current=True)]


def test_undo_in_a_tab_takes_back_its_own_answer_not_the_other_tabs_later_one(
    client, project, expert
):
    first_item = shown(client, project, "tab-a")
    second_item = shown(client, project, "tab-b")
    assert first_item != second_item
    answer(client, project, "tab-a", first_item)
    answer(client, project, "tab-b", second_item)  # the person's latest answer

    body = post(client, project, "undo", "tab-a")

    assert body["undone"]["item_id"] == first_item
    assert body["items"][0]["item_id"] == first_item  # back on tab A's screen
    assert current(first_item) == [] and len(current(second_item)) == 1
    # Tab A has nothing more of its own to take back; tab B still has its answer.
    assert post(client, project, "undo", "tab-a")["notice"] == "Nothing to undo."
    assert len(current(second_item)) == 1
    assert post(client, project, "undo", "tab-b")["undone"]["item_id"] == second_item
    assert current(second_item) == []


def test_undo_in_a_tab_brings_back_its_own_skip_before_another_tabs_later_answer(
    client, project, expert
):
    skipped = shown(client, project, "tab-a")
    post(client, project, "skip", "tab-a", item_id=skipped)
    answered = shown(client, project, "tab-b")
    answer(client, project, "tab-b", answered)

    body = post(client, project, "undo", "tab-a")

    assert body["undone"] == {
        "item_id": skipped,
        "label": "",
        "message": f"Brought back item {skipped}, which you skipped.",
    }
    assert Item.objects.get(pk=skipped).status == Item.Status.UNLABELED
    assert len(current(answered)) == 1


def test_undo_in_a_tab_takes_back_a_change_made_from_its_strip(client, project, expert):
    first_item = shown(client, project, "tab-a")
    first = answer(client, project, "tab-a", first_item, "dark")
    second_item = shown(client, project, "tab-b")
    answer(client, project, "tab-b", second_item)
    post(client, project, "correct", "tab-a", annotation_id=first, label="light")
    answer(client, project, "tab-b", shown(client, project, "tab-b"))

    body = post(client, project, "undo", "tab-a")

    assert body["undone"]["item_id"] == first_item and body["undone"]["label"] == "light"
    assert current(first_item) == ["dark"]


def test_an_undo_without_a_tab_still_takes_back_the_latest_answer_of_any(client, project, expert):
    first_item = shown(client, project, "tab-a")
    second_item = shown(client, project, "tab-b")
    answer(client, project, "tab-a", first_item)
    answer(client, project, "tab-b", second_item)

    assert post(client, project, "undo")["undone"]["item_id"] == second_item
    assert services.last_annotation_undo(project=project, annotator=expert).pk == first_item
