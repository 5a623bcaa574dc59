"""Steps of the loop that many tests take: embed, run the queued retrain, answer with the
truth."""

from labeler import services
from labeler.models import FeatureSet, Item, ModelRun, Project


def truth(item: Item) -> str:
    """The right label of an item from tests.data (its file name's prefix: dark_3.png)."""
    return item.source_name.split("_")[0]


def embed_pending(project: Project) -> int:
    """Compute the project's unfinished feature sets here, as the embedding worker would;
    returns how many sets it worked on."""
    sets = FeatureSet.objects.filter(
        project=project, status__in=[FeatureSet.Status.PENDING, FeatureSet.Status.EMBEDDING]
    )
    worked = 0
    for feature_set in sets:
        worked += 1
        while services.feature_set_embed(feature_set_id=feature_set.pk, worker="test"):
            pass
    return worked


def run_queued(project: Project, *, embed: bool = True) -> ModelRun:
    """Run the project's queued retrain here, as the worker would; first (unless ``embed`` is
    False) let the embedding worker finish the features, as it does between rounds."""
    if embed:
        embed_pending(project)
    run = ModelRun.objects.get(project=project, status=ModelRun.Status.QUEUED)
    services.model_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


def label_open_entries(project: Project, annotator, count: int) -> None:
    """Lease and answer ``count`` items correctly."""
    for _ in range(count):
        next_item = services.next_item_lease(project=project, annotator=annotator)
        assert next_item.state == "ready", next_item.message
        item = next_item.entry.item
        services.annotation_submit(
            project=project, annotator=annotator, item_id=item.pk, label=truth(item)
        )
