"""gunicorn's settings, one file for `scripts/run-serve`, the Dockerfile and docker-compose.yml
(`gunicorn -c config/gunicorn.py config.wsgi:application`). Each can be overridden from the
environment, as gunicorn allows (WEB_CONCURRENCY, GUNICORN_CMD_ARGS).

The figures behind the defaults are in docs/benchmarks.md ("Load"), measured with 16
annotators on 2 cores."""

from __future__ import annotations

import gc
import os

# One process per core: the labeling requests are short and CPU-bound (Python, then a few
# milliseconds in PostgreSQL), so more processes than cores only take turns on them and
# lengthen the tail. Next-item / submit p99 with 16 annotators on 2 cores: 31 / 40 ms with 2
# processes, 37 / 47 ms with 3, 38 / 54 ms with 4; threads (gthread, 2 processes of 4) gave
# 48 / 62 ms, as a process's threads take turns on its interpreter lock.
# A download (an export) holds its process while it streams: where managers download large
# exports while annotators label, give WEB_CONCURRENCY a process or two more.
workers = int(os.environ.get("WEB_CONCURRENCY") or max(2, os.cpu_count() or 1))
worker_class = "sync"
timeout = 120
accesslog = "-"


def post_worker_init(worker) -> None:
    # The application is loaded: what it allocated lives as long as the process. Frozen, the
    # cyclic collector no longer walks it, so an occasional full collection in the middle of
    # a request takes a few milliseconds instead of 45-85 ms (measured, 120,000 objects).
    gc.collect()
    gc.freeze()
