"""Business actions that write. Views, API views, commands and tasks call these; they never
write models themselves. Grouped by subject; everything public is re-exported here so callers
write ``services.items_import(...)``."""

from labeler.services.annotating import (
    NextItem,
    SubmitRejected,
    annotation_correct,
    annotation_submit,
    item_adjudicate,
    item_resolve,
    item_skip,
    last_annotation_undo,
    next_item_lease,
)
from labeler.services.exports import (
    Export,
    ExportError,
    export_labeled,
    items_import_labelstudio,
    model_artifact_export,
)
from labeler.services.imports import (
    ImportReport,
    import_job_create,
    import_job_run,
    import_limits,
    items_import,
    items_import_path,
    items_import_stream,
)
from labeler.services.items import (
    BulkOutcome,
    item_predictions_store,
    items_requeue,
    items_unskip,
)
from labeler.services.members import (
    Invitation,
    MembershipRejected,
    membership_invite,
    membership_remove,
    membership_role_change,
)
from labeler.services.projects import label_classes_ensure, project_create, project_update
from labeler.services.training import (
    evaluation_draw,
    model_run_execute,
    retrain_force,
    retrain_request,
    stale_runs_enqueue,
)

__all__ = [
    "Export",
    "ExportError",
    "export_labeled",
    "items_import_labelstudio",
    "model_artifact_export",
    "NextItem",
    "SubmitRejected",
    "annotation_correct",
    "annotation_submit",
    "evaluation_draw",
    "item_adjudicate",
    "item_resolve",
    "item_skip",
    "last_annotation_undo",
    "model_run_execute",
    "next_item_lease",
    "retrain_force",
    "retrain_request",
    "stale_runs_enqueue",
    "ImportReport",
    "import_job_create",
    "import_job_run",
    "import_limits",
    "items_import",
    "items_import_path",
    "items_import_stream",
    "BulkOutcome",
    "item_predictions_store",
    "items_requeue",
    "items_unskip",
    "Invitation",
    "MembershipRejected",
    "membership_invite",
    "membership_remove",
    "membership_role_change",
    "label_classes_ensure",
    "project_create",
    "project_update",
]
