import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_init

from config.heartbeat import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tweezers")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Each worker writes a heartbeat per queue it consumes from, from its main process's timer
# (config/heartbeat.py); /healthz reports a queue whose workers all went quiet.
app.steps["worker"].add(WorkerHeartbeat)


@app.on_after_configure.connect
def _create_filesystem_broker_folders(sender: Celery, **kwargs: object) -> None:
    # kombu's filesystem transport (the embedded demo broker) expects its folders to exist.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


def _consumes(sender: object, queue: str) -> bool:
    """Whether the starting worker takes ``queue`` (every queue when started without -Q)."""
    queues = getattr(getattr(sender, "app", app).amqp.queues, "consume_from", None)
    return not queues or queue in queues


@worker_init.connect
def _import_the_engine(sender: object = None, **kwargs: object) -> None:
    # scikit-learn and scipy take seconds to import (tens of seconds on a busy machine):
    # pay that once when the worker starts, not in the first retrain of a new project. A
    # worker that never retrains (the embedding worker) does not pay their 70 MiB for it.
    # Django is set up by now (celery's Django fix-up, in init_worker), so the engine
    # package, which reads the models, can be imported.
    if not _consumes(sender, "training"):
        return
    from labeler.engine.preload import engine_preload

    engine_preload()
