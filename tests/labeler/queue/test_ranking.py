"""The ranking beyond the reserve: when the round and its reserve are used up and the next
round is late (the retrain starved of CPU), annotators get the next items of the latest
scoring's ranking, in its order, not random ones; the budget still counts every lease."""

import pytest

from labeler import engine, queue, services
from labeler.models import Annotation, Item, ModelRun, Project, QueueEntry
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import run_queued, truth


def shades(n_items: int, **fields) -> Project:
    project = ProjectFactory(kind="image", classes=["dark", "light"], round_size=10, **fields)
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(n_items))
    project.refresh_from_db()
    return project


def strategy_item_ids(project: Project) -> list[int]:
    items = Item.objects.filter(project=project, is_evaluation=False).order_by("pk")
    return list(items.values_list("pk", flat=True))


def stalled_round(project: Project, *, round_ids, reserve_ids, ranking) -> None:
    """A round and its reserve as a retrain writes them, with ``ranking`` beyond; then the
    next retrain starts and never finishes (no new round)."""
    run = ModelRun.objects.create(project=project, status=ModelRun.Status.SUCCEEDED)
    picks = [engine.Pick(pk, 1.0, None, None) for pk in round_ids + reserve_ids]
    queue.round_replace(
        project=project,
        run=run,
        picks=picks,
        eval_ids=[],
        eval_guesses={},
        n_round_picks=len(round_ids),
        n_round_eval=0,
        ranking=ranking,
    )
    ModelRun.objects.filter(project=project).exclude(pk=run.pk).delete()
    ModelRun.objects.create(project=project, status=ModelRun.Status.RUNNING)


def lease_and_answer(project: Project, annotator, hold: int) -> list[QueueEntry]:
    leased = queue.lease(project=project, annotator=annotator, hold=hold)
    for entry in leased.entries:
        services.annotation_submit(
            project=project, annotator=annotator, item_id=entry.item_id, label=truth(entry.item)
        )
    return leased.entries


@pytest.mark.django_db
def test_with_the_retrain_stalled_leases_serve_the_ranking_in_order_then_explore(monkeypatch):
    project = shades(40)
    ids = strategy_item_ids(project)
    # Not an order random exploration (from a random point of the pool, in id order) gives.
    ranking = ids[5:30][::-1]
    # The depth the ranking is written to: leases read no further.
    monkeypatch.setattr(queue.ranking, "RANKING_DEPTH", 20)
    stalled_round(project, round_ids=ids[:3], reserve_ids=ids[3:5], ranking=ranking)
    # A manager puts a ranked item at the front meanwhile: it is served once, from the queue.
    services.items_requeue(project=project, item_ids=[ranking[4]])
    alice, bob = UserFactory(), UserFactory()

    served: list[QueueEntry] = []
    for _ in range(6):
        served += lease_and_answer(project, alice, hold=3)
        served += lease_and_answer(project, bob, hold=2)

    items = [entry.item_id for entry in served]
    assert len(items) == len(set(items)) == 30
    assert set(items[:6]) == {*ids[:5], ranking[4]}  # round, reserve and requeued first
    # Then the ranking's first 20 in its order, without the requeued item answered before.
    ranked = [item for item in ranking[:20] if item != ranking[4]]
    assert items[6 : 6 + len(ranked)] == ranked
    assert all(
        queue.RANKED_RANK <= e.rank < queue.EXPLORATION_RANK for e in served[6 : 6 + len(ranked)]
    )
    # Only past the depth the ranking was written to do leases explore.
    assert all(e.rank == queue.EXPLORATION_RANK for e in served[6 + len(ranked) :])
    assert Annotation.objects.filter(project=project).count() == 30


@pytest.mark.django_db
def test_ranked_leases_count_against_the_budget_so_it_is_never_overshot():
    project = shades(30)
    ids = strategy_item_ids(project)
    ranking = ids[4:][::-1]
    stalled_round(project, round_ids=ids[:2], reserve_ids=ids[2:4], ranking=ranking)
    Project.objects.filter(pk=project.pk).update(budget=9)
    project.refresh_from_db()
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    for user in (alice, bob):
        lease_and_answer(project, user, hold=2)  # the round and the reserve

    alices = queue.lease(project=project, annotator=alice, hold=3).entries
    bobs = queue.lease(project=project, annotator=bob, hold=3).entries
    carols = queue.lease(project=project, annotator=carol, hold=3)

    assert [e.item_id for e in alices + bobs] == ranking[:5]
    assert len(alices) == 3 and len(bobs) == 2  # 4 answered + 5 held = the budget
    assert carols.state == "budget_spent" and not carols.entries
    for user, entries in ((alice, alices), (bob, bobs)):
        for entry in entries:
            services.annotation_submit(
                project=project, annotator=user, item_id=entry.item_id, label=truth(entry.item)
            )
    project.refresh_from_db()
    assert project.n_annotations == 9


@pytest.mark.django_db
def test_with_several_annotators_per_item_a_stalled_retrain_leaves_the_queue_empty():
    """Overlap: every item's N copies are queued together, by the round writer only; leases
    neither read the ranking nor explore."""
    project = shades(20, overlap=2)
    ids = strategy_item_ids(project)
    stalled_round(project, round_ids=ids[:2], reserve_ids=[], ranking=ids[2:])
    alice, bob = UserFactory(), UserFactory()
    for user in (alice, bob):
        assert len(lease_and_answer(project, user, hold=3)) == 2

    assert queue.lease(project=project, annotator=alice, hold=3).state == queue.EMPTY
    assert Annotation.objects.filter(project=project).count() == 4
    assert not QueueEntry.objects.filter(project=project, rank__gte=queue.RANKED_RANK).exists()


@pytest.mark.django_db
def test_a_retrain_writes_the_ranking_the_spares_continue_most_uncertain_first():
    project = shades(40)
    run_queued(project)
    annotator = UserFactory()
    for entry in services.items_lease(project=project, annotator=annotator, hold=10).entries:
        services.annotation_submit(
            project=project, annotator=annotator, item_id=entry.item_id, label=truth(entry.item)
        )
    run = ModelRun.objects.get(project=project, status=ModelRun.Status.QUEUED)
    held = Item.objects.none().values_list("id", flat=True)

    deeper = engine.train_and_choose(
        project=project, run=run, n_choose=4, held_item_ids=held, n_spare=12
    )
    ranked = engine.train_and_choose(
        project=project, run=run, n_choose=4, held_item_ids=held, n_spare=4, n_ranked=8
    )

    # The spares are unchanged by the ranking behind them, which goes on in their order: the
    # items a deeper reserve of spares would have held, by the same uncertainty measure.
    deeper_ids = [p.item_id for p in deeper.picks]
    assert [p.item_id for p in ranked.picks] == deeper_ids[:8]
    assert ranked.ranking == deeper_ids[8:]

    # The retrain writes it with its round; the next round replaces it.
    run_queued(project)
    latest = project.rounds.order_by("-number").first()
    assert latest.ranking.exists()
    assert set(latest.ranking.values_list("project", flat=True)) == {project.pk}
    assert not project.rounds.exclude(pk=latest.pk).filter(ranking__isnull=False).exists()
