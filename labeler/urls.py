from django.urls import path

from labeler import views
from labeler.views import audit as audit_views
from labeler.views import dicom as dicom_views
from labeler.views import scans as scan_views
from labeler.views import webhooks as webhook_views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("healthz", views.health, name="health"),
    path("projects/new/", views.project_create, name="project-create"),
    path("projects/<int:project_id>/", views.dashboard, name="project-dashboard"),
    path("projects/<int:project_id>/retrain/", views.retrain, name="project-retrain"),
    path("projects/<int:project_id>/settings/", views.project_settings, name="project-settings"),
    path(
        "projects/<int:project_id>/settings/webhooks/",
        webhook_views.project_webhooks,
        name="project-webhooks",
    ),
    path(
        "projects/<int:project_id>/settings/webhooks/<int:hook_id>/",
        webhook_views.project_webhook_change,
        name="project-webhook-change",
    ),
    path("projects/<int:project_id>/import/", views.project_import, name="project-import"),
    path("projects/<int:project_id>/label/", views.label, name="label"),
    path("projects/<int:project_id>/label/lease/", views.label_lease, name="label-lease"),
    path("projects/<int:project_id>/label/answer/", views.label_answer, name="label-answer"),
    path("projects/<int:project_id>/label/skip/", views.label_skip, name="label-skip"),
    path("projects/<int:project_id>/label/undo/", views.label_undo, name="label-undo"),
    path("projects/<int:project_id>/label/unskip/", views.label_unskip, name="label-unskip"),
    path("projects/<int:project_id>/label/correct/", views.label_correct, name="label-correct"),
    path("projects/<int:project_id>/members/", views.members, name="project-members"),
    path(
        "projects/<int:project_id>/members/<int:membership_id>/role/",
        views.member_role,
        name="member-role",
    ),
    path(
        "projects/<int:project_id>/members/<int:membership_id>/remove/",
        views.member_remove,
        name="member-remove",
    ),
    path("projects/<int:project_id>/conflicts/", views.conflicts, name="project-conflicts"),
    path("projects/<int:project_id>/items/<int:item_id>/", views.item_history, name="item-history"),
    path("projects/<int:project_id>/items/", views.items, name="project-items"),
    path("projects/<int:project_id>/items/bulk/", views.items_bulk, name="project-items-bulk"),
    path(
        "projects/<int:project_id>/items/<int:item_id>/correct/",
        views.item_correct,
        name="item-correct",
    ),
    path("projects/<int:project_id>/export/", views.project_export, name="project-export"),
    path("projects/<int:project_id>/audit/", audit_views.project_audit, name="project-audit"),
    path("audit/", audit_views.audit, name="audit"),
    path("imports/<int:job_id>/", views.import_job, name="import-job"),
    path(
        "projects/<int:project_id>/import/suggestions/",
        views.project_suggestions,
        name="project-suggestions",
    ),
    path("items/<int:item_id>/file", views.item_file, name="item-file"),
    path("items/<int:item_id>/dicom/", dicom_views.item_dicom_info, name="item-dicom"),
    path("items/<int:item_id>/scan/", scan_views.item_scan_info, name="item-scan"),
    path("items/<int:item_id>/scan/slice.png", scan_views.item_scan_slice, name="item-scan-slice"),
    path(
        "items/<int:item_id>/dicom/render.png",
        dicom_views.item_dicom_render,
        name="item-dicom-render",
    ),
    path(
        "projects/<int:project_id>/import/pacs/",
        dicom_views.pacs_import,
        name="project-import-pacs",
    ),
]
