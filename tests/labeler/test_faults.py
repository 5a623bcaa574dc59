"""Faults with real processes: the broker down during labeling, a worker killed mid-retrain."""

import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings

from labeler import engine, services
from labeler.models import Annotation, FeatureSet, ModelRun, QueryRound
from tests.data import shades_zip, texts_csv, topic_texts
from tests.factories import ProjectFactory, UserFactory
from tests.processes import (
    REPO,
    celery_worker_command,
    free_port,
    start,
    start_redis,
    stop,
    wait_until,
    worker_database_url,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def run_status(run_id: int) -> str:
    return ModelRun.objects.get(pk=run_id).status


def test_labeling_goes_on_while_the_broker_is_down_and_the_retrain_runs_when_it_is_back(
    tmp_path: Path,
):
    port = free_port()  # nothing listens here yet: the broker is down
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0",
        "TWEEZERS_VAR_DIR": str(tmp_path / "var"),
        "TWEEZERS_EMBEDDING_DIR": str(tmp_path / "embeddings"),
        "TWEEZERS_ARTIFACT_DIR": str(tmp_path / "artifacts"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    expert = UserFactory(username="offline-expert")
    project = ProjectFactory(kind="image", classes=["dark", "light"], round_size=10)
    zip_path = tmp_path / "shades.zip"
    zip_path.write_bytes(shades_zip(20).getvalue())
    # The whole annotator side runs in a process whose broker is unreachable: the import,
    # the first round, and a full round of submits.
    script = textwrap.dedent(
        f"""
        from django.contrib.auth import get_user_model
        from pathlib import Path
        from labeler import services
        from labeler.models import ModelRun, Project
        project = Project.objects.get(pk={project.pk})
        services.items_import_path(project=project, path=Path({str(zip_path)!r}))
        run = ModelRun.objects.get(project=project, status="queued")
        services.model_run_execute(run_id=run.pk)
        expert = get_user_model().objects.get(pk={expert.pk})
        # A round's worth of labels, and on until the strategy items' labels hold both
        # classes: the cold-start draw is random, and no model trains on one class.
        strategy_classes, given = set(), 0
        while given < 10 or len(strategy_classes) < 2:
            entry = services.next_item_lease(project=project, annotator=expert).entry
            label = entry.item.source_name.split("_")[0]
            services.annotation_submit(
                project=project, annotator=expert, item_id=entry.item_id, label=label
            )
            print("submitted", entry.item_id, label)
            given += 1
            if not entry.item.is_evaluation:
                strategy_classes.add(label)
        """
    )
    offline = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert offline.returncode == 0, offline.stderr[-3000:]
    given = sorted(
        (int(item_id), label)
        for _, item_id, label in (
            line.split() for line in offline.stdout.splitlines() if line.startswith("submitted ")
        )
    )
    # Every label given while the broker was down is stored, once, on an item served once.
    assert len({item_id for item_id, _ in given}) == len(given) >= 10
    stored = Annotation.objects.filter(project=project).values_list("item_id", "label__name")
    assert sorted(stored) == given
    waiting = ModelRun.objects.get(project=project, status=ModelRun.Status.QUEUED)

    redis = start_redis(port, tmp_path / "redis.log")
    worker_env = {**env, "TWEEZERS_SWEEP_SECONDS": "1", "TWEEZERS_OUTBOX_GRACE_SECONDS": "0"}
    worker = start(
        celery_worker_command(beat=True), env=worker_env, log_path=tmp_path / "worker.log"
    )
    try:
        wait_until(
            lambda: run_status(waiting.pk) == ModelRun.Status.SUCCEEDED,
            timeout=90,
            what="the outbox sweep to run the queued retrain",
        )
        # The features the offline import could not send for are swept too, and a retrain
        # on them trains on every label given while the broker was down.
        offline_strategy_labels = Annotation.objects.filter(
            project=project, item__is_evaluation=False
        ).count()
        assert offline_strategy_labels > 0
        # A model trained on them: the swept retrain may run before the features are ready
        # and then serves a cold-start round without a model; the features' readiness asks
        # for the retrain that trains.
        wait_until(
            lambda: (
                ModelRun.objects.filter(
                    project=project,
                    n_labels=offline_strategy_labels,
                    status=ModelRun.Status.SUCCEEDED,
                )
                .exclude(artifact_path="")
                .exists()
            ),
            timeout=90,
            what="a retrain on the swept features",
        )
    except AssertionError:
        print((tmp_path / "worker.log").read_text()[-4000:])
        raise
    finally:
        stop(worker)
        stop(redis)
    trained = (
        ModelRun.objects.filter(
            project=project, n_labels=offline_strategy_labels, status="succeeded"
        )
        .exclude(artifact_path="")
        .latest("pk")
    )
    assert (
        trained.artifact_path and trained.metrics["n_evaluation"] == len(given) - trained.n_labels
    )
    # Its round is the one serving now, and the labels stayed as they were given.
    newest = QueryRound.objects.filter(project=project).order_by("-number").first()
    assert newest.model_run_id == trained.pk
    assert services.next_item_lease(project=project, annotator=expert).state == "ready"
    assert sorted(Annotation.objects.values_list("item_id", "label__name")) == given


def test_a_worker_killed_mid_embedding_gets_its_job_redelivered_and_the_queue_keeps_serving(
    tmp_path: Path, settings
):
    settings.TWEEZERS_EMBEDDING_DIR = tmp_path / "embeddings"
    settings.TWEEZERS_ARTIFACT_DIR = tmp_path / "artifacts"
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": django_broker_url(),
        "TWEEZERS_EMBEDDING_DIR": str(settings.TWEEZERS_EMBEDDING_DIR),
        "TWEEZERS_ARTIFACT_DIR": str(settings.TWEEZERS_ARTIFACT_DIR),
        "HF_HUB_OFFLINE": "1",
    }
    expert = UserFactory()
    project = ProjectFactory(
        kind="text", classes=["sports", "cooking"], round_size=10, features="minilm"
    )
    worker = start(celery_worker_command(pool="prefork"), env=env, log_path=tmp_path / "worker.log")
    try:
        services.items_import_stream(
            project=project, name="a.csv", stream=texts_csv(topic_texts(20))
        )
        features = FeatureSet.objects.get(project=project)
        wait_until(lambda: status_of(features) == "ready", timeout=120, what="the first rows")
        # One worker process runs every queue here, so the first round's run may still wait
        # behind the embedding: the queue serves once that round is out.
        wait_until(
            lambda: QueryRound.objects.filter(project=project).exists(),
            timeout=120,
            what="the first round",
        )
        # 400 new texts take MiniLM long enough, in chunks of 256, to be killed in between.
        services.items_import_stream(
            project=project, name="b.csv", stream=texts_csv(topic_texts(200, seed=1, offset=20))
        )
        wait_until(
            lambda: 40 < FeatureSet.objects.get(pk=features.pk).processed < 440,
            timeout=120,
            what="the embedding to be half way",
        )
        children = subprocess.run(
            ["pgrep", "-P", str(worker.pid)], capture_output=True, text=True
        ).stdout.split()
        assert children, "the prefork worker has a child process"
        for child in children:
            os.kill(int(child), signal.SIGKILL)

        # While the job is being redelivered, the queue keeps serving.
        assert services.next_item_lease(project=project, annotator=expert).state == "ready"
        wait_until(
            lambda: status_of(features) == "ready",
            timeout=180,
            what="the redelivered embedding to finish",
        )
    except AssertionError:
        print((tmp_path / "worker.log").read_text()[-4000:])
        raise
    finally:
        stop(worker)
    features.refresh_from_db()
    assert features.processed == features.total == 440
    rows = engine.feature_rows_open(features)
    assert len(set(rows.item_ids.tolist())) == 440  # resumed, not written twice
    assert not ModelRun.objects.filter(project=project, status="failed").exists()


@pytest.mark.slow
def test_a_worker_killed_mid_retrain_gets_its_run_redelivered_and_the_queue_keeps_serving(
    tmp_path: Path, settings
):
    settings.TWEEZERS_EMBEDDING_DIR = tmp_path / "embeddings"
    settings.TWEEZERS_ARTIFACT_DIR = tmp_path / "artifacts"
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": django_broker_url(),
        "TWEEZERS_EMBEDDING_DIR": str(settings.TWEEZERS_EMBEDDING_DIR),
        "TWEEZERS_ARTIFACT_DIR": str(settings.TWEEZERS_ARTIFACT_DIR),
    }
    first_expert, second_expert = UserFactory(), UserFactory()
    project = ProjectFactory(
        kind="text", classes=["sports", "cooking"], round_size=100, features="tfidf"
    )
    # 1,000 pre-labeled texts and a pool of 4,000: training with cross-validation and choosing
    # 200 diverse items takes seconds, long enough to be killed in.
    rows = ["text,label"] + [f"{text},{topic}" for text, topic in topic_texts(500)]
    rows += [f"{text}," for text, _ in topic_texts(2000, seed=1, offset=500)]
    services.items_import_stream(
        project=project, name="a.csv", stream=io.BytesIO("\n".join(rows).encode())
    )
    # Round 1 is drawn before the features exist; they are computed here, so the worker has
    # only the retrain they ask for to run. It listens to the training queue alone.
    services.model_run_execute(run_id=ModelRun.objects.get(project=project).pk)
    features = FeatureSet.objects.get(project=project)
    while services.feature_set_embed(feature_set_id=features.pk, worker="test"):
        pass
    assert status_of(features) == "ready"
    retrain = ModelRun.objects.get(project=project, status=ModelRun.Status.QUEUED)
    served: list[tuple[int, int, str]] = []  # (annotator, item, label) of every submit

    def label_some(count: int) -> None:
        for index in range(count):
            annotator = (first_expert, second_expert)[index % 2]
            lease = services.next_item_lease(project=project, annotator=annotator)
            assert lease.state == "ready", lease.message
            label = lease.entry.item.text.split(" ")[0]
            services.annotation_submit(
                project=project, annotator=annotator, item_id=lease.entry.item_id, label=label
            )
            served.append((annotator.pk, lease.entry.item_id, label))

    label_some(10)
    worker = start(
        celery_worker_command(pool="prefork", queues="training"),
        env=env,
        log_path=tmp_path / "worker.log",
    )
    try:
        # Killed as soon as it is seen running (within 0.2 s): training and choosing take
        # seconds, and the round is written at their end.
        wait_until(lambda: run_status(retrain.pk) == "running", timeout=60, what="the retrain")
        children = subprocess.run(
            ["pgrep", "-P", str(worker.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(children) == 1, "the prefork worker has one child process"
        os.kill(int(children[0]), signal.SIGKILL)
        wait_until(lambda: not Path(f"/proc/{children[0]}").exists(), timeout=10, what="death")
        # Killed mid-run: its first attempt wrote no round and did not finish. The redelivery
        # may already have taken it over (attempt 2) by the time the dead child is reaped.
        retrain.refresh_from_db()
        assert retrain.status == "running" and retrain.attempts in (1, 2)
        assert QueryRound.objects.filter(project=project).count() == 1

        # While the run is redelivered and retrained, the previous round keeps serving.
        label_some(30)
        wait_until(
            lambda: run_status(retrain.pk) == "succeeded",
            timeout=60,
            what="the redelivered retrain to finish",
        )
    except AssertionError:
        print((tmp_path / "worker.log").read_text()[-4000:])
        raise
    finally:
        stop(worker)
    retrain.refresh_from_db()
    assert retrain.attempts == 2  # taken over by the redelivery, not by a second message
    assert "taking it over" in (tmp_path / "worker.log").read_text()
    assert retrain.n_labels >= 1000
    assert QueryRound.objects.filter(project=project).count() == 2
    assert services.next_item_lease(project=project, annotator=first_expert).state == "ready"
    # Every label given before and during the outage is stored, once, on an item served once.
    stored = Annotation.objects.filter(project=project).values_list(
        "annotator_id", "item_id", "label__name"
    )
    assert sorted(stored) == sorted(served)
    assert len({item_id for _, item_id, _ in served}) == len(served) == 40


def status_of(feature_set) -> str:
    return FeatureSet.objects.get(pk=feature_set.pk).status


def django_broker_url() -> str:
    return settings.CELERY_BROKER_URL


def test_the_app_recovers_by_itself_after_postgresql_restarts(tmp_path: Path):
    from django.db import connections

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "TWEEZERS_VAR_DIR": str(tmp_path / "var"),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
    }
    server = start(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        env=env,
        log_path=tmp_path / "server.log",
    )
    health = f"http://127.0.0.1:{port}/healthz"
    try:
        wait_until(lambda: _status(health) == 200, timeout=60, what="the server")
        cluster = next(Path("/etc/postgresql").iterdir()).name
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart"],
            check=True,
            timeout=60,
        )
        connections.close_all()  # this test's own connection died with the restart too
        # pg_ctlcluster returns once PostgreSQL accepts connections again: from then on every
        # request succeeds, none fails on a connection a worker kept from before.
        assert [_status(health) for _ in range(10)] == [200] * 10
    finally:
        stop(server)


def _status(url: str) -> int:
    import requests

    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return 0
