"""Projects and their classes: the one ModelSerializer that writes, through services."""

from __future__ import annotations

from rest_framework import serializers

from labeler import engine, services
from labeler.models import LabelClass, Project


def strategy_choices() -> list[str]:
    # The engine's registry, as the HTML form reads it; read per serializer, not at import.
    return engine.strategy_names()


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
            "show_suggestions",
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
