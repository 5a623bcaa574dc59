"""Model runs, query rounds and the dashboard's statistics."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeler.api.serializers.common import NULLABLE_URI
from labeler.models import FeatureSet, ModelRun, QueryRound


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


class RepresentationStateSerializer(serializers.Serializer):
    """Which representation serves and why (issue 20: "auto" re-decides it by evidence)."""

    serving = serializers.CharField(allow_null=True)
    automatic = serializers.BooleanField(
        help_text='True when "auto" re-decides it by cross-validation on the labels.'
    )
    candidates = serializers.ListField(child=serializers.CharField())
    evidence = serializers.JSONField(
        allow_null=True,
        help_text="The latest comparison: chosen, serving (before it), scores (name -> "
        "[mean, std] cross-validated accuracy), n_labels, n_compared, folds, reason.",
    )
    why = serializers.CharField(help_text="A sentence in the request's language.")


class SemiSupervisedSerializer(serializers.Serializer):
    """Whether the latest model used the unlabeled pool (label spreading over its neighbour
    graph) and the comparison with and without it that decided."""

    on = serializers.BooleanField(help_text="The served model was trained with the pool.")
    by = serializers.ChoiceField(
        choices=["evaluation", "cross-validation", "setting", "too few labels"],
        help_text="evaluation: on the evaluation set's answers; cross-validation: on the "
        "labels; setting: TWEEZERS_SEMI_SUPERVISED=on; too few labels to compare",
    )
    supervised = serializers.FloatField(
        required=False, help_text="Accuracy without the pool, in that comparison."
    )
    semi_supervised = serializers.FloatField(
        required=False, help_text="Accuracy with the pool, in that comparison."
    )
    n_compared = serializers.IntegerField(
        required=False, help_text="Evaluation answers (or folds) compared on."
    )
    n_pseudo = serializers.IntegerField(
        required=False, help_text="Pool items that label spreading labeled for training."
    )
    decided_on = serializers.IntegerField(
        required=False, help_text="Labels when decided; re-decided as they grow by 25%."
    )
    summary = serializers.CharField(help_text="The decision in one translated sentence.")


class VersusRandomSerializer(serializers.Serializer):
    """What a model trained on as many random labels would reach, estimated by cross-fitting
    within the evaluation set (a random sample of the pool), beside the latest model. For a
    findings project the figures are macro ROC AUC (``measure``), under the same keys."""

    n_labels = serializers.IntegerField(help_text="The latest model's training labels.")
    accuracy = serializers.FloatField(
        allow_null=True, help_text="Estimated accuracy with that many random labels."
    )
    low = serializers.FloatField(allow_null=True, help_text="Its 95% interval, low end.")
    high = serializers.FloatField(allow_null=True, help_text="Its 95% interval, high end.")
    method = serializers.ChoiceField(
        choices=["measured", "extrapolated", "too_few"],
        help_text="measured within the evaluation set's sizes, extrapolated beyond them by a "
        "fitted learning curve, or too_few evaluation labels to say",
    )
    n_evaluation = serializers.IntegerField(help_text="Evaluation labels it rests on.")
    measure = serializers.ChoiceField(
        choices=["accuracy", "macro_auc"],
        default="accuracy",
        help_text="What accuracy, low, high and model_accuracy measure: accuracy (single-label) "
        "or macro_auc (findings: mean ROC AUC over findings with both states held out)",
    )
    model_accuracy = serializers.FloatField(
        allow_null=True, help_text="The latest model's figure in the same measure."
    )
    verdict = serializers.ChoiceField(
        choices=["ahead", "level", "behind"],
        allow_null=True,
        help_text="ahead: the model's accuracy is above the estimate's interval; level: within "
        "it (not shown to beat random labels); behind: below it",
    )


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
    representation = RepresentationStateSerializer()
    latest_run = ModelRunSerializer(allow_null=True)
    latest_model = ModelRunSerializer(allow_null=True)
    metrics = serializers.JSONField()
    learning_curve = serializers.JSONField()
    stop = serializers.JSONField(allow_null=True)
    versus_random = VersusRandomSerializer(allow_null=True)
    semi_supervised = SemiSupervisedSerializer(allow_null=True)
    runs = ModelRunSerializer(many=True)
    rounds = QueryRoundSerializer(many=True)
