"""Loading the engine ahead of the first job, for the worker's start-up hook in
``config/celery.py`` (only ``labeler.engine`` imports ``learning``)."""

from __future__ import annotations


def engine_preload() -> None:
    """Import the engine's models and strategies now.

    scikit-learn and SciPy take seconds to import (tens of seconds on a busy machine): a worker
    pays that once when it starts, not in the first retrain of a new project."""
    import learning.models  # noqa: F401
    import learning.strategies  # noqa: F401
