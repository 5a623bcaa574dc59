"""Suggestions: a team's own model's predictions, imported per item. They are never labels: the
labeling page shows one only where the project turns it on (``Project.show_suggestions``), the
items page compares it with the loop's model, and the ``disagreement_external`` strategy asks
first where the two disagree. Every write goes through ``labeler/services/suggestions.py``."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

# An item where the loop's newest model (Item.model_label) and the team's model (its
# suggestion) name different classes: the items page's "our model and your model disagree".
SUGGESTION_DISAGREES = Q(model_label__isnull=False, suggestion__label__isnull=False) & ~Q(
    suggestion__label=F("model_label")
)


class Suggestion(models.Model):
    project = models.ForeignKey(
        "labeler.Project", on_delete=models.CASCADE, related_name="suggestions"
    )
    # One per item: a newer import replaces it.
    item = models.OneToOneField("labeler.Item", on_delete=models.CASCADE, related_name="suggestion")
    # The team model's answer for a single-label project (None for a findings suggestion).
    label = models.ForeignKey(
        "labeler.LabelClass", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Its confidence in ``label`` (0..1), when the file gave one.
    score = models.FloatField(null=True, blank=True)
    # Every class the file scored for the item, {class name: score}: the team model's
    # distribution, which the disagreement strategy compares with the loop's.
    scores = models.JSONField(null=True, blank=True)
    # Findings (multi-label) projects, issue 21: {finding name: probability}. Not read yet.
    findings = models.JSONField(null=True, blank=True)
    # What the file called the model (Label Studio's model_version, a "model" column).
    model_version = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item_id"]
        indexes = [models.Index(fields=["project", "item"], name="suggestion_project_item")]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.label_id} ({self.score})"
