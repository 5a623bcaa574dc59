"""The team's own model's predictions (``Suggestion`` rows) as the ``disagreement_external``
strategy reads them: distributions over the project's classes, aligned with the rows of the
features the loop chooses on."""

from __future__ import annotations

import numpy as np

from labeler.engine.store import FeatureRows
from labeler.models import LabelClass, Project, Suggestion

EXTERNAL_STRATEGY = "disagreement_external"


def strategy_params(project: Project, features: FeatureRows) -> dict:
    """The keyword arguments the project's strategy is built with: the team's predictions for
    ``disagreement_external`` (items without a row in ``features`` wait), none for the others."""
    if project.strategy != EXTERNAL_STRATEGY:
        return {}
    from learning.external import external_distribution

    classes = tuple(LabelClass.objects.filter(project=project).values_list("name", flat=True))
    item_ids: list[int] = []
    scored: list[dict] = []
    suggestions = (
        Suggestion.objects.filter(project=project, label__isnull=False)
        .order_by()
        .values_list("item_id", "label__name", "score", "scores")
    )
    for item_id, label, score, scores in suggestions.iterator(chunk_size=20_000):
        item_ids.append(item_id)
        scored.append(scores or {label: score})
    rows = features.rows_of(item_ids) if item_ids else np.empty(0, dtype=np.int64)
    keep = np.flatnonzero(rows >= 0)
    proba = external_distribution([scored[index] for index in keep], classes)
    return {"positions": rows[keep], "proba": proba, "classes": classes}
