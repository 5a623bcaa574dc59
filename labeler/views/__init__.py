"""HTML pages. Thin: resolve the project and the user's role, call a selector or a service,
render. Fragments polled or swapped by htmx share their templates with the full pages.

Access: a project the user is not a member of is a 404 (outsiders never learn it exists); a
member whose role does not allow the page gets a 403.
"""

from labeler.views.dashboard import dashboard, retrain
from labeler.views.health import health
from labeler.views.items import item_correct, items, items_bulk, project_export
from labeler.views.labeling import (
    item_file,
    label,
    label_answer,
    label_correct,
    label_lease,
    label_skip,
    label_undo,
    label_unskip,
    shortcut_keys,
)
from labeler.views.projects import (
    import_job,
    project_create,
    project_import,
    project_list,
    project_settings,
)
from labeler.views.suggestions import project_suggestions
from labeler.views.team import conflicts, item_history, member_remove, member_role, members

__all__ = [
    "conflicts",
    "dashboard",
    "health",
    "import_job",
    "item_file",
    "item_correct",
    "item_history",
    "items",
    "items_bulk",
    "label",
    "label_answer",
    "label_correct",
    "label_lease",
    "label_skip",
    "label_undo",
    "label_unskip",
    "member_remove",
    "member_role",
    "members",
    "project_create",
    "project_export",
    "project_import",
    "project_list",
    "project_settings",
    "project_suggestions",
    "retrain",
    "shortcut_keys",
]
