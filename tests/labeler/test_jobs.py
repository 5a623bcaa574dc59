"""Services send background jobs by task name (labeler/jobs.py): a renamed task must not turn
every send into a message no worker takes."""

from celery import current_app
from django.conf import settings

from labeler import jobs, tasks
from labeler.transient import TRANSIENT_ERRORS


def test_every_job_a_service_sends_by_name_is_a_registered_task():
    sent = {
        jobs.RETRAIN,
        jobs.EMBED_FEATURES,
        jobs.IMPORT_FILE,
        jobs.IMPORT_PACS,
        jobs.DELIVER_WEBHOOK,
    }
    assert sent <= set(current_app.tasks)
    assert tasks.run_pacs_import.name == jobs.IMPORT_PACS


def test_the_tasks_retry_the_transient_errors_and_only_those():
    for task in (tasks.retrain_project, tasks.embed_features):
        assert tuple(task.autoretry_for) == TRANSIENT_ERRORS
        assert task.max_retries == 3


def test_imports_go_to_their_own_queue_and_retrains_to_theirs():
    # An import waits on what is outside Tweezers (a PACS that drips its answer): on the
    # worker that runs every project's retrains it would hold them all up.
    route = current_app.amqp.router.route
    for name in (jobs.IMPORT_FILE, jobs.IMPORT_PACS):
        assert route({}, name)["queue"].name == "imports", name
    assert route({}, jobs.RETRAIN)["queue"].name == "training"
    assert route({}, jobs.EMBED_FEATURES)["queue"].name == "embedding"


def test_every_task_the_beat_sends_by_name_is_a_registered_task():
    # The beat process loads no task code (config/beat.py): a misspelt name in the schedule
    # would be a message no worker takes, and the sweeps would stop unseen.
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled <= set(current_app.tasks)
