"""The beat scheduler's Celery app: ``celery -A config.beat beat``. The beat only sends the
tasks of ``CELERY_BEAT_SCHEDULE``, by name (the routes in ``CELERY_TASK_ROUTES`` apply), and
needs none of their code; it writes its own heartbeat (config/beat_scheduler.py, through
Django's database connection alone). Without the task modules and Django's app registry (no
Django fix-up), the process holds 61 MiB (PSS) instead of the 107 MiB of ``-A config``'s."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tweezers", fixups=[])
app.config_from_object("django.conf:settings", namespace="CELERY")
