"""Real workers, as ``scripts/run-serve`` runs them: one for retrains, one for the embedding
queue. Changing a live project's representation never stops labeling, and the next retrain
after the new features are ready trains on them."""

import os
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.forms import model_to_dict
from django.test import Client
from django.urls import reverse

from labeler import services
from labeler.models import FeatureSet, Membership, ModelRun, Project, QueueEntry
from tests.data import shades_zip
from tests.factories import ProjectFactory, UserFactory
from tests.loop_steps import truth
from tests.processes import celery_worker_command, start, stop, wait_until, worker_database_url

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def two_workers(transactional_db, tmp_path: Path):
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.fail("the worker test runs on PostgreSQL and Redis: set DATABASE_URL and broker")
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "TWEEZERS_VAR_DIR": str(tmp_path / "worker-var"),
        # The files the test process writes and reads are the workers' too.
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "TWEEZERS_EMBEDDING_DIR": str(settings.TWEEZERS_EMBEDDING_DIR),
        "TWEEZERS_ARTIFACT_DIR": str(settings.TWEEZERS_ARTIFACT_DIR),
        "TWEEZERS_EMBEDDING_SLICE_SECONDS": "5",
    }
    trainer = start(
        celery_worker_command(queues="default,training") + ["-n", "training@%h"],
        env=env,
        log_path=tmp_path / "training.log",
    )
    embedder = start(
        celery_worker_command(queues="embedding") + ["-n", "embedding@%h"],
        env=env,
        log_path=tmp_path / "embedding.log",
    )
    try:
        yield tmp_path
    finally:
        stop(trainer, timeout=60)
        stop(embedder, timeout=60)


def _label_one(project, expert) -> bool:
    next_item = services.next_item_lease(project=project, annotator=expert)
    if next_item.state != "ready":
        return False
    item = next_item.entry.item
    label = truth(item)
    services.annotation_submit(project=project, annotator=expert, item_id=item.pk, label=label)
    return True


def _logs(folder: Path) -> str:
    return "\n".join(
        f"--- {name}\n{(folder / name).read_text()[-3000:]}"
        for name in ("training.log", "embedding.log")
        if (folder / name).exists()
    )


def test_changing_the_representation_live_never_stops_labeling(two_workers):
    # Spectral by name: "auto" would keep pixels ready beside it (issue 20).
    project = ProjectFactory(
        kind="image", classes=["dark", "light"], round_size=10, features="spectral"
    )
    expert = UserFactory()
    services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(40))

    deadline = time.monotonic() + 60
    while not QueueEntry.objects.filter(project=project, done=False).exists():
        assert time.monotonic() < deadline, f"no first round\n{_logs(two_workers)}"
        time.sleep(0.2)

    def trained_on(representation: str) -> ModelRun | None:
        return (
            ModelRun.objects.filter(
                project=project,
                status=ModelRun.Status.SUCCEEDED,
                feature_set__representation=representation,
            )
            .exclude(artifact_path="")
            .first()
        )

    # Labels only once the features exist: labels given before them train no model, and this
    # scripted annotator, far faster than an expert, would otherwise label most of the pool
    # before the switch this test is about.
    wait_until(
        lambda: FeatureSet.objects.filter(
            project=project, representation="spectral", status=FeatureSet.Status.READY
        ).exists(),
        timeout=120,
        what=f"the spectral features\n{_logs(two_workers)}",
    )
    deadline = time.monotonic() + 180
    while trained_on("spectral") is None:
        assert time.monotonic() < deadline, f"no model on spectral\n{_logs(two_workers)}"
        if not _label_one(project, expert):
            time.sleep(0.2)

    # The manager changes the representation on the settings page, as in the browser.
    manager = UserFactory()
    Membership.objects.create(project=project, user=manager, role=Membership.Role.MANAGER)
    browser = Client()
    browser.force_login(manager)
    current = Project.objects.get(pk=project.pk)
    form = {
        name: ("on" if value is True else "" if value in (None, False) else value)
        for name, value in model_to_dict(current, fields=services.EDITABLE_PROJECT_FIELDS).items()
    }
    form["features"] = "pixels"
    saved = browser.post(reverse("project-settings", args=[project.pk]), form)
    assert saved.status_code == 302, saved.content.decode()[-2000:]
    pixels = FeatureSet.objects.get(project=project, representation="pixels")
    labeled_while_switching = asks = 0
    deadline = time.monotonic() + 180
    while trained_on("pixels") is None:
        asks += 1
        assert time.monotonic() < deadline, f"no model on pixels\n{_logs(two_workers)}"
        # Labeling never stops while the switch happens: at worst the round runs out for the
        # few seconds of a retrain on this busy machine (the reserve of issue 11 closes that).
        waited = time.monotonic()
        while not _label_one(project, expert):
            # The switch ended while this answer was asked for: the model on pixels exists,
            # and a pool labeled to the end ("done") is not an annotator kept waiting.
            if trained_on("pixels") is not None:
                break
            assert time.monotonic() - waited < 15, "the annotator waited during the switch"
            time.sleep(0.2)
        else:
            labeled_while_switching += 1
        time.sleep(0.1)

    pixels.refresh_from_db()
    assert pixels.status == FeatureSet.Status.READY and pixels.processed == 80
    run = trained_on("pixels")
    assert run.metrics["representation"] == "pixels" and run.n_labels > 0
    # An answer went in while the switch ran, unless the switch (80 pixel rows and a retrain)
    # was over within the first ask, which on a quiet machine it can be (fresh-clone CI, once).
    assert labeled_while_switching > 0 or asks == 1
    assert not ModelRun.objects.filter(project=project, status=ModelRun.Status.FAILED).exists()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid
            ):
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_the_embedding_worker_ends_its_pool_process_and_its_model_once_the_job_is_done(
    transactional_db, tmp_path: Path
):
    # As scripts/run-serve runs it: the pool process that loads the model exists only while
    # there is embedding to do, so the model's memory goes back to the system after the job.
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "TWEEZERS_VAR_DIR": str(tmp_path / "worker-var"),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "TWEEZERS_EMBEDDING_DIR": str(settings.TWEEZERS_EMBEDDING_DIR),
        "TWEEZERS_ARTIFACT_DIR": str(settings.TWEEZERS_ARTIFACT_DIR),
        "AUTOSCALE_KEEPALIVE": "1",
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", "embedding@%h"]
    command += ["-Q", "embedding", "--autoscale", "1,0", "--without-mingle", "--without-gossip"]
    embedder = start(command + ["--loglevel", "INFO"], env=env, log_path=tmp_path / "embedding.log")
    # The import also asks for a retrain: a worker takes it, so no message is left behind.
    trainer = start(
        celery_worker_command(queues="default,training") + ["-n", "training@%h"],
        env=env,
        log_path=tmp_path / "training.log",
    )
    try:
        project = ProjectFactory(kind="image", classes=["dark", "light"], features="pixels")
        services.items_import_stream(project=project, name="shades.zip", stream=shades_zip(12))
        features = FeatureSet.objects.get(project=project, representation="pixels")
        deadline = time.monotonic() + 120
        while features.status != FeatureSet.Status.READY:
            assert time.monotonic() < deadline, f"not embedded\n{_logs(tmp_path)}"
            time.sleep(0.2)
            features.refresh_from_db()
        assert features.processed == project.items.count() > 0

        deadline = time.monotonic() + 30
        while _children(embedder.pid):
            assert time.monotonic() < deadline, f"pool process kept\n{_logs(tmp_path)}"
            time.sleep(0.2)
        assert embedder.poll() is None
        assert "Scaling down" in (tmp_path / "embedding.log").read_text()
    finally:
        stop(embedder, timeout=60)
        stop(trainer, timeout=60)
