"""Steps of the loop that many tests take: run the queued retrain, answer with the truth."""

from labeler import services
from labeler.models import Item, ModelRun, Project


def truth(item: Item) -> str:
    """The right label of an item from tests.data (its file name's prefix: dark_3.png)."""
    return item.source_name.split("_")[0]


def run_queued(project: Project) -> ModelRun:
    """Run the project's queued retrain here, as the worker would."""
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
