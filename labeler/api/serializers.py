"""Input and output shapes of the API. Plain resources use ModelSerializers; action endpoints
(next item, submit, correct, upload) have explicit input and output serializers and call a
service. Nothing here writes a model except through a service."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeler import access, engine, services
from labeler.models import (
    Annotation,
    FeatureSet,
    ImportJob,
    Item,
    ItemView,
    LabelClass,
    Membership,
    ModelRun,
    Project,
    QueryRound,
)

# A URL that is null when there is nothing to point at (no file, no artifact).
NULLABLE_URI = {"type": "string", "format": "uri", "nullable": True}
NULLABLE_STRING = {"type": "string", "nullable": True}


def role_in_context(context: dict) -> str | None:
    """The reader's role in the project, from the view that serializes (None: unknown, and
    the access policy then shows the least)."""
    return getattr(context.get("view"), "project_role", None)


def strategy_choices() -> list[str]:
    # The engine's registry, as the HTML form reads it; read per serializer, not at import.
    return engine.strategy_names()


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)
    expiry = serializers.DateTimeField(read_only=True, help_text="When the token stops working.")


class ClassNamesField(serializers.ListField):
    """Class names in order; reads the project's LabelClass rows."""

    def to_representation(self, classes) -> list[str]:
        return [label_class.name for label_class in classes.all()]


class ProjectSerializer(serializers.ModelSerializer):
    classes = ClassNamesField(
        child=serializers.CharField(max_length=100),
        max_length=1000,
        required=False,
        help_text="Class names. On create they become the project's classes; on update, names "
        "not yet present are added (classes are never removed, annotations refer to them).",
    )
    strategy = serializers.ChoiceField(choices=(), required=False)
    features = serializers.ChoiceField(
        choices=(),
        required=False,
        help_text="A representation from the registry, or auto. Changing it computes a new "
        "feature version in the background; the current one serves until it is ready.",
    )
    budget = serializers.IntegerField(
        min_value=1,
        max_value=10_000_000,
        allow_null=True,
        required=False,
        help_text="Total labels the project may spend; null = no limit.",
    )
    daily_cap = serializers.IntegerField(
        min_value=1,
        max_value=100_000,
        allow_null=True,
        required=False,
        help_text="Labels per annotator per day; null = no limit.",
    )

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "classes",
            "budget",
            "daily_cap",
            "strategy",
            "features",
            "round_size",
            "evaluation_share",
            "target_metric",
            "target_value",
            "show_model_guess",
            "lease_seconds",
            "dicom_allow_burned_in",
            "overlap",
            "n_items",
            "n_labeled",
            "created_at",
        ]
        read_only_fields = ["id", "n_items", "n_labeled", "created_at"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["strategy"].choices = strategy_choices()
        self.fields["features"].choices = [name for name, _ in engine.feature_choices()]
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            # Kind and overlap are fixed after creation: project_update refuses a change with
            # a 400 instead of ignoring it. The kind's own validators are for creation.
            self.fields["kind"].required = False

    def validate(self, attrs: dict) -> dict:
        features = attrs.get("features")
        if features is not None:
            project = self.instance if isinstance(self.instance, Project) else None
            kind = project.kind if project else attrs.get("kind", "")
            problem = engine.features_problem(features, kind, project.n_items if project else None)
            if problem:
                raise serializers.ValidationError({"features": [problem]})
        return attrs

    def validate_classes(self, names: list[str]) -> list[str]:
        try:
            cleaned = services.class_names_check(names)
        except services.ProjectRejected as refused:
            raise serializers.ValidationError(refused.message, code=refused.code) from refused
        if len(cleaned) != len(names):
            raise serializers.ValidationError("Class names must be unique.")
        return cleaned

    def create(self, validated_data: dict) -> Project:
        classes = validated_data.pop("classes", [])
        try:
            return services.project_create(
                classes=classes, created_by=self.context["request"].user, **validated_data
            )
        except services.ProjectRejected as refused:
            raise serializers.ValidationError({"classes": [refused.message]}) from refused

    def update(self, instance: Project, validated_data: dict) -> Project:
        # The one write path: lock the row, save only the edited fields (never the counters).
        classes = validated_data.pop("classes", None) or ()
        try:
            return services.project_update(
                project=instance, changes=validated_data, new_classes=classes
            )
        except services.ProjectRejected as refused:
            field = next((f for f in validated_data if f in refused.message), "non_field_errors")
            if refused.code in ("blank_class", "invalid_class", "duplicate_class"):
                field = "classes"
            raise serializers.ValidationError({field: [refused.message]}, refused.code) from refused


class LabelClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = LabelClass
        fields = ["id", "name", "order"]
        read_only_fields = ["id", "order"]

    def validate_name(self, name: str) -> str:
        project = self.context["project"]
        existing = list(project.classes.values_list("name", flat=True))
        try:
            (name,) = services.class_names_check([name], existing)
        except services.ProjectRejected as refused:
            raise serializers.ValidationError(refused.message, code=refused.code) from refused
        if name in existing:
            raise serializers.ValidationError(f"The project already has a class {name!r}.")
        return name

    def create(self, validated_data: dict) -> LabelClass:
        name = validated_data["name"]
        project = self.context["project"]
        return services.label_classes_ensure(project=project, names=[name])[name]


def item_file_url(item: Item, request) -> str | None:
    """The access-checked URL of an item's file; None for text items."""
    if not item.file:
        return None
    url = reverse("api:item-file", kwargs={"pk": item.pk})
    return request.build_absolute_uri(url) if request else url


@extend_schema_field(NULLABLE_URI)
class ImageUrlField(serializers.Field):
    def __init__(self, **kwargs) -> None:
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, item: Item) -> str | None:
        return item_file_url(item, self.context.get("request"))


class ImportJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "url",
            "source_name",
            "status",
            "total",
            "processed",
            "imported",
            "duplicates",
            "rejected",
            "error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_url(self, job: ImportJob) -> str:
        url = reverse("api:import-job", kwargs={"project_pk": job.project_id, "pk": job.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class ItemViewSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ItemView
        fields = ["id", "item_id", "user", "where", "detail", "at"]
        read_only_fields = fields


class ItemSerializer(serializers.ModelSerializer):
    image_url = ImageUrlField()
    label = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    prelabel = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    is_evaluation = serializers.SerializerMethodField(
        help_text="Whether the item is in the evaluation set; null for everyone but managers "
        "(labeler/access.py)."
    )

    @extend_schema_field({"type": "boolean", "nullable": True})
    def get_is_evaluation(self, item: Item) -> bool | None:
        if not access.item_fields_for(role_in_context(self.context), ["is_evaluation"]):
            return None
        return item.is_evaluation

    class Meta:
        model = Item
        fields = [
            "id",
            "source_name",
            "text",
            "image_url",
            "status",
            "label",
            "prelabel",
            "is_evaluation",
            "metadata",
            "created_at",
        ]
        read_only_fields = fields


class ItemUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="An image, a zip of images (class sub-folders become labels), a CSV or JSONL "
        "of texts, or a JSON file of Label Studio tasks."
    )


class RejectedSerializer(serializers.Serializer):
    name = serializers.CharField()
    reason = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    imported = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = RejectedSerializer(many=True)


class LeasedItemSerializer(serializers.Serializer):
    """The item an annotator should label now. Deliberately without the queue entry's kind:
    annotators must not tell evaluation items from strategy picks."""

    id = serializers.IntegerField(source="item.id")
    source_name = serializers.CharField(source="item.source_name")
    text = serializers.CharField(source="item.text")
    image_url = serializers.SerializerMethodField()
    lease_expires_at = serializers.DateTimeField()
    round = serializers.IntegerField(source="round.number")
    model_guess = serializers.SerializerMethodField(
        help_text="The model's guess, only when the project shows it (show_model_guess)."
    )

    @extend_schema_field(NULLABLE_URI)
    def get_image_url(self, entry) -> str | None:
        return item_file_url(entry.item, self.context.get("request"))

    @extend_schema_field(NULLABLE_STRING)
    def get_model_guess(self, entry) -> str | None:
        if not self.context["project"].show_model_guess or entry.predicted_label is None:
            return None
        return entry.predicted_label.name


class NextItemSerializer(serializers.Serializer):
    item = LeasedItemSerializer(source="entry", allow_null=True)
    state = serializers.ChoiceField(
        choices=["ready", "updating", "budget_spent", "daily_cap", "done"]
    )
    message = serializers.CharField()


class AnnotationSerializer(serializers.ModelSerializer):
    label = serializers.SlugRelatedField(slug_field="name", read_only=True)
    annotator = serializers.SlugRelatedField(slug_field="username", read_only=True)
    round = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)
    predicted_label = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    kind = serializers.SerializerMethodField(
        help_text="strategy, evaluation or import; null for everyone but managers "
        "(labeler/access.py): annotators are served evaluation items unmarked and must not "
        "learn afterwards which ones they were."
    )

    @extend_schema_field(NULLABLE_STRING)
    def get_kind(self, annotation: Annotation) -> str | None:
        if not access.annotation_fields_for(role_in_context(self.context), ["kind"]):
            return None
        return annotation.kind

    class Meta:
        model = Annotation
        fields = [
            "id",
            "item",
            "label",
            "annotator",
            "kind",
            "round",
            "client_key",
            "seconds_spent",
            "note",
            "is_unsure",
            "predicted_label",
            "predicted_confidence",
            "replaces",
            "is_current",
            "is_adjudication",
            "created_at",
        ]
        read_only_fields = fields


class AnnotationSubmitSerializer(serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    label = serializers.CharField(max_length=100)
    client_key = serializers.CharField(
        max_length=64,
        required=False,
        allow_null=True,
        help_text="A key the client chooses per label; a retry with the same key returns the "
        "annotation already stored (200) instead of creating another.",
    )
    seconds_spent = serializers.FloatField(
        min_value=0, max_value=24 * 3600, required=False, allow_null=True
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    is_unsure = serializers.BooleanField(
        required=False, default=False, help_text="The annotator is not sure of this label."
    )


class AnnotationCorrectSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=100)


class QueryRoundSerializer(serializers.ModelSerializer):
    class Meta:
        model = QueryRound
        fields = [
            "id",
            "number",
            "model_run",
            "strategy",
            "size",
            "n_done",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields


class ModelRunSerializer(serializers.ModelSerializer):
    created = serializers.DateTimeField(source="created_at", read_only=True)
    metrics = serializers.JSONField(
        read_only=True,
        help_text="Evaluation-set metrics: at least accuracy and macro_f1 once the evaluation "
        "set has labels.",
    )
    artifact_url = serializers.SerializerMethodField()

    class Meta:
        model = ModelRun
        fields = [
            "id",
            "status",
            "strategy",
            "model_name",
            "n_labels",
            "metrics",
            "error",
            "created",
            "started_at",
            "finished_at",
            "train_seconds",
            "query_seconds",
            "artifact_url",
        ]
        read_only_fields = fields

    @extend_schema_field(NULLABLE_URI)
    def get_artifact_url(self, run: ModelRun) -> str | None:
        if not run.artifact_path:
            return None
        url = reverse("api:model-run-artifact", kwargs={"project_pk": run.project_id, "pk": run.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=["csv", "json", "jsonl", "imagefolder", "labelstudio"], default="csv"
    )
    final = serializers.BooleanField(
        default=True,
        help_text="true: one row per labeled item with its final label; false: every "
        "annotation, corrected ones included.",
    )
    include_evaluation = serializers.BooleanField(
        default=True, help_text="Include items of the random evaluation draw."
    )
    neutralise_formulas = serializers.BooleanField(
        default=True,
        help_text="csv: prefix cells starting with =, +, -, @, tab or CR with ' so that a "
        "spreadsheet shows them instead of running them; false for scripts that need the raw "
        "text.",
    )
    since = serializers.DateTimeField(
        required=False, help_text="Only labels given at or after this time (ISO 8601)."
    )


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(required=False)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class AnnotatorTodaySerializer(serializers.Serializer):
    annotator = serializers.CharField()
    labels = serializers.IntegerField()
    seconds = serializers.FloatField(allow_null=True)


class QueueStateSerializer(serializers.Serializer):
    open = serializers.IntegerField()
    leased = serializers.IntegerField()
    evaluation_open = serializers.IntegerField()


class EvaluationSetSerializer(serializers.Serializer):
    items = serializers.IntegerField()
    labeled = serializers.IntegerField()


class WorkerStateSerializer(serializers.Serializer):
    state = serializers.CharField()
    run = serializers.IntegerField(allow_null=True)
    since = serializers.DateTimeField(allow_null=True)


class FeatureSetSerializer(serializers.ModelSerializer):
    class Meta:
        model = FeatureSet
        fields = [
            "id",
            "representation",
            "version",
            "status",
            "processed",
            "total",
            "percent",
            "dimension",
            "rows_per_second",
            "error",
            "created_at",
            "ready_at",
            "finished_at",
        ]
        read_only_fields = fields


class FeatureStateSerializer(serializers.Serializer):
    """The features retrains use now, and the version being computed (if any)."""

    serving = FeatureSetSerializer(allow_null=True)
    building = FeatureSetSerializer(allow_null=True)
    eta_seconds = serializers.FloatField(allow_null=True)


class ProjectStatsSerializer(serializers.Serializer):
    """What ``selectors.project_stats`` computes, as JSON."""

    n_items = serializers.IntegerField()
    n_labeled = serializers.IntegerField()
    labels_spent = serializers.IntegerField()
    budget = serializers.IntegerField(allow_null=True)
    budget_remaining = serializers.IntegerField(allow_null=True)
    daily_cap = serializers.IntegerField(allow_null=True)
    mean_seconds_per_label = serializers.FloatField(allow_null=True)
    hours_to_spend_budget = serializers.FloatField(allow_null=True)
    per_annotator_today = AnnotatorTodaySerializer(many=True)
    queue = QueueStateSerializer()
    evaluation = EvaluationSetSerializer()
    worker = WorkerStateSerializer()
    features = FeatureStateSerializer()
    latest_run = ModelRunSerializer(allow_null=True)
    latest_model = ModelRunSerializer(allow_null=True)
    metrics = serializers.JSONField()
    learning_curve = serializers.JSONField()
    stop = serializers.JSONField(allow_null=True)
    runs = ModelRunSerializer(many=True)
    rounds = QueryRoundSerializer(many=True)


class AdjudicateSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=100, help_text="The class the item truly is.")


class AgreementPairSerializer(serializers.Serializer):
    annotators = serializers.ListField(child=serializers.CharField())
    items = serializers.IntegerField()
    cohen_kappa = serializers.FloatField()


class AgreementAnnotatorSerializer(serializers.Serializer):
    annotator = serializers.CharField()
    items = serializers.IntegerField()
    agreement = serializers.FloatField(help_text="Share of items where they gave the final label.")


class AgreementSerializer(serializers.Serializer):
    overlap = serializers.IntegerField()
    fleiss_kappa = serializers.FloatField(allow_null=True)
    pairs = AgreementPairSerializer(many=True)
    versus_consensus = AgreementAnnotatorSerializer(many=True)
    conflicts = serializers.IntegerField(help_text="Items waiting for a manager's ruling.")


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "created_at"]
        read_only_fields = ["id", "username", "created_at"]


class InviteSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    create_account = serializers.BooleanField(
        default=False,
        help_text="Create a new account; its one-time password is in the response, once.",
    )


class InvitationSerializer(serializers.Serializer):
    member = MemberSerializer(source="membership")
    password = serializers.CharField(
        allow_null=True, help_text="Only when the account was just created; never shown again."
    )
