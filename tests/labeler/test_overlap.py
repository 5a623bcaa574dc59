"""Overlap: several annotators per item, majority vote, adjudication and agreement."""

import pytest

from labeler import selectors, services
from labeler.models import Annotation, Item, ModelRun, Project
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory


@pytest.fixture
def panel_project(db):
    project = ProjectFactory(
        kind="image", classes=["dark", "light"], round_size=6, overlap=2, evaluation_share=0
    )
    services.items_import_stream(project=project, name="s.zip", stream=shades_zip(10))
    run = ModelRun.objects.get(project=project)
    services.model_run_execute(run_id=run.pk)
    project.refresh_from_db()
    return project


def answer(project: Project, annotator, label_for=lambda item: item.source_name.split("_")[0]):
    entry = services.next_item_lease(project=project, annotator=annotator).entry
    services.annotation_submit(
        project=project, annotator=annotator, item_id=entry.item_id, label=label_for(entry.item)
    )
    return entry.item


@pytest.mark.django_db
def test_each_item_goes_to_two_different_annotators_and_never_twice_to_one(panel_project):
    alice, bob = UserFactory(), UserFactory()

    alice_items = [answer(panel_project, alice).pk for _ in range(6)]
    bob_items = [answer(panel_project, bob).pk for _ in range(6)]

    assert len(set(alice_items)) == 6 and len(set(bob_items)) == 6
    assert set(alice_items) == set(bob_items)


@pytest.mark.django_db
def test_an_item_is_labeled_only_when_its_annotators_agree(panel_project):
    alice, bob, manager = UserFactory(), UserFactory(), UserFactory()
    item = answer(panel_project, alice)
    assert Item.objects.get(pk=item.pk).status == "pending"
    assert Item.objects.get(pk=item.pk).label is None

    # Bob gets the same item next (its second copy) and disagrees.
    entry = services.next_item_lease(project=panel_project, annotator=bob).entry
    assert entry.item_id == item.pk
    truth = item.source_name.split("_")[0]
    other = "light" if truth == "dark" else "dark"
    services.annotation_submit(project=panel_project, annotator=bob, item_id=item.pk, label=other)

    assert Item.objects.get(pk=item.pk).status == "conflict"
    panel_project.refresh_from_db()
    assert panel_project.n_labeled == 0

    services.item_adjudicate(project=panel_project, manager=manager, item_id=item.pk, label=truth)
    resolved = Item.objects.get(pk=item.pk)
    assert (resolved.status, resolved.label.name) == ("labeled", truth)
    panel_project.refresh_from_db()
    assert panel_project.n_labeled == 1


@pytest.mark.django_db
def test_a_second_answer_from_the_same_annotator_is_their_answer_never_a_second_vote(
    panel_project,
):
    """Two tabs of one annotator can both answer an item (issue 23): the same answer again is
    the one stored, another one replaces it; either way the item still waits for a second
    annotator."""
    alice = UserFactory()
    item = answer(panel_project, alice)
    said = Annotation.objects.get(item=item).label.name
    other = "light" if said == "dark" else "dark"

    again, created = services.annotation_submit(
        project=panel_project, annotator=alice, item_id=item.pk, label=said
    )
    assert not created and Annotation.objects.filter(item=item).count() == 1
    changed, created = services.annotation_submit(
        project=panel_project, annotator=alice, item_id=item.pk, label=other
    )

    assert created and changed.replaces_id == again.pk
    current = Annotation.objects.filter(item=item, is_current=True)
    assert [(a.annotator_id, a.label.name) for a in current] == [(alice.pk, other)]
    assert Item.objects.get(pk=item.pk).status == "pending"


@pytest.mark.django_db
def test_agreement_figures_report_kappa_and_each_annotator_against_the_consensus(
    panel_project,
):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    for _ in range(6):
        answer(panel_project, alice)
        answer(panel_project, bob)

    stats = selectors.agreement_stats(project=panel_project)

    assert stats["overlap"] == 2 and stats["conflicts"] == 0
    assert stats["fleiss_kappa"] == pytest.approx(1.0)
    (pair,) = stats["pairs"]
    assert pair["annotators"] == ["alice", "bob"] and pair["items"] == 6
    assert pair["cohen_kappa"] == pytest.approx(1.0)
    assert {row["annotator"]: row["agreement"] for row in stats["versus_consensus"]} == {
        "alice": 1.0,
        "bob": 1.0,
    }


@pytest.mark.django_db
def test_an_items_history_shows_every_change_old_to_new(panel_project):
    alice = UserFactory()
    item = answer(panel_project, alice, label_for=lambda item: "dark")
    first = item.annotations.get()
    services.annotation_correct(annotation=first, annotator=alice, label="light")

    history = selectors.item_history(item=item, user=panel_project.created_by, role="manager")

    assert [(a.annotator, a.label.name, a.is_current) for a in history] == [
        (alice, "dark", False),
        (alice, "light", True),
    ]
    assert history[1].replaces == history[0]


@pytest.mark.django_db
def test_deleting_a_project_takes_its_annotations_but_a_used_class_cannot_be_deleted(
    panel_project,
):
    from django.db.models import RestrictedError

    from labeler.models import Annotation, LabelClass

    alice = UserFactory()
    item = answer(panel_project, alice)
    used = Annotation.objects.get(item=item).label

    with pytest.raises(RestrictedError):
        LabelClass.objects.filter(pk=used.pk).delete()
    panel_project.delete()

    assert not Annotation.objects.exists()
    assert not Item.objects.exists()
