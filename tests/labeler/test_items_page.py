"""The items page through Django's test client: filters, cursor paging, bulk requeue and
un-skip, label correction from the item's page, the export button, and who sees what."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from labeler import selectors_items, services
from labeler.models import Annotation, Item, Membership, ModelRun, QueueEntry
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import label_open_entries, run_queued, truth


@pytest.fixture
def manager(db):
    return UserFactory(username="head")


@pytest.fixture
def project(manager):
    """24 dark and light 8×8 images; the cold-start round is queued and chosen."""
    project = ProjectFactory(
        kind="image", classes=["dark", "light"], created_by=manager, round_size=8
    )
    services.items_import_stream(project=project, name="s.zip", stream=shades_zip(12))
    run_queued(project)
    project.refresh_from_db()
    return project


def member(project, role: str, username: str):
    user = UserFactory(username=username)
    Membership.objects.create(project=project, user=user, role=role)
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed_ids(response) -> list[int]:
    import re

    return [int(pk) for pk in re.findall(r'<tr data-item="(\d+)"', response.content.decode())]


def test_manager_filters_skipped_items_and_unskips_them_back_into_the_pool(project, manager):
    first = services.next_item_lease(project=project, annotator=manager).entry.item
    services.item_skip(project=project, annotator=manager, item_id=first.pk)
    client = client_for(manager)
    url = reverse("project-items", args=[project.pk])

    assert listed_ids(client.get(url, {"status": "skipped"})) == [first.pk]
    assert first.pk not in listed_ids(client.get(url, {"status": "unlabeled"}))

    response = client.post(
        reverse("project-items-bulk", args=[project.pk]),
        {"action": "unskip", "items": [first.pk], "back": "status=skipped"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("?status=skipped")
    first.refresh_from_db()
    assert first.status == Item.Status.UNLABELED
    assert not first.skips.exists()
    assert listed_ids(client.get(url, {"status": "skipped"})) == []


def test_requeued_item_is_served_next_and_survives_the_next_round(project, manager):
    annotator = member(project, "annotator", "alice")
    queued = set(QueueEntry.objects.filter(project=project).values_list("item_id", flat=True))
    outside = Item.objects.filter(project=project).exclude(pk__in=queued).first()
    client = client_for(manager)
    client.post(
        reverse("project-items-bulk", args=[project.pk]),
        {"action": "requeue", "items": [outside.pk]},
    )
    assert services.next_item_lease(project=project, annotator=annotator).entry.item == outside

    other = member(project, "annotator", "bob")
    label_open_entries(project, other, 6)
    services.retrain_force(project=project)
    run_queued(project)  # a new round replaces the old round's unserved entries
    assert QueueEntry.objects.filter(item=outside, done=False).exists()


def test_requeue_refuses_a_labeled_item_and_says_so(project, manager):
    label_open_entries(project, manager, 1)
    labeled = Item.objects.get(project=project, status=Item.Status.LABELED)
    response = client_for(manager).post(
        reverse("project-items-bulk", args=[project.pk]),
        {"action": "requeue", "items": [labeled.pk]},
        follow=True,
    )
    assert "already labeled; correct it instead" in response.content.decode()
    assert not QueueEntry.objects.filter(item=labeled, done=False).exists()


def test_cursor_pages_cover_every_item_once_in_each_sort(project, manager):
    everything = set(Item.objects.filter(project=project).values_list("pk", flat=True))
    for sort in ("newest", "oldest"):
        seen, cursor = [], ""
        while True:
            page = selectors_items.items_page(
                project=project,
                viewer=manager,
                own_only=False,
                filters=selectors_items.ItemFilter(sort=sort),
                cursor=cursor,
                limit=5,
            )
            seen += [item.pk for item in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert len(seen) == len(everything) and set(seen) == everything
        assert seen == sorted(seen, reverse=sort == "newest")


def test_a_tampered_cursor_gives_the_first_page_with_a_notice(project, manager):
    response = client_for(manager).get(
        reverse("project-items", args=[project.pk]), {"cursor": "not-a-cursor"}
    )
    assert response.status_code == 200
    assert "out of date" in response.content.decode()


def test_model_guesses_are_stored_and_the_disagreement_filter_finds_wrong_labels(project, manager):
    label_open_entries(project, manager, 8)
    wrong = Item.objects.filter(project=project, status=Item.Status.LABELED).first()
    answer = Annotation.objects.get(item=wrong, is_current=True)
    flipped = "light" if answer.label.name == "dark" else "dark"
    services.annotation_correct(annotation=answer, annotator=manager, label=flipped)
    ModelRun.objects.filter(project=project, status=ModelRun.Status.QUEUED).delete()
    services.retrain_force(project=project)
    run_queued(project)

    labeled = Item.objects.filter(project=project, status=Item.Status.LABELED)
    assert labeled.count() == 8
    assert all(item.model_label_id is not None for item in labeled)
    response = client_for(manager).get(
        reverse("project-items", args=[project.pk]), {"disagrees": "on", "status": "labeled"}
    )
    shown = listed_ids(response)
    # Every item shown is one whose label the model contradicts, and the wrong label is one.
    for item in Item.objects.filter(pk__in=shown):
        assert item.label_id != item.model_label_id
    wrong.refresh_from_db()
    if wrong.model_label.name == truth(wrong):
        assert wrong.pk in shown


def test_a_model_guess_is_rewritten_only_when_it_changes(project, manager):
    label_open_entries(project, manager, 8)
    ModelRun.objects.filter(project=project, status=ModelRun.Status.QUEUED).delete()
    services.retrain_force(project=project)
    run_queued(project)
    run = ModelRun.objects.filter(project=project, status=ModelRun.Status.SUCCEEDED).latest("pk")
    item = Item.objects.filter(project=project, status=Item.Status.LABELED).first()
    Item.objects.filter(pk=item.pk).update(model_label=None, model_confidence=None)

    # The same run's guesses again: only the item whose stored guess differs is written.
    assert services.item_predictions_store(run=run) == 1
    item.refresh_from_db()
    assert item.model_label_id is not None


def test_manager_corrects_a_label_from_the_item_page_and_the_history_keeps_the_old_one(
    project, manager
):
    label_open_entries(project, manager, 1)
    item = Item.objects.get(project=project, status=Item.Status.LABELED)
    old = item.label.name
    new = "light" if old == "dark" else "dark"
    client = client_for(manager)
    page = client.get(reverse("item-history", args=[project.pk, item.pk])).content.decode()
    assert reverse("item-correct", args=[project.pk, item.pk]) in page

    response = client.post(
        reverse("item-correct", args=[project.pk, item.pk]), {"label": new}, follow=True
    )
    item.refresh_from_db()
    assert item.label.name == new
    answers = list(Annotation.objects.filter(item=item).order_by("created_at", "id"))
    assert [a.label.name for a in answers] == [old, new]
    assert answers[1].replaces_id == answers[0].pk and not answers[0].is_current
    assert "state-replaced" in response.content.decode()


def test_annotator_sees_only_the_items_they_answered_with_their_own_answer(project, manager):
    alice = member(project, "annotator", "alice")
    label_open_entries(project, alice, 2)
    label_open_entries(project, manager, 2)
    mine = set(Annotation.objects.filter(annotator=alice).values_list("item_id", flat=True))
    response = client_for(alice).get(reverse("project-items", args=[project.pk]))
    assert set(listed_ids(response)) == mine
    assert 'name="annotator"' not in response.content.decode()
    assert 'id="bulk-form"' in response.content.decode()
    assert "project-items-bulk" not in response.content.decode()
    refused = client_for(alice).post(
        reverse("project-items-bulk", args=[project.pk]), {"action": "unskip", "items": [1]}
    )
    assert refused.status_code == 403


def test_an_annotator_sees_no_model_guess_on_the_items_page_nor_sorts_or_filters_by_it(
    project, manager
):
    alice = member(project, "annotator", "alice")
    label_open_entries(project, alice, 8)
    ModelRun.objects.filter(project=project, status=ModelRun.Status.QUEUED).delete()
    services.retrain_force(project=project)
    run_queued(project)
    guessed = Item.objects.filter(project=project, model_label__isnull=False)
    assert guessed.filter(annotations__annotator=alice).exists()
    url = reverse("project-items", args=[project.pk])

    page = client_for(alice).get(url).content.decode()
    assert "Model&#x27;s guess" not in page and "Model's guess" not in page
    assert 'name="predicted"' not in page and "least_confident" not in page
    # A crafted query cannot sort by the model's confidence either.
    assert listed_ids(client_for(alice).get(url, {"sort": "least_confident"})) == []
    # The manager sees the guesses and may sort by them.
    managed = client_for(manager).get(url, {"sort": "least_confident"})
    assert "Model&#x27;s guess" in managed.content.decode()
    assert listed_ids(managed)


def test_export_button_streams_the_labels_in_the_chosen_format(project, manager):
    label_open_entries(project, manager, 3)
    response = client_for(manager).get(
        reverse("project-export", args=[project.pk]),
        {"format": "csv", "final": "1", "include_evaluation": "on"},
    )
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 3
    assert {row["label"] for row in rows} <= {"dark", "light"}


def test_export_of_an_unknown_format_goes_back_with_a_message(project, manager):
    response = client_for(manager).get(
        reverse("project-export", args=[project.pk]), {"format": "xlsx"}, follow=True
    )
    assert response.status_code == 200
    assert "Choose one of the export formats" in response.content.decode()


def test_annotator_opening_the_dashboard_is_sent_to_labeling(project):
    alice = member(project, "annotator", "alice")
    response = client_for(alice).get(reverse("project-dashboard", args=[project.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("label", args=[project.pk])


def test_a_refused_page_is_the_styled_403_with_a_way_back(project):
    viewer = member(project, "viewer", "vera")
    response = client_for(viewer).get(reverse("project-settings", args=[project.pk]))
    assert response.status_code == 403
    body = response.content.decode()
    assert 'class="card error-page"' in body
    assert reverse("project-list") in body


def test_an_unknown_page_is_the_styled_404(manager):
    response = client_for(manager).get("/projects/999999/items/")
    assert response.status_code == 404
    assert 'class="card error-page"' in response.content.decode()


def test_the_500_page_renders_without_the_request_context(rf):
    from labeler.views import errors

    response = errors.server_error(rf.get("/anything"))
    assert response.status_code == 500
    body = response.content.decode()
    assert 'class="card error-page"' in body and reverse("project-list") in body


def test_a_refused_request_is_logged_without_a_traceback(project, caplog):
    viewer = member(project, "viewer", "vera")
    with caplog.at_level("WARNING", logger="django.request"):
        client_for(viewer).get(reverse("project-settings", args=[project.pk]))
    refusals = [r for r in caplog.records if r.name == "django.request"]
    assert refusals and all(r.exc_info is None for r in refusals)
    assert "Forbidden" in refusals[0].getMessage()


def test_manager_finds_the_answers_an_annotator_flagged_unsure(project, manager):
    label_open_entries(project, manager, 3)
    flagged = Annotation.objects.filter(project=project).first()
    Annotation.objects.filter(pk=flagged.pk).update(is_unsure=True)
    response = client_for(manager).get(
        reverse("project-items", args=[project.pk]), {"status": "flagged"}
    )
    assert listed_ids(response) == [flagged.item_id]
