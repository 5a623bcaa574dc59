"""Projects and their classes: the one ModelSerializer that writes, through services."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers

from labeler import engine, services
from labeler.models import LabelClass, Project


def strategy_choices() -> list[str]:
    # The engine's registries (both tasks': validate() checks the task's), as the HTML form
    # reads them; read per serializer, not at import.
    return sorted({*engine.strategy_names(), *engine.strategy_names("findings")})


class ClassNamesField(serializers.ListField):
    """Class names in order; reads the project's LabelClass rows."""

    def to_representation(self, classes) -> list[str]:
        return [label_class.name for label_class in classes.all()]


class FindingNamesField(serializers.ListField):
    """A findings project's findings (its classes, in order); null for a single-label
    project. Read from the whole project, written as the ``findings`` attribute."""

    def to_representation(self, project: Project) -> list[str] | None:
        if not project.is_findings:
            return None
        return [label_class.name for label_class in project.classes.all()]

    def to_internal_value(self, data) -> dict:
        return {"findings": super().to_internal_value(data)}


class ProjectSerializer(serializers.ModelSerializer):
    findings = FindingNamesField(
        source="*",
        child=serializers.CharField(max_length=100),
        max_length=1000,
        required=False,
        allow_null=True,
        help_text='With "task": "findings": the findings each answer gives a state (present, '
        "absent, uncertain); they are the project's classes. null for a single-label project.",
    )
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
            "unit",
            "task",
            "findings",
            "uncertain_policy",
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
            "dicom_pixel_text",
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
            self.fields["unit"].required = False

    def validate(self, attrs: dict) -> dict:
        scan_unit = attrs.get("unit", Project.Unit.INSTANCE) != Project.Unit.INSTANCE
        if self.instance is None and scan_unit and attrs.get("kind") != Project.Kind.IMAGE:
            raise serializers.ValidationError(
                {"unit": [_("Series and study items are DICOM images: use an image project.")]}
            )
        attrs = self._findings_as_classes(attrs)
        strategy = attrs.get("strategy")
        if strategy is not None:
            project = self.instance if isinstance(self.instance, Project) else None
            task = attrs.get("task", project.task if project else Project.Task.SINGLE)
            if strategy not in engine.strategy_names(task):
                raise serializers.ValidationError(
                    {
                        "strategy": [
                            _("%(name)s is not a strategy for this task.") % {"name": strategy}
                        ]
                    }
                )
        features = attrs.get("features")
        if features is not None:
            project = self.instance if isinstance(self.instance, Project) else None
            kind = project.kind if project else attrs.get("kind", "")
            problem = engine.features_problem(features, kind, project.n_items if project else None)
            if problem:
                raise serializers.ValidationError({"features": [problem]})
        return attrs

    def _findings_as_classes(self, attrs: dict) -> dict:
        """``findings`` are the classes of a findings project; refused for any other."""
        findings = attrs.pop("findings", None)
        if findings is None:
            return attrs
        project = self.instance if isinstance(self.instance, Project) else None
        task = attrs.get("task", project.task if project else Project.Task.SINGLE)
        if task != Project.Task.FINDINGS:
            raise serializers.ValidationError(
                {"findings": [_('Findings need "task": "findings".')]}, code="invalid"
            )
        try:
            cleaned = self.validate_classes(findings)
        except serializers.ValidationError as refused:
            raise serializers.ValidationError({"findings": refused.detail}) from refused
        if "classes" in attrs and attrs["classes"] != cleaned:
            raise serializers.ValidationError(
                {"classes": [_("Give findings or classes, not both.")]}, code="invalid"
            )
        attrs["classes"] = cleaned
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
