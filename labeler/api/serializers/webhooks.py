"""The webhook API's shapes, and the documented payload (``data``) of each event. A delivery's
body is ``{"event", "delivery", "project", "created_at", "data"}``, ``data`` as below."""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from labeler.models_webhooks import WEBHOOK_EVENTS, Webhook, WebhookDelivery


class RoundReadyPayload(serializers.Serializer):
    """``round.ready``: a retrain wrote a new round to label."""

    round = serializers.IntegerField(help_text="The round's number in the project.")
    round_id = serializers.IntegerField()
    size = serializers.IntegerField(help_text="Items in the round.")
    run = serializers.IntegerField(help_text="The model run that chose them.")
    strategy = serializers.CharField()


class ModelTrainedPayload(serializers.Serializer):
    """``model.trained``: a model run succeeded; its evaluation metrics."""

    run = serializers.IntegerField()
    model = serializers.CharField()
    strategy = serializers.CharField()
    n_labels = serializers.IntegerField(help_text="Labels the model trained on.")
    train_seconds = serializers.FloatField(allow_null=True)
    metrics = serializers.DictField(
        help_text="accuracy, macro_f1, accuracy_low/high (95% interval), n_eval, ... as the "
        "model run's metrics (the learning curve left out)."
    )


class BudgetSpentPayload(serializers.Serializer):
    """``budget.spent``: the project's label budget is used up (sent once per hook)."""

    budget = serializers.IntegerField()
    n_annotations = serializers.IntegerField()


class TargetReachedPayload(serializers.Serializer):
    """``target.reached``: the first run whose metric reaches the project's target."""

    run = serializers.IntegerField()
    metric = serializers.CharField(help_text="accuracy or macro_f1")
    value = serializers.FloatField()
    target = serializers.FloatField()


class ImportFinishedPayload(serializers.Serializer):
    """``import.finished``: an import job ended (``status`` succeeded or failed)."""

    status = serializers.CharField()
    imported = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField(help_text="Files or rows refused (the job has them).")
    error = serializers.CharField()

    def get_fields(self):
        fields = super().get_fields()
        fields["import"] = serializers.IntegerField(help_text="The import job's id.")
        return fields


class LabelsAddedPayload(serializers.Serializer):
    """``labels.added``: labels given since the hook's previous ``labels.added`` call (at most
    one call per ``TWEEZERS_WEBHOOK_LABELS_SECONDS``)."""

    count = serializers.IntegerField()
    item_ids = serializers.ListField(child=serializers.IntegerField())


EVENT_PAYLOADS = {
    "round.ready": RoundReadyPayload,
    "model.trained": ModelTrainedPayload,
    "budget.spent": BudgetSpentPayload,
    "target.reached": TargetReachedPayload,
    "import.finished": ImportFinishedPayload,
    "labels.added": LabelsAddedPayload,
}

EventPayload = PolymorphicProxySerializer(
    component_name="WebhookEventPayload",
    serializers=list(EVENT_PAYLOADS.values()),
    resource_type_field_name=None,
)


@extend_schema_field(EventPayload)
class EventPayloadField(serializers.JSONField):
    pass


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WEBHOOK_EVENTS))
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Webhook
        fields = [
            "id",
            "url",
            "events",
            "active",
            "failures_in_row",
            "disabled_reason",
            "disabled_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    """As a hook, plus its secret: shown this once."""

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=2000,
        help_text="An http(s) address under one of the server's TWEEZERS_WEBHOOK_URLS prefixes; "
        "no query string; redirects are not followed.",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENTS), allow_empty=False
    )
    secret = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        trim_whitespace=False,
        help_text="Signs each delivery (X-Tweezers-Signature); generated when left out.",
    )


class WebhookUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENTS), allow_empty=False, required=False
    )
    active = serializers.BooleanField(
        required=False, help_text="true turns a disabled hook on again and clears its failures."
    )


class WebhookDeliverySerializer(serializers.ModelSerializer):
    payload = EventPayloadField()

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "payload",
            "attempt",
            "status",
            "response_code",
            "duration_ms",
            "error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields
