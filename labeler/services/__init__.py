"""Business actions that write. Views, API views, commands and tasks call these; they never
write models themselves. Grouped by subject; everything public is re-exported here so callers
write ``services.items_import(...)``."""

from labeler.services.imports import (
    ImportReport,
    import_job_create,
    import_job_run,
    import_limits,
    items_import,
    items_import_path,
    items_import_stream,
)
from labeler.services.projects import label_classes_ensure, project_create

__all__ = [
    "ImportReport",
    "import_job_create",
    "import_job_run",
    "import_limits",
    "items_import",
    "items_import_path",
    "items_import_stream",
    "label_classes_ensure",
    "project_create",
]
