"""Business actions that write. Views, API views, commands and tasks call these; they never
write models themselves. Grouped by subject; everything public is re-exported here so callers
write ``services.items_import(...)``."""

from labeler.services.annotating import (
    SubmitRejected,
    annotation_correct,
    annotation_submit,
    item_adjudicate,
    item_resolve,
)
from labeler.services.audit import item_view_record, item_views_record
from labeler.services.embedding import feature_set_embed
from labeler.services.exports import (
    Export,
    ExportError,
    export_labeled,
    model_artifact_export,
)
from labeler.services.features import (
    feature_set_request,
    features_seed,
    stale_feature_sets_enqueue,
    superseded_feature_sets_remove,
)
from labeler.services.import_jobs import (
    import_job_create,
    import_job_run,
    import_jobs_sweep,
    pacs_import_job_create,
    pacs_import_job_run,
)
from labeler.services.imports import (
    ImportReport,
    import_limits,
    items_import,
    items_import_labelstudio,
    items_import_pacs,
    items_import_path,
    items_import_stream,
    pacs_studies_search,
)
from labeler.services.items import (
    BulkOutcome,
    item_finding_probabilities_store,
    item_predictions_store,
    items_requeue,
    items_unskip,
)
from labeler.services.leasing import LeasedItems, NextItem, items_lease, next_item_lease
from labeler.services.members import (
    Invitation,
    MembershipRejected,
    membership_invite,
    membership_remove,
    membership_role_change,
)
from labeler.services.projects import COUNTER_FIELDS as PROJECT_COUNTER_FIELDS
from labeler.services.projects import EDITABLE_FIELDS as EDITABLE_PROJECT_FIELDS
from labeler.services.projects import FIXED_FIELDS as FIXED_PROJECT_FIELDS
from labeler.services.projects import (
    ProjectRejected,
    class_names_check,
    label_classes_ensure,
    project_create,
    project_update,
)
from labeler.services.tokens import expired_tokens_delete
from labeler.services.training import (
    evaluation_draw,
    model_run_execute,
    retrain_force,
    retrain_request,
    stale_runs_enqueue,
)
from labeler.services.undoing import (
    Undone,
    item_skip,
    last_action_undo,
    last_annotation_undo,
    skip_undo,
)

__all__ = [
    "expired_tokens_delete",
    "item_view_record",
    "item_views_record",
    "Export",
    "ExportError",
    "export_labeled",
    "items_import_labelstudio",
    "model_artifact_export",
    "LeasedItems",
    "NextItem",
    "Undone",
    "items_lease",
    "last_action_undo",
    "skip_undo",
    "SubmitRejected",
    "annotation_correct",
    "annotation_submit",
    "evaluation_draw",
    "feature_set_embed",
    "feature_set_request",
    "stale_feature_sets_enqueue",
    "features_seed",
    "superseded_feature_sets_remove",
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
    "import_jobs_sweep",
    "import_limits",
    "items_import",
    "items_import_path",
    "items_import_stream",
    "items_import_pacs",
    "pacs_import_job_create",
    "pacs_import_job_run",
    "pacs_studies_search",
    "BulkOutcome",
    "item_finding_probabilities_store",
    "item_predictions_store",
    "items_requeue",
    "items_unskip",
    "Invitation",
    "MembershipRejected",
    "membership_invite",
    "membership_remove",
    "membership_role_change",
    "EDITABLE_PROJECT_FIELDS",
    "FIXED_PROJECT_FIELDS",
    "PROJECT_COUNTER_FIELDS",
    "ProjectRejected",
    "class_names_check",
    "label_classes_ensure",
    "project_create",
    "project_update",
]
