"""The loop on the real database: cold start, leases, submits, retrain, next round."""

import datetime as dt

import pytest
from django.utils import timezone

from labeler import services
from labeler.models import (
    Annotation,
    FeatureSet,
    Item,
    ModelRun,
    Project,
    QueryRound,
    QueueEntry,
)
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import label_open_entries, run_queued

N_PER_CLASS = 40


@pytest.fixture
def shades_project(db):
    """An image project of dark and light 8×8 images; the truth is in the file name."""
    manager = UserFactory()
    project = ProjectFactory(
        kind="image", classes=["dark", "light"], created_by=manager, round_size=10
    )
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(N_PER_CLASS))
    project.refresh_from_db()
    return project


@pytest.mark.django_db
def test_import_queues_a_cold_start_run_that_fills_the_first_round(shades_project):
    run = run_queued(shades_project)

    assert run.status == ModelRun.Status.SUCCEEDED
    assert run.artifact_path == ""  # no labels yet: no model
    first = QueryRound.objects.get(project=shades_project)
    assert first.number == 1 and first.model_run is None and first.strategy == "cold_start"
    entries = list(QueueEntry.objects.filter(round=first, is_reserve=False).order_by("rank"))
    assert len(entries) == 10 and first.size == 10
    assert len({e.item_id for e in entries}) == 10
    kinds = [e.kind for e in entries]
    assert "evaluation" in kinds and "strategy" in kinds
    # Evaluation items come from the seeded random draw and are never strategy picks.
    for entry in entries:
        assert entry.item.is_evaluation == (entry.kind == "evaluation")
    # The embedding worker gave every item a row before the run chose on them.
    features = FeatureSet.objects.get(project=shades_project, representation="spectral")
    assert features.status == "ready" and features.processed == 80
    assert run.feature_set == features


@pytest.mark.django_db
def test_a_reload_returns_the_same_item_and_two_annotators_never_share_one(shades_project):
    run_queued(shades_project)
    alice, bob = UserFactory(), UserFactory()

    first = services.next_item_lease(project=shades_project, annotator=alice)
    again = services.next_item_lease(project=shades_project, annotator=alice)
    other = services.next_item_lease(project=shades_project, annotator=bob)

    assert first.entry.pk == again.entry.pk
    assert other.entry.pk != first.entry.pk
    assert other.entry.item_id != first.entry.item_id


@pytest.mark.django_db
def test_an_expired_lease_returns_the_item_to_the_queue(shades_project):
    run_queued(shades_project)
    alice, bob = UserFactory(), UserFactory()
    held = services.next_item_lease(project=shades_project, annotator=alice).entry
    QueueEntry.objects.filter(pk=held.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    taken = services.next_item_lease(project=shades_project, annotator=bob).entry

    assert taken.pk == held.pk
    # Alice's late submit is refused with a reason, and Bob's hold is intact.
    with pytest.raises(services.SubmitRejected) as rejected:
        services.annotation_submit(
            project=shades_project, annotator=alice, item_id=held.item_id, label="dark"
        )
    assert rejected.value.code == "lease_expired"
    assert not Annotation.objects.exists()


@pytest.mark.django_db
def test_labeling_a_round_trains_a_model_measures_it_and_queues_the_next_round(shades_project):
    run_queued(shades_project)
    expert = UserFactory()

    label_open_entries(shades_project, expert, 10)
    run = run_queued(shades_project)

    assert run.status == ModelRun.Status.SUCCEEDED
    assert run.n_labels > 0 and run.artifact_path
    assert run.metrics["n_evaluation"] > 0
    assert 0.0 <= run.metrics["accuracy"] <= 1.0
    assert run.metrics["accuracy_low"] <= run.metrics["accuracy"] <= run.metrics["accuracy_high"]
    assert QueryRound.objects.filter(project=shades_project).count() == 2
    second = QueryRound.objects.get(project=shades_project, number=2)
    assert second.model_run == run
    labeled = set(Item.objects.filter(status="labeled").values_list("pk", flat=True))
    assert not labeled & set(second.entries.values_list("item_id", flat=True))
    shades_project.refresh_from_db()
    assert shades_project.n_annotations == 10 and shades_project.n_labeled == 10


@pytest.mark.django_db
def test_the_next_round_is_requested_before_the_queue_runs_dry(shades_project):
    run_queued(shades_project)
    expert = UserFactory()

    label_open_entries(shades_project, expert, 7)
    assert not ModelRun.objects.filter(project=shades_project, status="queued").exists()
    label_open_entries(shades_project, expert, 1)

    # A quarter of the round (2 of 10) still open: the retrain is already queued, and
    # serving goes on meanwhile.
    assert ModelRun.objects.filter(project=shades_project, status="queued").exists()
    assert services.next_item_lease(project=shades_project, annotator=expert).state == "ready"


@pytest.mark.django_db
def test_a_retried_submit_with_the_same_client_key_creates_one_annotation(shades_project):
    run_queued(shades_project)
    expert = UserFactory()
    item = services.next_item_lease(project=shades_project, annotator=expert).entry.item

    first, created = services.annotation_submit(
        project=shades_project, annotator=expert, item_id=item.pk, label="dark", client_key="k1"
    )
    again, created_again = services.annotation_submit(
        project=shades_project, annotator=expert, item_id=item.pk, label="dark", client_key="k1"
    )

    assert created and not created_again and first.pk == again.pk
    assert Annotation.objects.count() == 1


@pytest.mark.django_db
def test_unknown_labels_and_other_projects_items_are_refused_and_nothing_changes(
    shades_project,
):
    run_queued(shades_project)
    expert = UserFactory()
    item = services.next_item_lease(project=shades_project, annotator=expert).entry.item
    other = ProjectFactory(kind="image", classes=["dark", "light"])

    with pytest.raises(services.SubmitRejected) as unknown:
        services.annotation_submit(
            project=shades_project, annotator=expert, item_id=item.pk, label="purple"
        )
    with pytest.raises(services.SubmitRejected) as foreign:
        services.annotation_submit(project=other, annotator=expert, item_id=item.pk, label="dark")

    assert unknown.value.code == "unknown_label" and "dark, light" in unknown.value.message
    assert foreign.value.code == "not_in_project"
    assert not Annotation.objects.exists()
    assert Item.objects.get(pk=item.pk).status == "unlabeled"


@pytest.mark.django_db
def test_budget_and_daily_cap_stop_serving_with_a_reason(shades_project):
    run_queued(shades_project)
    expert = UserFactory()
    Project.objects.filter(pk=shades_project.pk).update(daily_cap=2)
    shades_project.refresh_from_db()

    label_open_entries(shades_project, expert, 2)
    capped = services.next_item_lease(project=shades_project, annotator=expert)

    assert capped.state == "daily_cap" and capped.entry is None
    Project.objects.filter(pk=shades_project.pk).update(daily_cap=None, budget=2)
    shades_project.refresh_from_db()
    spent = services.next_item_lease(project=shades_project, annotator=UserFactory())
    assert spent.state == "budget_spent" and "budget of 2" in spent.message


@pytest.mark.django_db
def test_a_correction_keeps_the_old_label_in_the_history(shades_project):
    run_queued(shades_project)
    expert = UserFactory()
    item = services.next_item_lease(project=shades_project, annotator=expert).entry.item
    wrong, _ = services.annotation_submit(
        project=shades_project, annotator=expert, item_id=item.pk, label="light"
    )

    right = services.annotation_correct(annotation=wrong, annotator=expert, label="dark")

    history = list(Annotation.objects.filter(item=item).order_by("created_at", "id"))
    assert [a.label.name for a in history] == ["light", "dark"]
    assert [a.is_current for a in history] == [False, True]
    assert right.replaces == wrong
    assert Item.objects.get(pk=item.pk).label.name == "dark"


@pytest.mark.django_db
def test_undo_puts_the_item_back_at_the_front_of_the_annotators_queue(shades_project):
    run_queued(shades_project)
    expert = UserFactory()
    item = services.next_item_lease(project=shades_project, annotator=expert).entry.item
    services.annotation_submit(
        project=shades_project, annotator=expert, item_id=item.pk, label="dark"
    )

    undone = services.last_annotation_undo(project=shades_project, annotator=expert)

    assert undone.pk == item.pk
    assert services.next_item_lease(project=shades_project, annotator=expert).entry.item_id == (
        item.pk
    )
    assert Item.objects.get(pk=item.pk).status == "unlabeled"
    assert Annotation.objects.get(item=item).is_current is False


@pytest.mark.django_db
def test_a_failed_run_keeps_the_previous_queue_serving(shades_project, monkeypatch):
    run_queued(shades_project)
    expert = UserFactory()
    label_open_entries(shades_project, expert, 8)
    open_before = set(
        QueueEntry.objects.filter(project=shades_project, done=False).values_list("pk", flat=True)
    )

    def broken(**kwargs):
        raise RuntimeError("training blew up")

    monkeypatch.setattr("labeler.engine.train_and_choose", broken)
    run = ModelRun.objects.get(project=shades_project, status="queued")
    with pytest.raises(RuntimeError):
        services.model_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == "failed" and "training blew up" in run.error
    open_after = set(
        QueueEntry.objects.filter(project=shades_project, done=False).values_list("pk", flat=True)
    )
    assert open_after == open_before
    assert services.next_item_lease(project=shades_project, annotator=expert).state == "ready"


@pytest.mark.django_db
def test_a_run_that_is_not_queued_is_not_run_twice(shades_project):
    run = run_queued(shades_project)

    assert services.model_run_execute(run_id=run.pk) is None
    assert QueryRound.objects.filter(project=shades_project).count() == 1


@pytest.mark.django_db
def test_image_pools_are_embedded_spectrally_and_refitted_when_they_grow(shades_project):
    run_queued(shades_project)
    label_open_entries(shades_project, UserFactory(), 8)
    first = run_queued(shades_project)
    assert first.feature_set.representation == "spectral" and first.feature_set.version == 1
    assert first.metrics["representation"] == "spectral"

    more = shades_zip(N_PER_CLASS + 10)  # 20 new images on top of the 80 stored
    services.items_import_stream(project=shades_project, name="more.zip", stream=more)
    # The spectral embedding cannot place new items: a second version is fitted on all 100,
    # while the first keeps serving.
    second_version = FeatureSet.objects.get(project=shades_project, version=2)
    assert second_version.status == "pending"
    label_open_entries(shades_project, UserFactory(), 2)
    second = run_queued(shades_project)

    assert second.feature_set == second_version
    second_version.refresh_from_db()
    assert second_version.status == "ready" and second_version.processed == 100
    # The earlier model saw other coordinates: the curve does not re-measure it.
    assert [point["run"] for point in second.metrics["curve"]] == [second.pk]


@pytest.mark.django_db
def test_a_retrain_keeps_the_searched_C_until_the_labels_grow_by_a_quarter(shades_project):
    from learning.models import load_model

    run_queued(shades_project)
    expert = UserFactory()
    searched_on = []
    for _ in range(6):
        label_open_entries(shades_project, expert, 10)
        run = run_queued(shades_project)
        assert run.status == ModelRun.Status.SUCCEEDED
        model = load_model(run.artifact_path)
        searched_on.append((run.n_labels, model.C_searched_on_))

    # Each retrain either searched C on its own labels or kept the last search, and it kept
    # it exactly while its labels were fewer than 1.25 times those searched on.
    searches = [n for n, on in searched_on if on]
    assert len(searches) >= 2
    for (_, before), (n_labels, on) in zip(searched_on, searched_on[1:], strict=False):
        kept = before > 0 and n_labels < 1.25 * before
        assert on == (before if kept else (n_labels if n_labels >= 30 else 0))
    assert any(0 < on < n for n, on in searched_on)  # at least one retrain did not search
