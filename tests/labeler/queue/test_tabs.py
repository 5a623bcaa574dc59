"""Two tabs of one annotator (or a tab and an API client): each holds items of its own, and
neither refuses the other's answers; a tab that would get nothing is given the item another of
the same person's tabs reaches last. Budgets, daily caps and overlap stay exact."""

import datetime as dt

import pytest
from django.utils import timezone

from labeler import services
from labeler.models import Annotation, Project, QueueEntry
from labeler.queue import MAX_HOLD
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import run_queued, truth


def shades(n_items: int = 40, **settings) -> Project:
    project = ProjectFactory(kind="image", classes=["dark", "light"], round_size=10, **settings)
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(n_items))
    run_queued(project)
    project.refresh_from_db()
    return project


def held(project: Project, annotator, tab: str, hold: int = 3) -> list[int]:
    leased = services.items_lease(project=project, annotator=annotator, hold=hold, tab=tab)
    return [entry.item_id for entry in leased.entries]


def submit(project: Project, annotator, item_id: int, label: str | None = None, key=None):
    item = project.items.get(pk=item_id)
    return services.annotation_submit(
        project=project,
        annotator=annotator,
        item_id=item_id,
        label=label or truth(item),
        client_key=key,
    )


def other(label: str) -> str:
    return "light" if label == "dark" else "dark"


@pytest.mark.django_db
def test_two_tabs_hold_different_items_and_each_accepts_the_others_answers():
    project = shades()
    expert = UserFactory()

    first_tab, second_tab = held(project, expert, "tab-a"), held(project, expert, "tab-b")
    # A reload of either tab gets its own items back, in their order.
    assert held(project, expert, "tab-a") == first_tab
    assert held(project, expert, "tab-b") == second_tab
    assert not set(first_tab) & set(second_tab)

    # The second tab answers an item the first holds: accepted, and the first tab no longer
    # holds it (its next items are topped up from the queue instead).
    annotation, created = submit(project, expert, first_tab[0], key="b1")
    assert created and annotation.item_id == first_tab[0]
    again = held(project, expert, "tab-a")
    assert first_tab[0] not in again and again[:2] == first_tab[1:]
    assert not set(again) & set(held(project, expert, "tab-b"))

    # Answering each tab's items from the other: nothing refused, everything stored once.
    for item_id in again + held(project, expert, "tab-b"):
        submit(project, expert, item_id)
    stored = Annotation.objects.filter(project=project)
    assert stored.count() == 1 + 6
    assert stored.values("item").distinct().count() == 7
    project.refresh_from_db()
    assert project.n_annotations == 7


@pytest.mark.django_db
def test_an_item_answered_in_both_tabs_is_stored_once_or_changed_never_refused():
    """Both tabs can show one item when the first tab's hold ran out and the second took it:
    the second answer of the same person is never refused. The same answer again is the stored
    one (a retry); another answer changes it, as a correction, counted once more."""
    project = shades()
    expert = UserFactory()
    item_id = held(project, expert, "tab-a", hold=1)[0]
    QueueEntry.objects.filter(item_id=item_id, done=False).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert held(project, expert, "tab-b", hold=1) == [item_id]
    label = truth(project.items.get(pk=item_id))

    first, created = submit(project, expert, item_id, label, key="from-b")
    same, created_again = submit(project, expert, item_id, label, key="from-a")

    assert created and not created_again and same.pk == first.pk
    assert Annotation.objects.filter(item_id=item_id).count() == 1
    changed, created = submit(project, expert, item_id, other(label), key="from-a")
    assert created and changed.replaces_id == first.pk
    assert list(Annotation.objects.filter(item_id=item_id, is_current=True)) == [changed]
    project.refresh_from_db()
    assert project.n_annotations == Annotation.objects.filter(project=project).count() == 2
    # A replay of either tab's outbox stores nothing more.
    replayed, created = submit(project, expert, item_id, label, key="from-b")
    assert not created and replayed.pk == first.pk
    assert Annotation.objects.filter(item_id=item_id).count() == 2


@pytest.mark.django_db
def test_another_annotators_hold_is_still_refused():
    project = shades()
    alice, bob = UserFactory(), UserFactory()
    item_id = held(project, alice, "tab-a", hold=1)[0]

    with pytest.raises(services.SubmitRejected) as refused:
        submit(project, bob, item_id)

    assert refused.value.code == "lease_expired"


@pytest.mark.django_db
def test_the_daily_cap_counts_the_items_every_tab_holds():
    project = shades(daily_cap=4)
    expert = UserFactory()

    assert len(held(project, expert, "tab-a")) == 3
    assert len(held(project, expert, "tab-b")) == 1
    leased = services.items_lease(project=project, annotator=expert, hold=3, tab="tab-c")
    assert leased.state == "daily_cap" and not leased.entries


@pytest.mark.django_db
def test_the_budget_counts_the_items_every_tab_holds():
    project = shades(budget=5)
    expert = UserFactory()

    first, second = held(project, expert, "tab-a"), held(project, expert, "tab-b")

    assert len(first) + len(second) == 5
    for item_id in first + second:
        submit(project, expert, item_id)
    project.refresh_from_db()
    assert project.n_annotations == 5
    assert services.items_lease(project=project, annotator=expert, tab="tab-c").state == (
        "budget_spent"
    )


@pytest.mark.django_db
def test_with_overlap_two_tabs_never_hold_both_copies_of_one_item():
    project = shades(n_items=20, overlap=2, evaluation_share=0)
    expert = UserFactory()

    first, second = held(project, expert, "tab-a"), held(project, expert, "tab-b")

    assert len(first) == len(second) == 3
    assert not set(first) & set(second)
    for item_id in first + second:
        submit(project, expert, item_id)
    assert Annotation.objects.filter(annotator=expert).values("item").distinct().count() == 6


@pytest.mark.django_db
def test_a_client_without_a_tab_is_one_tab_of_its_own():
    project = shades()
    expert = UserFactory()

    api = services.next_item_lease(project=project, annotator=expert).entry.item_id
    page = held(project, expert, "tab-a")

    assert services.next_item_lease(project=project, annotator=expert).entry.item_id == api
    assert api not in page
    submit(project, expert, page[0])
    assert services.next_item_lease(project=project, annotator=expert).entry.item_id == api


def small_project_all_held_in_one_tab(expert, **settings) -> tuple[Project, list[int]]:
    """A project so small that one labeling page holds every item left to label."""
    project = shades(n_items=3, **settings)
    page = held(project, expert, "tab-a", hold=MAX_HOLD)
    open_entries = QueueEntry.objects.filter(project=project, done=False)
    assert sorted(page) == sorted(open_entries.values_list("item_id", flat=True))
    assert not project.items.filter(status="unlabeled").exclude(pk__in=page).exists()
    return project, page


@pytest.mark.django_db
def test_a_client_is_given_the_item_its_other_tab_reaches_last_when_nothing_else_is_left():
    expert = UserFactory()
    project, page = small_project_all_held_in_one_tab(expert)

    api = services.next_item_lease(project=project, annotator=expert)

    # Not "updating" until the page's leases expire: the page's last item, shared with it.
    assert api.state == "ready" and api.entry.item_id == page[-1]
    assert services.next_item_lease(project=project, annotator=expert).entry.item_id == page[-1]
    assert held(project, expert, "tab-a", hold=MAX_HOLD) == page
    submit(project, expert, page[-1])
    assert held(project, expert, "tab-a", hold=MAX_HOLD) == page[:-1]
    assert services.next_item_lease(project=project, annotator=expert).entry.item_id == page[-2]
    # The page answers what the client was shown too: taken as the same person's answer.
    submit(project, expert, page[-2])
    submit(project, expert, page[-2], key="api-again")
    project.refresh_from_db()
    assert project.n_annotations == Annotation.objects.filter(project=project).count() == 2


@pytest.mark.django_db
def test_shared_items_spend_the_budget_once_each():
    expert = UserFactory()
    project, page = small_project_all_held_in_one_tab(expert, budget=100)
    Project.objects.filter(pk=project.pk).update(budget=len(page) + 1)
    project.refresh_from_db()

    for _ in page:
        item_id = services.next_item_lease(project=project, annotator=expert).entry.item_id
        submit(project, expert, item_id)
        # The page answers it too, the same: no second label.
        submit(project, expert, item_id, key=f"page-{item_id}")

    project.refresh_from_db()
    assert project.n_annotations == Annotation.objects.filter(project=project).count()
    assert project.n_annotations == len(page)
    assert held(project, expert, "tab-a", hold=MAX_HOLD) == []


@pytest.mark.django_db
def test_a_client_whose_other_tab_holds_the_rest_of_the_budget_is_told_so():
    expert = UserFactory()
    project, page = small_project_all_held_in_one_tab(expert, budget=100)
    Project.objects.filter(pk=project.pk).update(budget=len(page))
    project.refresh_from_db()

    api = services.next_item_lease(project=project, annotator=expert)

    assert api.state == "budget_spent" and api.entry is None
    assert "other open pages" in api.message
    for item_id in page:
        submit(project, expert, item_id)
    project.refresh_from_db()
    assert project.n_annotations == len(page)
    api = services.next_item_lease(project=project, annotator=expert)
    assert api.state == "budget_spent" and "other open pages" not in api.message


@pytest.mark.django_db
def test_another_annotator_is_never_given_an_item_someone_else_holds():
    alice, bob = UserFactory(), UserFactory()
    project, page = small_project_all_held_in_one_tab(alice)

    assert services.next_item_lease(project=project, annotator=bob).entry is None
