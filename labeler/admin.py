from django.contrib import admin

from labeler.models import (
    Annotation,
    ImportJob,
    Item,
    LabelClass,
    Membership,
    ModelRun,
    Project,
    QueryRound,
    QueueEntry,
)


class LabelClassInline(admin.TabularInline):
    model = LabelClass
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "strategy", "round_size", "n_items", "n_labeled", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    readonly_fields = ["n_items", "n_labeled", "created_at", "updated_at"]
    inlines = [LabelClassInline, MembershipInline]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "source_name", "status", "label", "is_evaluation"]
    list_filter = ["project", "status", "is_evaluation"]
    search_fields = ["source_name", "checksum"]
    raw_id_fields = ["project", "label", "prelabel"]
    # Pools are large: never count them for the changelist paginator.
    show_full_result_count = False


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


@admin.register(QueryRound)
class QueryRoundAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "number", "strategy", "size", "n_done", "created_at"]
    list_filter = ["project"]


@admin.register(QueueEntry)
class QueueEntryAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "round", "rank", "kind", "done", "leased_by"]
    list_filter = ["project", "done", "kind"]
    raw_id_fields = ["item", "round"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "source_name", "status", "imported", "duplicates"]
