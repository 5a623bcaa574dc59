from datetime import timedelta

import pytest
from django.utils import timezone

from labeler.models import Annotation, Item, Project, QueueEntry
from tests.conftest import png_bytes
from tests.labeler.api.factories import item_add, round_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(text_team):
    items = [item_add(text_team.project, text=f"message {n}") for n in range(3)]
    round_add(text_team.project, items)
    return items


def next_url(project) -> str:
    return f"/api/projects/{project.pk}/next/"


def submit(client, project, **payload):
    return client.post(f"/api/projects/{project.pk}/annotations/", payload, format="json")


def test_next_leases_the_top_item_with_its_text_and_lease_expiry(api, text_team, queued):
    response = api(text_team.annotator).get(next_url(text_team.project))

    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "ready"
    assert body["item"]["id"] == queued[0].pk
    assert body["item"]["text"] == "message 0"
    assert body["item"]["image_url"] is None
    assert body["item"]["lease_expires_at"]
    assert "kind" not in body["item"]
    entry = QueueEntry.objects.get(item=queued[0])
    assert entry.leased_by == text_team.annotator


def test_asking_again_returns_the_same_leased_item(api, text_team, queued):
    client = api(text_team.annotator)

    first = client.get(next_url(text_team.project)).json()
    second = client.get(next_url(text_team.project)).json()

    assert first["item"]["id"] == second["item"]["id"]


def test_two_annotators_get_different_items(api, text_team, queued):
    mine = api(text_team.annotator).get(next_url(text_team.project)).json()
    theirs = api(text_team.manager).get(next_url(text_team.project)).json()

    assert mine["item"]["id"] != theirs["item"]["id"]


def test_next_on_image_projects_gives_an_image_url(api, image_team):
    item = item_add(image_team.project, image=png_bytes(3))
    round_add(image_team.project, [item])

    body = api(image_team.annotator).get(next_url(image_team.project)).json()

    assert body["item"]["image_url"] == f"http://testserver/api/items/{item.pk}/file/"


def test_the_model_guess_is_shown_only_when_the_project_enables_it(api, text_team, queued):
    QueueEntry.objects.filter(item=queued[0]).update(
        predicted_label=text_team.project.classes.get(name="ham"), predicted_confidence=0.8
    )
    client = api(text_team.annotator)

    hidden = client.get(next_url(text_team.project)).json()
    Project.objects.filter(pk=text_team.project.pk).update(show_model_guess=True)
    shown = client.get(next_url(text_team.project)).json()

    assert hidden["item"]["model_guess"] is None
    assert shown["item"]["model_guess"] == "ham"


def test_next_with_everything_labeled_is_done_with_a_null_item(api, text_team):
    body = api(text_team.annotator).get(next_url(text_team.project)).json()

    assert body == {
        "item": None,
        "state": "done",
        "message": "Every item in this project is labeled or skipped.",
    }


def test_next_after_the_budget_is_spent_says_so(api, text_team, queued):
    Project.objects.filter(pk=text_team.project.pk).update(budget=1, n_annotations=1)

    body = api(text_team.annotator).get(next_url(text_team.project)).json()

    assert body["state"] == "budget_spent"
    assert body["item"] is None
    assert "budget" in body["message"]


def test_submitting_a_label_creates_the_annotation(api, text_team, queued):
    client = api(text_team.annotator)
    item_id = client.get(next_url(text_team.project)).json()["item"]["id"]

    response = submit(
        client, text_team.project, item=item_id, label="spam", client_key="k-1", seconds_spent=4.5
    )

    assert response.status_code == 201
    body = response.json()
    assert body["item"] == item_id
    assert body["label"] == "spam"
    assert body["annotator"] == "text-annotator"
    # Annotators never learn afterwards which of their items were evaluation items.
    assert body["kind"] is None
    assert body["round"] == 1
    assert body["seconds_spent"] == 4.5
    assert Item.objects.get(pk=item_id).label.name == "spam"


def test_a_retry_with_the_same_client_key_returns_the_same_annotation_with_200(
    api, text_team, queued
):
    client = api(text_team.annotator)
    item_id = client.get(next_url(text_team.project)).json()["item"]["id"]

    first = submit(client, text_team.project, item=item_id, label="spam", client_key="retry-me")
    again = submit(client, text_team.project, item=item_id, label="spam", client_key="retry-me")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert Annotation.objects.filter(item_id=item_id).count() == 1


def test_an_unknown_label_is_a_400_with_the_reason_naming_the_field(api, text_team, queued):
    client = api(text_team.annotator)
    item_id = client.get(next_url(text_team.project)).json()["item"]["id"]

    response = submit(client, text_team.project, item=item_id, label="eggs")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_label"
    assert "'eggs'" in error["message"]
    assert error["fields"] == {"label": [error["message"]]}
    assert not Annotation.objects.exists()


def test_a_label_for_an_item_of_another_project_is_a_400_and_changes_nothing(
    api, text_team, queued
):
    foreign = item_add(text_team.other_project, text="not yours")
    round_add(text_team.other_project, [foreign])

    response = submit(api(text_team.annotator), text_team.project, item=foreign.pk, label="spam")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_in_project"
    assert list(response.json()["error"]["fields"]) == ["item"]
    assert not Annotation.objects.exists()


def test_a_submit_for_an_item_another_annotator_now_holds_is_a_409(api, text_team, queued):
    QueueEntry.objects.filter(item=queued[0]).update(
        leased_by=text_team.manager, lease_expires_at=timezone.now() + timedelta(minutes=5)
    )

    response = submit(api(text_team.annotator), text_team.project, item=queued[0].pk, label="ham")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "lease_expired"
    assert not Annotation.objects.exists()


def test_a_submit_missing_item_and_label_names_both_fields(api, text_team):
    response = submit(api(text_team.annotator), text_team.project)

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"item", "label"}


def test_skipping_takes_the_item_out_of_the_annotators_queue(api, text_team, queued):
    client = api(text_team.annotator)
    first = client.get(next_url(text_team.project)).json()["item"]["id"]

    skipped = client.post(f"/api/projects/{text_team.project.pk}/items/{first}/skip/")
    after = client.get(next_url(text_team.project)).json()["item"]["id"]

    assert skipped.status_code == 204
    assert after != first
    assert Item.objects.get(pk=first).status == Item.Status.SKIPPED


def test_skipping_an_item_of_another_project_is_rejected(api, text_team):
    foreign = item_add(text_team.other_project, text="not yours")

    response = api(text_team.annotator).post(
        f"/api/projects/{text_team.project.pk}/items/{foreign.pk}/skip/"
    )

    assert response.status_code == 400
    assert Item.objects.get(pk=foreign.pk).status == Item.Status.UNLABELED


@pytest.fixture
def two_labels(api, text_team, queued):
    """The annotator labels queued[0], the manager queued[1]."""
    for user in (text_team.annotator, text_team.manager):
        client = api(user)
        item_id = client.get(next_url(text_team.project)).json()["item"]["id"]
        submit(client, text_team.project, item=item_id, label="spam")
    return Annotation.objects.order_by("id")


def test_annotators_list_only_their_own_annotations_and_managers_all(api, text_team, two_labels):
    url = f"/api/projects/{text_team.project.pk}/annotations/"

    own = api(text_team.annotator).get(url).json()["results"]
    everyone = api(text_team.manager).get(url).json()["results"]

    assert [a["annotator"] for a in own] == ["text-annotator"]
    assert [a["annotator"] for a in everyone] == ["text-manager", "text-annotator"]


def test_an_annotator_cannot_read_someone_elses_annotation(api, text_team, two_labels):
    managers = two_labels.get(annotator=text_team.manager)

    response = api(text_team.annotator).get(
        f"/api/projects/{text_team.project.pk}/annotations/{managers.pk}/"
    )

    assert response.status_code == 404


def test_a_correction_keeps_the_history(api, text_team, two_labels):
    original = two_labels.get(annotator=text_team.annotator)
    client = api(text_team.annotator)
    base = f"/api/projects/{text_team.project.pk}/annotations/"

    response = client.post(f"{base}{original.pk}/correct/", {"label": "ham"}, format="json")
    history = client.get(f"{base}?item={original.item_id}").json()["results"]

    assert response.status_code == 201
    assert response.json()["replaces"] == original.pk
    assert [(a["label"], a["is_current"]) for a in history] == [("ham", True), ("spam", False)]
    assert Item.objects.get(pk=original.item_id).label.name == "ham"


def test_correcting_a_replaced_annotation_is_a_409(api, text_team, two_labels):
    original = two_labels.get(annotator=text_team.annotator)
    client = api(text_team.annotator)
    url = f"/api/projects/{text_team.project.pk}/annotations/{original.pk}/correct/"
    client.post(url, {"label": "ham"}, format="json")

    response = client.post(url, {"label": "spam"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_current"


def test_annotations_filter_by_label_and_current(api, text_team, two_labels):
    url = f"/api/projects/{text_team.project.pk}/annotations/"
    client = api(text_team.manager)

    spam = client.get(f"{url}?label=spam&current=true").json()["results"]
    ham = client.get(f"{url}?label=ham").json()["results"]

    assert len(spam) == 2
    assert ham == []


@pytest.mark.parametrize("path", ["next/", "annotations/"])
def test_viewers_cannot_label(api, text_team, queued, path):
    client = api(text_team.viewer)

    response = client.get(f"/api/projects/{text_team.project.pk}/{path}")

    assert response.status_code == 403
    assert QueueEntry.objects.filter(leased_by__isnull=False).count() == 0


@pytest.mark.parametrize(
    "since", ["4331-06-29T01:22:31+18:28", "9999-12-31T23:00:00-05:00", "yesterday"]
)
def test_an_absurd_since_time_is_a_400_or_harmless_never_a_crash(api, text_team, two_labels, since):
    response = api(text_team.manager).get(
        f"/api/projects/{text_team.project.pk}/annotations/", {"since": since}
    )

    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "since" in response.json()["error"]["fields"]


def test_an_unsure_answer_is_stored_and_managers_filter_on_it(api, text_team, queued):
    client = api(text_team.annotator)
    first = client.get(next_url(text_team.project)).json()["item"]["id"]
    submit(client, text_team.project, item=first, label="spam", is_unsure=True)
    second = client.get(next_url(text_team.project)).json()["item"]["id"]
    submit(client, text_team.project, item=second, label="spam")

    url = f"/api/projects/{text_team.project.pk}/annotations/?unsure=true"
    flagged = api(text_team.manager).get(url).json()["results"]

    assert [(a["item"], a["is_unsure"]) for a in flagged] == [(first, True)]


def test_next_while_the_model_updates_asks_the_client_to_come_back_later(api, text_team):
    from labeler.models import ModelRun

    ModelRun.objects.create(project=text_team.project, status=ModelRun.Status.RUNNING)

    response = api(text_team.annotator).get(next_url(text_team.project))

    assert response.json()["state"] == "updating"
    assert int(response["Retry-After"]) >= 1
