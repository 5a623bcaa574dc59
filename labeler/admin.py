"""The Django admin, for hospital IT. A project's row is written through the same services as
the settings page and the API (``project_create``, ``project_update``): the counters are never
saved from the admin's copy, and kind and overlap are fixed after creation."""

from collections import defaultdict

from django.contrib import admin, messages

from labeler import services
from labeler.models import (
    Annotation,
    ImportJob,
    Item,
    ItemView,
    LabelClass,
    Membership,
    ModelRun,
    Project,
    QueryRound,
    QueueEntry,
    SecurityEvent,
)


class LabelClassInline(admin.TabularInline):
    model = LabelClass
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    # Set by single sign-on (a directory group's role); one added here is a manager's.
    readonly_fields = ["source"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "strategy", "round_size", "n_items", "n_labeled", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    inlines = [LabelClassInline, MembershipInline]

    def get_deleted_objects(self, objs, request):
        """The queue's rows (rounds, entries) go with their project: shown, never deleted one by
        one here, they must not refuse the project's own deletion, which left a project that
        had ever been labeled impossible to delete from the admin. Its audit stays."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        queue_tables = {model._meta.verbose_name for model in (QueryRound, QueueEntry)}
        return deleted, counts, perms_needed - queue_tables, protected

    def get_readonly_fields(self, request, obj=None):
        fixed = services.FIXED_PROJECT_FIELDS if obj is not None else ()
        return [*fixed, *services.PROJECT_COUNTER_FIELDS, "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        if change:
            changes = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in services.EDITABLE_PROJECT_FIELDS
            }
            services.project_update(project=obj, changes=changes)
            return
        options = {
            name: form.cleaned_data[name]
            for name in form.cleaned_data
            if name in (*services.EDITABLE_PROJECT_FIELDS, "overlap") and name != "name"
        }
        created = services.project_create(
            name=form.cleaned_data["name"],
            kind=form.cleaned_data["kind"],
            created_by=request.user,
            **options,
        )
        # The inlines (classes, members) are saved against this row next.
        obj.pk = created.pk
        obj._state.adding = False
        obj.created_by = created.created_by
        messages.info(request, f"{created.name} created; you are its manager.")


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "source_name", "status", "label", "is_evaluation"]
    list_filter = ["project", "status", "is_evaluation"]
    search_fields = ["source_name", "checksum"]
    raw_id_fields = ["project", "label", "prelabel"]
    # Pools are large: never count them for the changelist paginator.
    show_full_result_count = False

    # The admin shows items' names and texts: audited like the app's own pages.
    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            shown = defaultdict(list)
            for item in changelist.result_list:
                shown[item.project].append(item.pk)
            for project, item_ids in shown.items():
                services.item_views_record(
                    user=request.user,
                    project=project,
                    item_ids=item_ids,
                    where="admin",
                    detail="admin item list",
                )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        original = getattr(response, "context_data", {}).get("original")
        if request.method == "GET" and original is not None:
            services.item_view_record(
                user=request.user,
                project=original.project,
                item_id=original.pk,
                where="admin",
                detail="admin item page",
            )
        return response

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("project")


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "project",
        "item",
        "label",
        "annotator",
        "kind",
        "is_current",
        "created_at",
    ]
    list_filter = ["project", "kind", "is_current"]
    raw_id_fields = ["item", "replaces", "round", "label", "predicted_label"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        # Labels are never overwritten: a correction is a new annotation.
        return False


@admin.register(ModelRun)
class ModelRunAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "status", "n_labels", "created_at", "train_seconds"]
    list_filter = ["project", "status"]


class QueueTableAdmin(admin.ModelAdmin):
    """Shown, never written: only ``labeler.queue`` writes the queue's tables, under its locks
    and with its counters."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(QueryRound)
class QueryRoundAdmin(QueueTableAdmin):
    list_display = ["id", "project", "number", "strategy", "size", "n_done", "created_at"]
    list_filter = ["project"]


@admin.register(QueueEntry)
class QueueEntryAdmin(QueueTableAdmin):
    list_display = ["id", "project", "round", "rank", "kind", "done", "leased_by"]
    list_filter = ["project", "done", "kind"]
    raw_id_fields = ["item", "round"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "source_name", "status", "imported", "duplicates"]


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    """Read-only: lockouts and password spraying, written by the login handler."""

    list_display = ("at", "kind", "username", "ip_address", "detail")
    list_filter = ("kind",)
    search_fields = ("username", "ip_address")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ItemView)
class ItemViewAdmin(admin.ModelAdmin):
    """Read-only: the view audit, written by the pages and the API (labeler/services/audit.py).
    The app's own audit page (/audit/) filters it and downloads it as CSV."""

    list_display = ("at", "project_name", "project_id", "username", "where", "item_id", "detail")
    list_filter = ("where",)
    search_fields = ("username", "project_name")
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
