"""Which representation serves a project and why, for the dashboard and the stats API: the
evidence the latest comparison recorded on a model run (issue 20), in the reader's language."""

from __future__ import annotations

from django.utils.translation import gettext as _

from labeler.models import FeatureSet, ModelRun, Project


def _scores_words(scores: dict) -> str:
    ranked = sorted(scores.items(), key=lambda item: -item[1][0])
    return ", ".join(f"{name} {round(100 * mean)}%" for name, (mean, _std) in ranked)


def _automatic_kept(project: Project, serving: str) -> str:
    """Why "auto" serves ``serving`` and never compares it with another representation: only
    single-label image projects of one item per image weigh challengers by evidence
    (labeler.engine.store.auto_candidate_names)."""
    words = {"name": serving, "n": project.n_items}
    if project.is_findings:
        return (
            _(
                "%(name)s serves: the automatic choice for this pool (%(n)s items, and what this "
                "server has installed). A findings project keeps it: representations are compared "
                "by cross-validation only in single-label image projects."
            )
            % words
        )
    if project.unit != Project.Unit.INSTANCE:
        return (
            _(
                "%(name)s serves: the automatic choice for scans (%(n)s items, their slices "
                "pooled). A scan project keeps it: representations are compared by "
                "cross-validation only for one item per image."
            )
            % words
        )
    if project.kind == Project.Kind.TEXT:
        return (
            _(
                "%(name)s serves: the automatic choice for %(n)s texts with what this server has "
                "installed. A text project keeps it: representations are compared by "
                "cross-validation only in image projects."
            )
            % words
        )
    return _("%(name)s serves: the automatic choice for this project.") % {"name": serving}


def _why(project: Project, serving: str | None, candidates: list[str], evidence: dict | None):
    if serving is None:
        return _("No features are ready yet.")
    if not candidates and project.features == "auto":
        return _automatic_kept(project, serving)
    if not candidates:
        return _("%(name)s serves: chosen in the project's settings.") % {"name": serving}
    if not evidence:
        from labeler.engine import comparison_min_labels

        others = ", ".join(name for name in candidates if name != serving)
        return _(
            "%(name)s serves: the automatic first choice for this pool. From %(min)s labels "
            "on, cross-validation on the labels compares it with %(others)s, and the better "
            "one takes over."
        ) % {"name": serving, "min": comparison_min_labels(), "others": others}
    figures = {
        "folds": evidence.get("folds") or "?",
        "n": evidence.get("n_compared") or evidence.get("n_labels"),
        "scores": _scores_words(evidence.get("scores") or {}),
    }
    if evidence["chosen"] != evidence["serving"]:
        return _(
            "%(new)s serves since it replaced %(old)s: %(folds)s-fold cross-validation on "
            "%(n)s labels gave %(scores)s."
        ) % {**figures, "new": evidence["chosen"], "old": evidence["serving"]}
    return _(
        "%(name)s serves: %(folds)s-fold cross-validation on %(n)s labels gave %(scores)s; "
        "another representation takes over only when it is ahead by more than a point."
    ) % {**figures, "name": evidence["chosen"]}


def representation_state(
    *, project: Project, serving: FeatureSet | None, latest_model: ModelRun | None
) -> dict:
    """``serving`` (a name or None), ``automatic`` (re-decided by evidence), ``candidates``,
    ``evidence`` (the latest comparison: chosen, serving then, scores, labels, reason) and
    ``why`` (a sentence)."""
    from labeler.engine import REPRESENTATION_EVIDENCE, auto_candidate_names

    candidates = auto_candidate_names(project)
    evidence = latest_model.metrics.get(REPRESENTATION_EVIDENCE) if latest_model else None
    name = serving.representation if serving is not None else None
    return {
        "serving": name,
        "automatic": bool(candidates),
        "candidates": candidates,
        "evidence": evidence,
        "why": _why(project, name, candidates, evidence),
    }
