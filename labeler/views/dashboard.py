"""The dashboard (progress, budget, queue, worker, model metrics, agreement), polled by htmx,
and the manager's retrain button."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from labeler import selectors, services
from labeler.models import FeatureSet, ModelRun, Project
from labeler.views.base import MANAGER, READING_ROLES, is_htmx, nav_context, project_for

# Landis & Koch's (1977) reading of kappa, the one annotation guidelines usually quote.
KAPPA_WORDS = [
    (0.81, "almost perfect"),
    (0.61, "substantial"),
    (0.41, "moderate"),
    (0.21, "fair"),
    (0.0, "slight"),
]


def kappa_words(kappa: float | None) -> str:
    if kappa is None:
        return ""
    return next((words for floor, words in KAPPA_WORDS if kappa >= floor), "worse than chance")


def _curve_points(stats: dict) -> list[dict]:
    latest = stats["latest_model"]
    points = []
    for point in stats["learning_curve"]:
        n_labels = point["n_labels"]
        if n_labels is None and latest is not None:
            n_labels = latest.n_labels  # the newest point is the latest run itself
        points.append({**point, "n_labels": n_labels})
    return points


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


def _eta_words(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 90:
        return gettext("%(n)d s") % {"n": max(1, round(seconds))}
    if seconds < 5400:
        return gettext("%(n)d min") % {"n": round(seconds / 60)}
    return gettext("%(n).1f h") % {"n": seconds / 3600}


def _dashboard_context(project: Project, role: str) -> dict:
    stats = selectors.project_stats(project=project)
    class_names = selectors.class_names(project=project)
    metrics = stats["metrics"]
    recall = metrics.get("per_class_recall") or {}
    spent, budget = stats["labels_spent"], stats["budget"]
    for row in stats["per_annotator_today"]:
        row["seconds_per_label"] = row["seconds"] / row["labels"] if row["seconds"] else None
    return {
        "project": project,
        "stats": stats,
        "recent_runs": stats["runs"][:6],
        "role": role,
        "is_manager": role == MANAGER,
        "busy": stats["worker"]["state"] in (ModelRun.Status.QUEUED, ModelRun.Status.RUNNING),
        "budget_percent": min(100, round(100 * spent / budget)) if budget else None,
        "curve": _curve_points(stats),
        "recall_rows": [{"name": name, "recall": recall.get(name)} for name in class_names],
        "confusion": _confusion_rows(metrics, class_names),
        "class_names": class_names,
        "last_failed": next(
            (run for run in stats["runs"][:1] if run.status == ModelRun.Status.FAILED), None
        ),
        "agreement": _agreement_context(project),
        "features_busy": stats["features"]["building"] is not None
        and stats["features"]["building"].status != FeatureSet.Status.FAILED,
        "feature_eta": _eta_words(stats["features"]["eta_seconds"]),
    }


@login_required
@require_GET
def dashboard(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request, project_id, READING_ROLES)
    context = _dashboard_context(project, role)
    if is_htmx(request):
        return render(request, "labeler/_dashboard_body.html", context)
    return render(request, "labeler/dashboard.html", {**context, **nav_context(project, role)})


@login_required
@require_POST
def retrain(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = project_for(request, project_id, {MANAGER})
    run = services.retrain_force(project=project)
    if run is None:
        messages.info(request, "A retrain is already queued or running; it will use every label.")
    else:
        messages.success(request, f"Retrain queued (run {run.pk}).")
    return redirect("project-dashboard", project_id=project.pk)
