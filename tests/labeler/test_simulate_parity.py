"""``python -m learning.simulate DATA`` with no flags makes a new project's choices on the same
data: the representation, the model, the pixel size, the rows, and the first labels."""

import zipfile

import numpy as np
import pytest

from labeler import engine, services
from labeler.models import FeatureSet, ModelRun, QueueEntry
from learning import simulate
from learning.datasets import featurize, load_labeled, project_choices_for
from learning.project_defaults import initial_positions
from tests.data import shade_png, texts_csv, topic_texts
from tests.factories import ProjectFactory
from tests.loop_steps import run_queued


def _simulator_plan(path, capsys):
    """What the CLI resolves (its own log line) and the matrices it would learn on."""
    assert (
        simulate.main(
            [
                str(path),
                "--budget",
                "24",
                "--batch",
                "4",
                "--initial",
                "20",
                "--repeats",
                "1",
                "--no-progress",
                "--strategies",
                "default",
            ]
        )
        == 0
    )
    log = capsys.readouterr().err
    data = load_labeled(path)
    choices = project_choices_for(data, data.subset(np.arange(0)))
    X, _, name = featurize(data, data.subset(np.arange(0)), "auto")
    return log, choices, X, name, data


@pytest.mark.slow
@pytest.mark.django_db
def test_the_simulator_makes_a_new_text_projects_choices(tmp_path, capsys):
    rows = topic_texts(20)
    labeled = tmp_path / "topics.csv"
    labeled.write_bytes(texts_csv(rows, with_labels=True).getvalue())
    log, choices, X, name, data = _simulator_plan(labeled, capsys)

    project = ProjectFactory(kind="text", classes=["sports", "cooking"], round_size=10)
    services.items_import_stream(project=project, name="topics.csv", stream=texts_csv(rows))
    run = run_queued(project)
    features = FeatureSet.objects.get(project=project)

    assert name == choices.representation == features.representation == "minilm"
    assert f"features {name} ({X.shape[1]}-d), model {choices.model}" in log
    assert run.model_name == choices.model
    stored = engine.feature_rows_open(features)
    by_text = dict(zip(data.items, X, strict=True))
    for item in project.items.all()[:10]:
        row = stored.pool[int(stored.rows_of([item.pk])[0])]
        np.testing.assert_allclose(row, by_text[item.text], atol=1e-5)
    _assert_first_labels_are_initial_positions(project, run, stored)


@pytest.mark.slow
@pytest.mark.django_db
def test_the_simulator_makes_a_new_image_projects_choices(tmp_path, capsys):
    folder = tmp_path / "shades"
    archive = tmp_path / "shades.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for index in range(30):
            for label, mean in (("dark", 50), ("light", 200)):
                png = shade_png(mean, index + (0 if label == "dark" else 1000))
                (folder / label).mkdir(parents=True, exist_ok=True)
                (folder / label / f"{label}_{index}.png").write_bytes(png)
                zipped.writestr(f"{label}_{index}.png", png)
    log, choices, X, name, _ = _simulator_plan(folder, capsys)

    project = ProjectFactory(kind="image", classes=["dark", "light"], round_size=10)
    with archive.open("rb") as stream:
        services.items_import_stream(project=project, name="shades.zip", stream=stream)
    run = run_queued(project)
    features = FeatureSet.objects.get(project=project, representation=name)

    assert name == choices.representation == features.representation == "spectral"
    # The candidates "auto" re-decides between by evidence are the same (issue 20).
    assert "representation re-decided by evidence between spectral, pixels" in log
    kept = FeatureSet.objects.filter(project=project).values_list("representation", flat=True)
    assert sorted(kept) == ["pixels", "spectral"]
    assert f"features {name} ({X.shape[1]}-d), model {choices.model}" in log
    assert run.model_name == choices.model
    assert tuple(features.params["image_size"]) == choices.image_size == (8, 8)
    assert features.dimension == X.shape[1]
    _assert_first_labels_are_initial_positions(project, run, engine.feature_rows_open(features))


def _assert_first_labels_are_initial_positions(project, run, stored):
    """The app's first informed round is :func:`initial_positions` on its rows, the function
    the simulator draws its initial labels with."""
    assert run.feature_set_id == stored.feature_set.pk and not run.artifact_path
    entries = list(
        QueueEntry.objects.filter(round__project=project, kind="strategy", score__isnull=False)
        .order_by("rank")
        .values_list("item_id", flat=True)
    )
    evaluation = list(project.items.filter(is_evaluation=True).values_list("id", flat=True))
    exclude = stored.rows_of(evaluation)
    rng = np.random.default_rng([project.random_seed, project.pk, run.pk])
    expected = initial_positions(
        project.strategy, stored.pool, len(entries), rng=rng, exclude=np.sort(exclude)
    )
    assert entries == stored.item_ids[expected].tolist()
    assert ModelRun.objects.filter(project=project, status="failed").count() == 0
