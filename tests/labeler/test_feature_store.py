"""The feature store: versions in the database, rows appended in place, embedding in claimed
slices that resume, and a change of representation that never stops labeling."""

import dataclasses

import numpy as np
import pytest
from django.utils import timezone

from labeler import engine, services
from labeler.models import FeatureSet, Item, ModelRun, Project, QueueEntry
from learning.features import image_pixels
from learning.representations import REPRESENTATIONS
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import embed_pending, label_open_entries, run_queued


@pytest.fixture
def shades_project(db):
    # Spectral by name: "auto" would keep pixels ready beside it (issue 20), and these tests
    # change to a representation that is not computed yet.
    project = ProjectFactory(
        kind="image", classes=["dark", "light"], round_size=10, features="spectral"
    )
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(30))
    project.refresh_from_db()
    return project


@pytest.fixture
def small_pixel_chunks(monkeypatch):
    """Pixels in chunks of 16 rows, so one 60-item pool takes several chunks."""
    monkeypatch.setitem(
        REPRESENTATIONS, "pixels", dataclasses.replace(REPRESENTATIONS["pixels"], chunk_rows=16)
    )


@pytest.mark.django_db
def test_an_import_creates_a_pending_version_and_the_queue_serves_before_it_is_ready(
    shades_project,
):
    features = FeatureSet.objects.get(project=shades_project)
    assert (features.representation, features.version, features.status) == (
        "spectral",
        1,
        "pending",
    )

    run = run_queued(shades_project, embed=False)

    # No features yet: a seeded random draw fills the first round, at once.
    assert run.status == ModelRun.Status.SUCCEEDED and run.feature_set is None
    queued = QueueEntry.objects.filter(project=shades_project, done=False)
    # The round itself; a reserve ranked after it may follow (issue 11).
    assert queued.filter(is_reserve=False).count() == 10
    assert (
        services.next_item_lease(project=shades_project, annotator=UserFactory()).state == "ready"
    )

    embed_pending(shades_project)
    features.refresh_from_db()
    assert features.status == "ready" and features.processed == features.total == 60
    # Ready for the first time: a retrain is queued so the features take over now.
    switched = run_queued(shades_project, embed=False)
    assert switched.feature_set == features


@pytest.mark.django_db
def test_embedding_in_slices_resumes_where_it_stopped_and_rows_match_their_items(
    shades_project, small_pixel_chunks
):
    services.project_update(project=shades_project, changes={"features": "pixels"})
    pixels = FeatureSet.objects.get(project=shades_project, representation="pixels")

    more = services.feature_set_embed(feature_set_id=pixels.pk, worker="a", slice_seconds=0)
    pixels.refresh_from_db()
    assert more and pixels.processed == 16 and pixels.status == "embedding"
    assert pixels.ready_at is None
    assert engine.serving_feature_set(shades_project) is None  # half a pool never serves

    # While "a" holds the claim, a duplicate message leaves the set alone.
    FeatureSet.objects.filter(pk=pixels.pk).update(
        claimed_by="a", claimed_until=timezone.now() + timezone.timedelta(minutes=5)
    )
    assert services.feature_set_embed(feature_set_id=pixels.pk, worker="b") is False
    # "a" died: once its claim expires another job takes over from the committed rows.
    FeatureSet.objects.filter(pk=pixels.pk).update(claimed_until=timezone.now())
    while services.feature_set_embed(feature_set_id=pixels.pk, worker="b", slice_seconds=0):
        pass

    pixels.refresh_from_db()
    assert pixels.status == "ready" and pixels.processed == 60
    rows = engine.feature_rows_open(pixels)
    ids = list(Item.objects.filter(project=shades_project).values_list("id", flat=True))
    assert sorted(rows.item_ids.tolist()) == sorted(ids)
    size = tuple(pixels.params["image_size"])
    for item in Item.objects.filter(project=shades_project)[:5]:
        expected = image_pixels(item.file.path, size=size)
        np.testing.assert_array_equal(rows.pool[int(rows.rows_of([item.pk])[0])], expected)
    # Pixels are kept a byte a value on disk and read back exactly (sliced or indexed).
    shard = np.load(engine.feature_set_dir(pixels) / "rows_00000.npy", mmap_mode="r")
    assert shard.dtype == np.uint8
    every = np.stack([image_pixels(path, size=size) for path in _paths(rows.item_ids)])
    np.testing.assert_array_equal(rows.pool[:], every)
    np.testing.assert_array_equal(rows.pool[np.arange(59, -1, -7)], every[np.arange(59, -1, -7)])


def _paths(item_ids):
    paths = dict(Item.objects.filter(id__in=item_ids.tolist()).values_list("id", "file"))
    from django.conf import settings

    return [f"{settings.MEDIA_ROOT}/{paths[int(item_id)]}" for item_id in item_ids]


@pytest.mark.django_db
def test_new_items_are_appended_to_a_per_item_version_which_keeps_serving(shades_project):
    services.project_update(project=shades_project, changes={"features": "pixels"})
    embed_pending(shades_project)
    pixels = FeatureSet.objects.get(project=shades_project, representation="pixels")
    first_ready = pixels.ready_at

    services.items_import_stream(project=shades_project, name="more.zip", stream=shades_zip(35))

    pixels.refresh_from_db()
    assert pixels.status == "embedding" and pixels.processed == 60 and pixels.total == 70
    assert engine.serving_feature_set(shades_project) == pixels  # still serves meanwhile
    embed_pending(shades_project)
    pixels.refresh_from_db()
    assert pixels.status == "ready" and pixels.processed == 70 and pixels.ready_at == first_ready
    assert FeatureSet.objects.filter(project=shades_project, representation="pixels").count() == 1


@pytest.mark.django_db
def test_changing_the_representation_keeps_the_old_model_serving_until_the_new_one_is_ready(
    shades_project,
):
    expert = UserFactory()
    run_queued(shades_project)
    label_open_entries(shades_project, expert, 8)
    on_spectral = run_queued(shades_project)
    assert on_spectral.feature_set.representation == "spectral" and on_spectral.artifact_path

    services.project_update(project=shades_project, changes={"features": "pixels"})
    pixels = FeatureSet.objects.get(project=shades_project, representation="pixels")
    assert pixels.status == "pending"

    # Labeling goes on; a retrain before the new features are ready still uses the old ones.
    label_open_entries(shades_project, expert, 8)
    still_spectral = run_queued(shades_project, embed=False)
    assert still_spectral.status == "succeeded"
    assert still_spectral.feature_set == on_spectral.feature_set

    embed_pending(shades_project)
    on_pixels = run_queued(shades_project, embed=False)

    assert on_pixels.status == "succeeded" and on_pixels.feature_set == pixels
    assert on_pixels.artifact_path and on_pixels.metrics["representation"] == "pixels"
    assert on_pixels.n_labels >= 8
    assert services.next_item_lease(project=shades_project, annotator=expert).state == "ready"


@pytest.mark.django_db
def test_a_failed_embedding_is_recorded_and_the_previous_features_keep_serving(
    shades_project, monkeypatch
):
    run_queued(shades_project)
    spectral = engine.serving_feature_set(shades_project)

    def broken(options):
        raise RuntimeError("no such model on this server")

    monkeypatch.setitem(
        REPRESENTATIONS, "pixels", dataclasses.replace(REPRESENTATIONS["pixels"], featurizer=broken)
    )
    services.project_update(project=shades_project, changes={"features": "pixels"})
    embed_pending(shades_project)

    shades_project.refresh_from_db()
    failed = FeatureSet.objects.get(project=shades_project, representation="pixels")
    assert failed.status == "failed" and "no such model" in failed.error
    assert engine.serving_feature_set(shades_project) == spectral
    progress = engine.feature_progress(shades_project)
    assert progress.serving == spectral and progress.building == failed
    # Not retried by every retrain; a manager's explicit retrain tries again.
    assert services.feature_set_request(project=shades_project) == failed
    retried = services.feature_set_request(project=shades_project, retry_failed=True)
    assert retried.version == 2 and retried.status == "pending"


@pytest.mark.django_db
def test_rows_are_written_in_place_so_appending_costs_only_the_new_rows(tmp_path):
    from labeler.engine.store import SHARD_ROWS, rows_write

    rng = np.random.default_rng(0)
    rows = rng.random((1000, 16)).astype(np.float32)
    for start in range(0, 1000, 100):
        rows_write(tmp_path, start, rows[start : start + 100], np.arange(start, start + 100))

    shard = tmp_path / "rows_00000.npy"
    assert np.load(shard, mmap_mode="r").shape == (SHARD_ROWS, 16)
    np.testing.assert_array_equal(np.load(shard, mmap_mode="r")[:1000], rows)
    # The shard is sparse: disk holds about the rows written, not the 50,000 preallocated.
    assert shard.stat().st_blocks * 512 < 3 * rows.nbytes


def test_rows_kept_as_bytes_refuse_values_a_byte_cannot_hold_and_old_sets_stay_float(tmp_path):
    from labeler.engine.store import rows_write

    pixels = np.arange(256, dtype=np.float32).reshape(16, 16) / 255.0
    rows_write(tmp_path / "bytes", 0, pixels, np.arange(16), in_bytes=True)
    assert np.load(tmp_path / "bytes" / "rows_00000.npy", mmap_mode="r").dtype == np.uint8

    with pytest.raises(ValueError, match="not k/255"):
        rows_write(tmp_path / "bytes", 16, pixels * 0.999, np.arange(16, 32), in_bytes=True)
    # Nothing of the refused chunk reached the shard.
    assert not np.load(tmp_path / "bytes" / "rows_00000.npy", mmap_mode="r")[16:32].any()

    # A set started as float32 (before this change) is appended to as float32.
    rows_write(tmp_path / "old", 0, pixels, np.arange(16))
    rows_write(tmp_path / "old", 16, pixels, np.arange(16, 32), in_bytes=True)
    assert np.load(tmp_path / "old" / "rows_00000.npy", mmap_mode="r").dtype == np.float32


@pytest.mark.django_db
def test_a_representation_left_before_it_was_ready_is_not_embedded_further(shades_project):
    spectral = FeatureSet.objects.get(project=shades_project, representation="spectral")
    services.project_update(project=shades_project, changes={"features": "pixels"})

    assert services.feature_set_embed(feature_set_id=spectral.pk, worker="w") is False
    spectral.refresh_from_db()
    assert spectral.status == "pending" and spectral.processed == 0

    # Switching back computes it after all.
    services.project_update(project=shades_project, changes={"features": "auto"})
    embed_pending(shades_project)
    spectral.refresh_from_db()
    assert spectral.status == "ready" and spectral.processed == 60


@pytest.mark.django_db
def test_a_superseded_version_is_removed_from_disk_once_no_serving_model_uses_it(
    shades_project, django_capture_on_commit_callbacks
):
    expert = UserFactory()
    run_queued(shades_project)
    label_open_entries(shades_project, expert, 8)
    on_spectral = run_queued(shades_project)
    spectral = on_spectral.feature_set
    spectral_dir = engine.feature_set_dir(spectral)
    assert (spectral_dir / "rows_00000.npy").exists()

    services.project_update(project=shades_project, changes={"features": "pixels"})
    embed_pending(shades_project)
    shades_project.refresh_from_db()
    pixels = FeatureSet.objects.get(project=shades_project, representation="pixels")
    assert engine.serving_feature_set(shades_project) == pixels
    # Pixels serve the next retrain, but the latest model was trained on spectral rows (its
    # guesses are read from them): they stay until a model on pixels has succeeded.
    assert services.superseded_feature_sets_remove(shades_project) == 0
    assert spectral_dir.exists()
    # Nor while a retrain is running: it may have opened any set.
    running = ModelRun.objects.get(project=shades_project, status=ModelRun.Status.QUEUED)
    ModelRun.objects.filter(pk=running.pk).update(status=ModelRun.Status.RUNNING)
    ModelRun.objects.filter(pk=on_spectral.pk).update(status=ModelRun.Status.FAILED)
    assert services.superseded_feature_sets_remove(shades_project) == 0
    assert spectral_dir.exists()
    ModelRun.objects.filter(pk=on_spectral.pk).update(status=ModelRun.Status.SUCCEEDED)
    ModelRun.objects.filter(pk=running.pk).update(status=ModelRun.Status.QUEUED)

    # The folder goes once the deletion of its row commits (the test runs in a transaction).
    with django_capture_on_commit_callbacks(execute=True):
        on_pixels = run_queued(shades_project, embed=False)

    assert on_pixels.status == "succeeded" and on_pixels.feature_set == pixels
    assert not spectral_dir.exists()
    assert not FeatureSet.objects.filter(pk=spectral.pk).exists()
    assert (engine.feature_set_dir(pixels) / "rows_00000.npy").exists()
    # The model serving still guesses from its own rows; the queue keeps serving.
    some = list(Item.objects.filter(project=shades_project).values_list("id", flat=True)[:3])
    assert len(engine.predict_items(run=on_pixels, item_ids=some)) == 3
    assert services.next_item_lease(project=shades_project, annotator=expert).state == "ready"


@pytest.mark.django_db
def test_a_run_that_started_before_a_switch_keeps_the_new_representations_features(
    shades_project,
):
    """A retrain holds the project as it was when it started. The manager switches the
    representation meanwhile and the new features become ready: the run's clean-up at its
    end must read what the project asks for now, not remove the new set as unused (its
    next retrain would then compute it all over again)."""
    expert = UserFactory()
    run_queued(shades_project)
    label_open_entries(shades_project, expert, 8)
    run_queued(shades_project)
    as_the_run_saw_it = Project.objects.get(pk=shades_project.pk)

    services.project_update(project=shades_project, changes={"features": "pixels"})
    embed_pending(shades_project)
    pixels = FeatureSet.objects.get(project=shades_project, representation="pixels")
    assert pixels.status == "ready"

    services.superseded_feature_sets_remove(as_the_run_saw_it)

    assert FeatureSet.objects.filter(pk=pixels.pk).exists()
    assert engine.feature_set_dir(pixels).exists()
