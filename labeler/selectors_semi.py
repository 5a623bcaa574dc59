"""Reads for the dashboard and the stats API: whether the latest model used the unlabeled
pool (learning/semi_supervised.py) and why, in one sentence of the reader's language."""

from __future__ import annotations

from django.utils.translation import gettext as _

from labeler.models import ModelRun


def semi_supervised_figures(latest_model: ModelRun | None) -> dict | None:
    """Whether the latest model used the unlabeled pool (learning/semi_supervised.py), the
    comparison that decided it and a one-line summary in the reader's language; None when the
    run did not consider it."""
    evidence = latest_model.metrics.get("semi_supervised") if latest_model else None
    if not evidence:
        return None
    return {**evidence, "summary": semi_supervised_words(evidence)}


def semi_supervised_words(evidence: dict) -> str:
    """The semi-supervised decision in one sentence."""
    if evidence.get("by") == "setting":
        return _("Unlabeled pool: used (set on for every retrain).")
    if evidence.get("by") == "too few labels":
        return _("Unlabeled pool: not used yet, too few labels to compare with and without it.")
    numbers = {
        "with": round(100 * evidence["semi_supervised"]),
        "without": round(100 * evidence["supervised"]),
        "n": evidence["n_compared"],
        "labels": evidence.get("decided_on") or evidence.get("n_labels"),
    }
    if evidence["by"] == "evaluation":
        where = _("on %(n)s evaluation answers") % numbers
    else:
        where = _("by %(n)s-fold cross-validation on %(labels)s labels") % numbers
    if evidence["on"]:
        sentence = _("Unlabeled pool: used, %(with)s%% accuracy with it against %(without)s%% "
                     "without, %(where)s.")  # fmt: skip
    else:
        sentence = _("Unlabeled pool: not used, %(with)s%% accuracy with it against "
                     "%(without)s%% without, %(where)s.")  # fmt: skip
    return sentence % {**numbers, "where": where}
