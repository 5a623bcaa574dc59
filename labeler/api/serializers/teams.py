"""Teams: members and invitations, agreement figures, adjudication."""

from __future__ import annotations

from rest_framework import serializers

from labeler.api.serializers.labeling import AnswerFieldsMixin, findings_field
from labeler.models import Membership


class AdjudicateSerializer(AnswerFieldsMixin, serializers.Serializer):
    label = serializers.CharField(
        max_length=100, required=False, help_text="The class the item truly is (single-label)."
    )
    findings = findings_field(
        "Findings projects: the state of each finding the manager rules on; left out = absent."
    )


class AgreementPairSerializer(serializers.Serializer):
    annotators = serializers.ListField(child=serializers.CharField())
    items = serializers.IntegerField()
    cohen_kappa = serializers.FloatField()


class AgreementAnnotatorSerializer(serializers.Serializer):
    annotator = serializers.CharField()
    items = serializers.IntegerField()
    agreement = serializers.FloatField(help_text="Share of items where they gave the final label.")


class FindingAgreementSerializer(serializers.Serializer):
    finding = serializers.CharField()
    fleiss_kappa = serializers.FloatField(allow_null=True)
    mean_cohen_kappa = serializers.FloatField(allow_null=True)
    pairs = AgreementPairSerializer(many=True)
    versus_consensus = AgreementAnnotatorSerializer(many=True)


class AgreementSerializer(serializers.Serializer):
    overlap = serializers.IntegerField()
    fleiss_kappa = serializers.FloatField(allow_null=True)
    pairs = AgreementPairSerializer(many=True)
    versus_consensus = AgreementAnnotatorSerializer(many=True)
    findings = FindingAgreementSerializer(
        many=True,
        required=False,
        help_text="Findings projects: the same figures per finding (states present, absent, "
        "uncertain); the figures above then compare whole answers.",
    )
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
