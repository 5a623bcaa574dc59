"""Findings (multi-label) answers: an answer to a findings project is one ``Annotation``; the
state it gives each finding (the project's ``LabelClass`` rows) is a ``FindingAnswer`` row,
and the item's resolved state per finding an ``ItemFinding`` row. Only present (1) and
uncertain (-1) are stored: absent (0) is the default, so an answer costs a row per finding
it marks, not per finding of the project. Every write goes through
``labeler/services/findings.py``."""

from __future__ import annotations

from django.db import models


class FindingState(models.IntegerChoices):
    # CheXpert's convention, also the values of the CSV export.
    PRESENT = 1, "present"
    ABSENT = 0, "absent"
    UNCERTAIN = -1, "uncertain"


# Name in the API and exports ↔ stored value.
STATE_VALUES = {"present": 1, "absent": 0, "uncertain": -1}
STATE_NAMES = {value: name for name, value in STATE_VALUES.items()}


class FindingAnswer(models.Model):
    """One finding an annotation marked present or uncertain."""

    annotation = models.ForeignKey(
        "labeler.Annotation", on_delete=models.CASCADE, related_name="finding_answers"
    )
    finding = models.ForeignKey(
        "labeler.LabelClass", on_delete=models.RESTRICT, related_name="finding_answers"
    )
    state = models.SmallIntegerField(choices=FindingState.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["annotation", "finding"], name="findinganswer_unique_finding"
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=[1, -1]), name="findinganswer_not_absent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.annotation_id}: {self.finding_id}={self.state}"


class ItemFinding(models.Model):
    """An item's resolved state for one finding (from its current answers: the one answer,
    the majority per finding with overlap, a manager's ruling); absent when there is no row.
    Only labeled items have rows."""

    project = models.ForeignKey(
        "labeler.Project", on_delete=models.CASCADE, related_name="item_findings"
    )
    item = models.ForeignKey("labeler.Item", on_delete=models.CASCADE, related_name="findings")
    finding = models.ForeignKey(
        "labeler.LabelClass", on_delete=models.CASCADE, related_name="item_findings"
    )
    state = models.SmallIntegerField(choices=FindingState.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "finding"], name="itemfinding_unique"),
            models.CheckConstraint(
                condition=models.Q(state__in=[1, -1]), name="itemfinding_not_absent"
            ),
        ]
        indexes = [
            # "Finding X is present" on the items page: an index range in item order, so the
            # keyset pages cost the same at a million items.
            models.Index(fields=["project", "finding", "state", "item"], name="itemfinding_filter"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.finding_id}={self.state}"
