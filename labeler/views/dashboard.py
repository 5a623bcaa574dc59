"""The dashboard (progress, budget, queue, worker, model metrics, agreement), polled by htmx,
and the manager's retrain button."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from labeler import access, selectors, services
from labeler.forms_items import ExportForm
from labeler.models import FeatureSet, ModelRun, Project
from labeler.views.base import MANAGER, is_htmx, nav_context, project_for

# Landis & Koch's (1977) reading of kappa, the one annotation guidelines usually quote.
KAPPA_WORDS = [
    (0.81, gettext_lazy("almost perfect")),
    (0.61, gettext_lazy("substantial")),
    (0.41, gettext_lazy("moderate")),
    (0.21, gettext_lazy("fair")),
    (0.0, gettext_lazy("slight")),
]


def kappa_words(kappa: float | None) -> str:
    if kappa is None:
        return ""
    return str(
        next((words for floor, words in KAPPA_WORDS if kappa >= floor), _("worse than chance"))
    )


def _curve_points(stats: dict, numbers: dict[int, int]) -> list[dict]:
    latest = stats["latest_model"]
    points = []
    for point in stats["learning_curve"]:
        n_labels = point["n_labels"]
        if n_labels is None and latest is not None:
            n_labels = latest.n_labels  # the newest point is the latest run itself
        points.append({**point, "n_labels": n_labels, "run_number": numbers.get(point["run"])})
    return points


def _model_choice(metrics: dict) -> dict | None:
    """What AutoML chose for the latest run and the cross-validated accuracy of each model it
    tried, best first (None when the run's model was not chosen by AutoML)."""
    choice = metrics.get("model_choice")
    if not choice:
        return None
    tried = sorted(choice.get("candidates", []), key=lambda c: -c["accuracy"])
    return {
        "chosen": choice.get("chosen", ""),
        "folds": choice.get("folds"),
        "searched_on": choice.get("reused_from_labels") or choice.get("n_labels"),
        "tried": tried,
        "skipped": choice.get("skipped", []),
    }


def _runs_with_accuracy(
    runs: list[ModelRun], curve: list[dict], numbers: dict[int, int], key: str = "accuracy"
):
    """Each run with one accuracy: the curve's (re-measured on today's evaluation set), so the
    table and the curve show the same figure; a run the curve does not cover keeps the one it
    measured when it ran, on the evaluation set of that time, and says so."""
    on_curve = {point["run"]: point for point in curve}
    for run in runs:
        run.number = numbers.get(run.pk)
        point = on_curve.get(run.pk)
        # ``key``: the headline metric (a findings project's is the macro AUC).
        run.shown_accuracy = point.get(key) if point else run.metrics.get(key)
        run.accuracy_then = point is None and run.shown_accuracy is not None
        run.n_evaluation_then = run.metrics.get("n_evaluation")
    return runs


def _stop_reason(stop: dict | None, project: Project, stats: dict) -> str:
    """The stopping signal's reason in the reader's language, or "" when the headline ("keep
    labeling") already says everything. The engine gives an English sentence; its start names
    the rule that fired."""
    reason = (stop or {}).get("reason", "")
    if reason.startswith("budget spent"):
        return _("The budget is spent: %(spent)s of %(budget)s labels.") % {
            "spent": stats["labels_spent"],
            "budget": stats["budget"],
        }
    if reason.startswith("target reached"):
        value = stats["metrics"].get(project.target_metric)
        return _("The target is reached: %(metric)s %(value).3f ≥ %(target).3f.") % {
            "metric": project.get_target_metric_display(),
            "value": value or 0,
            "target": project.target_value or 0,
        }
    if reason.startswith("predictions stabilised"):
        return _(
            "Successive models now predict the same labels for the stop set, round after round."
        )
    return ""


def _versus_random_words(figures: dict | None) -> str:
    """The "versus random" estimate in a sentence of the reader's language, or ""."""
    if not figures:
        return ""
    if figures["accuracy"] is None:
        return _(
            "Too few evaluation labels yet to estimate what random labeling would reach "
            "(%(n)s of the %(needed)s needed)."
        ) % {"n": figures["n_evaluation"], "needed": figures["evaluation_needed"]}
    if figures.get("measure") == "macro_auc":
        sentence = _macro_auc_words(figures)
    else:
        sentence = _accuracy_words(figures)
    if sentence and figures["method"] == "extrapolated":
        sentence += " " + _(
            "More labels than the evaluation set holds: the random estimate is extrapolated "
            "from its learning curve, hence the wide interval."
        )
    return sentence


def _macro_auc_words(figures: dict) -> str:
    """A findings project's figures, in macro AUC (0.5 is chance, 1 perfect)."""
    if figures["model_accuracy"] is None:
        return ""  # no finding has both states among the evaluation answers yet
    numbers = {
        "model": f"{figures['model_accuracy']:.2f}",
        "n": figures["n_labels"],
        "random": f"{figures['accuracy']:.2f}",
        "low": f"{figures['low']:.2f}",
        "high": f"{figures['high']:.2f}",
    }
    if figures["verdict"] == "ahead":
        sentence = _(
            "Active learning is ahead of random labeling: macro AUC %(model)s with %(n)s "
            "labels, where as many random labels would reach about %(random)s "
            "(%(low)s–%(high)s)."
        )
    elif figures["verdict"] == "behind":
        sentence = _(
            "Active learning is behind random labeling on this data: macro AUC %(model)s "
            "with %(n)s labels, where as many random labels would reach about %(random)s "
            "(%(low)s–%(high)s)."
        )
    else:
        sentence = _(
            "Active learning is not ahead of random labeling on this data so far: macro AUC "
            "%(model)s with %(n)s labels, and as many random labels would reach about "
            "%(random)s (%(low)s–%(high)s)."
        )
    return sentence % numbers


def _accuracy_words(figures: dict) -> str:
    numbers = {
        "model": round(100 * figures["model_accuracy"]),
        "n": figures["n_labels"],
        "random": round(100 * figures["accuracy"]),
        "low": round(100 * figures["low"]),
        "high": round(100 * figures["high"]),
    }
    if figures["verdict"] == "ahead":
        sentence = _(
            "Active learning is ahead of random labeling: %(model)s%% accuracy with %(n)s "
            "labels, where as many random labels would reach about %(random)s%% "
            "(%(low)s–%(high)s%%)."
        )
    elif figures["verdict"] == "behind":
        sentence = _(
            "Active learning is behind random labeling on this data: %(model)s%% accuracy "
            "with %(n)s labels, where as many random labels would reach about %(random)s%% "
            "(%(low)s–%(high)s%%)."
        )
    else:
        sentence = _(
            "Active learning is not ahead of random labeling on this data so far: %(model)s%% "
            "accuracy with %(n)s labels, and as many random labels would reach about "
            "%(random)s%% (%(low)s–%(high)s%%)."
        )
    return sentence % numbers


def _confusion_rows(metrics: dict, class_names: list[str]) -> list[dict]:
    matrix = metrics.get("confusion_matrix") or []
    rows = []
    for name, counts in zip(class_names, matrix, strict=False):
        total = sum(counts) or 1
        cells = [
            {"count": count, "share": count / total, "diagonal": i == len(rows)}
            for i, count in enumerate(counts)
        ]
        rows.append({"name": name, "cells": cells, "total": sum(counts)})
    return rows


def _agreement_context(project: Project) -> dict | None:
    if project.overlap <= 1:
        return None
    figures = selectors.agreement_stats(project=project)
    for pair in figures["pairs"]:
        pair["words"] = kappa_words(pair["cohen_kappa"])
    return {**figures, "fleiss_words": kappa_words(figures["fleiss_kappa"])}


def _finding_rows(metrics: dict, names: list[str]) -> list[dict]:
    """Per finding, in the project's order: ROC AUC, F1 and positives on the evaluation set,
    and the positives the model trained on."""
    measured = metrics.get("per_finding") or {}
    trained = metrics.get("training_positives") or {}
    return [
        {"name": name, **measured.get(name, {}), "trained": trained.get(name)} for name in names
    ]


def _eta_words(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 90:
        return _("%(n)d s") % {"n": max(1, round(seconds))}
    if seconds < 5400:
        return _("%(n)d min") % {"n": round(seconds / 60)}
    return _("%(n).1f h") % {"n": seconds / 3600}


def _dashboard_context(project: Project, role: str) -> dict:
    stats = selectors.project_stats(project=project)
    numbers = selectors.run_numbers(project=project)
    curve = _curve_points(stats, numbers)
    class_names = selectors.class_names(project=project)
    metrics = stats["metrics"]
    recall = metrics.get("per_class_recall") or {}
    spent, budget = stats["labels_spent"], stats["budget"]
    for query_round in stats["rounds"]:
        if query_round.model_run is not None:
            query_round.model_run.number = numbers.get(query_round.model_run_id)
    for run in stats["runs"]:
        run.number = numbers.get(run.pk)
    for row in stats["per_annotator_today"]:
        row["seconds_per_label"] = row["seconds"] / row["labels"] if row["seconds"] else None
    return {
        "project": project,
        "stats": stats,
        "recent_runs": _runs_with_accuracy(
            stats["runs"][:6], curve, numbers, "macro_auc" if project.is_findings else "accuracy"
        ),
        "finding_rows": _finding_rows(metrics, class_names) if project.is_findings else [],
        "run_numbers": numbers,
        "worker_run_number": numbers.get(stats["worker"]["run"]),
        "role": role,
        "is_manager": role == MANAGER,
        "busy": stats["worker"]["state"] in ModelRun.ACTIVE,
        "budget_percent": min(100, round(100 * spent / budget)) if budget else None,
        "curve": curve,
        "recall_rows": [{"name": name, "recall": recall.get(name)} for name in class_names],
        "confusion": _confusion_rows(metrics, class_names),
        "model_choice": _model_choice(metrics),
        "semi_supervised": stats["semi_supervised"],
        "class_names": class_names,
        "last_failed": next(
            (run for run in stats["runs"][:1] if run.status == ModelRun.Status.FAILED), None
        ),
        "latest_run_number": numbers.get(stats["latest_model"].pk)
        if stats["latest_model"]
        else None,
        "export_form": ExportForm(project=project)
        if access.role_may(role, "labels.export")
        else None,
        "agreement": _agreement_context(project),
        "stop_reason": _stop_reason(stats["stop"], project, stats),
        "versus_random": stats["versus_random"],
        "versus_random_words": _versus_random_words(stats["versus_random"]),
        "features_busy": stats["features"]["building"] is not None
        and stats["features"]["building"].status != FeatureSet.Status.FAILED,
        "feature_eta": _eta_words(stats["features"]["eta_seconds"]),
    }


@login_required
@require_GET
def dashboard(request: HttpRequest, project_id: int) -> HttpResponse:
    found = selectors.project_with_role(user=request.user, project_id=project_id)
    if found is not None and not access.role_may(found[1], "dashboard.read"):
        # The dashboard is for managers and viewers; an annotator's place is the labeling page.
        return redirect("label", project_id=project_id)
    project, role = project_for(request, project_id)
    context = _dashboard_context(project, role)
    if is_htmx(request):
        return render(request, "labeler/_dashboard_body.html", context)
    return render(request, "labeler/dashboard.html", {**context, **nav_context(project, role)})


@login_required
@require_POST
def retrain(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _role = project_for(request, project_id)
    run = services.retrain_force(project=project)
    if run is None:
        messages.info(
            request, _("A retrain is already queued or running; it will use every label.")
        )
    else:
        number = selectors.run_numbers(project=project).get(run.pk)
        messages.success(request, _("Retrain queued (run %(number)s).") % {"number": number})
    return redirect("project-dashboard", project_id=project.pk)
