"""HTML pages. Thin: resolve the project and the user's role, call a selector or a service,
render. Fragments polled or swapped by htmx share their templates with the full pages.

Access: a project the user is not a member of is a 404 (outsiders never learn it exists); a
member whose role does not allow the page gets a 403.
"""

from __future__ import annotations

import uuid
from collections import Counter
from string import ascii_lowercase

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Case, Count, IntegerField, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from labeler import selectors, services
from labeler.forms import (
    AdjudicateForm,
    ImportForm,
    InviteForm,
    ProjectCreateForm,
    ProjectSettingsForm,
    RoleForm,
    SkipForm,
    SubmitForm,
)
from labeler.models import Annotation, ImportJob, Item, Membership, ModelRun, Project

MANAGER = Membership.Role.MANAGER
ANNOTATOR = Membership.Role.ANNOTATOR
VIEWER = Membership.Role.VIEWER
LABELING_ROLES = {MANAGER, ANNOTATOR}
READING_ROLES = {MANAGER, VIEWER}
# Images this small are drawn with hard pixel edges when scaled up (8×8 digits, icons).
PIXELATED_MAX_SIDE = 64
SKIP_KEY = " "


def _project_for(request: HttpRequest, project_id: int, roles: set[str]) -> tuple[Project, str]:
    found = selectors.project_with_role(user=request.user, project_id=project_id)
    if found is None:
        raise Http404("No such project.")
    project, role = found
    if role not in roles:
        raise PermissionDenied("Your role in this project does not allow this page.")
    return project, role


def _nav_context(project: Project, role: str) -> dict:
    """What the project tabs show besides their links: a manager sees the open conflicts."""
    if role != MANAGER:
        return {}
    # Served by the (project, status) index; conflicts are few.
    open_conflicts = Item.objects.filter(project=project, status=Item.Status.CONFLICT)
    return {"conflict_count": open_conflicts.count()}


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _can_create_projects(user) -> bool:
    return user.has_perm("labeler.add_project")


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = list(selectors.projects_visible_to(user=request.user).prefetch_related("classes"))
    roles = selectors.project_roles(user=request.user)
    for project in projects:
        project.role = MANAGER if request.user.is_superuser else roles.get(project.pk)
    context = {
        "projects": projects,
        "project_create_url": reverse("project-create")
        if _can_create_projects(request.user)
        else None,
    }
    return render(request, "labeler/project_list.html", context)


def health(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})


# Labeling -----------------------------------------------------------------------------------


def shortcut_keys(names: list[str]) -> dict[str, str]:
    """A key per class name. A class named by one letter or digit gets that key (the digit
    "7" is typed as 7); the others get 1–9, then a, b, … in order, never a key already taken.
    Space (skip) and Backspace (undo) are never class keys."""
    keys: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        single = name.strip().lower()
        if len(single) == 1 and single.isascii() and single.isalnum() and single not in taken:
            keys[name] = single
            taken.add(single)
    pool = (key for key in [*"123456789", *ascii_lowercase] if key not in taken)
    for name in names:
        if name not in keys:
            key = next(pool, "")
            keys[name] = key
            taken.add(key)
    return keys


def _label_context(
    request: HttpRequest, project: Project, *, notice: str = "", saved: str = ""
) -> dict:
    next_item = services.next_item_lease(project=project, annotator=request.user)
    classes = list(project.classes.all())
    keys = shortcut_keys([c.name for c in classes])
    context = {
        "project": project,
        "state": next_item.state,
        "message": next_item.message,
        "notice": notice,
        "saved": saved,
        "progress": selectors.annotator_progress(project=project, annotator=request.user),
        "buttons": [{"name": c.name, "key": keys[c.name]} for c in classes],
        "skip_key": SKIP_KEY,
    }
    entry = next_item.entry
    if entry is not None:
        item = entry.item
        following = selectors.entry_following(entry=entry, annotator=request.user)
        side = max(item.metadata.get("width", 0), item.metadata.get("height", 0))
        context.update(
            entry=entry,
            item=item,
            round=entry.round,
            client_key=uuid.uuid4().hex,
            pixelated=bool(item.file) and 0 < side <= PIXELATED_MAX_SIDE,
            prefetch_url=reverse("item-file", args=[following.item_id])
            if following is not None and following.item.file
            else "",
            guess=entry.predicted_label
            if project.show_model_guess and entry.predicted_label_id
            else None,
        )
    return context


def _label_panel(request: HttpRequest, project: Project, **kwargs) -> HttpResponse:
    return render(request, "labeler/_label_panel.html", _label_context(request, project, **kwargs))


@login_required
@require_GET
def label(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = _project_for(request, project_id, LABELING_ROLES)
    if _is_htmx(request):
        return _label_panel(request, project)
    context = {**_label_context(request, project), "role": role, **_nav_context(project, role)}
    return render(request, "labeler/label.html", context)


@login_required
@require_POST
def label_submit(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = _project_for(request, project_id, LABELING_ROLES)
    form = SubmitForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    data = form.cleaned_data
    try:
        services.annotation_submit(
            project=project,
            annotator=request.user,
            item_id=data["item_id"],
            label=data["label"],
            client_key=data["client_key"] or None,
            seconds_spent=data["seconds_spent"],
            note=data["note"],
        )
    except services.SubmitRejected as rejected:
        return _label_panel(request, project, notice=rejected.message)
    return _label_panel(request, project, saved=data["label"])


@login_required
@require_POST
def label_skip(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = _project_for(request, project_id, LABELING_ROLES)
    form = SkipForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    try:
        services.item_skip(
            project=project, annotator=request.user, item_id=form.cleaned_data["item_id"]
        )
    except services.SubmitRejected as rejected:
        return _label_panel(request, project, notice=rejected.message)
    return _label_panel(request, project, notice="Skipped.")


@login_required
@require_POST
def label_undo(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = _project_for(request, project_id, LABELING_ROLES)
    item = services.last_annotation_undo(project=project, annotator=request.user)
    notice = "Your last label was taken back." if item else "Nothing to undo."
    return _label_panel(request, project, notice=notice)


@login_required
@require_GET
def item_file(request: HttpRequest, item_id: int) -> FileResponse:
    item = selectors.item_visible_to(user=request.user, item_id=item_id)
    if item is None or not item.file:
        raise Http404("No such item.")
    try:
        handle = item.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404("The item's file is missing.") from missing
    response = FileResponse(handle)
    # Files are content-addressed and never change, but may be patient data: the browser may
    # keep them (the prefetch relies on it), shared caches may not.
    response["Cache-Control"] = "private, max-age=86400"
    return response


# Dashboard ----------------------------------------------------------------------------------


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


def _dashboard_context(project: Project, role: str) -> dict:
    stats = selectors.project_stats(project=project)
    class_names = list(project.classes.values_list("name", flat=True))
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
    }


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


def _agreement_context(project: Project) -> dict | None:
    if project.overlap <= 1:
        return None
    figures = selectors.agreement_stats(project=project)
    for pair in figures["pairs"]:
        pair["words"] = kappa_words(pair["cohen_kappa"])
    return {**figures, "fleiss_words": kappa_words(figures["fleiss_kappa"])}


@login_required
@require_GET
def dashboard(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = _project_for(request, project_id, READING_ROLES)
    context = _dashboard_context(project, role)
    if _is_htmx(request):
        return render(request, "labeler/_dashboard_body.html", context)
    return render(request, "labeler/dashboard.html", {**context, **_nav_context(project, role)})


@login_required
@require_POST
def retrain(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = _project_for(request, project_id, {MANAGER})
    run = services.retrain_force(project=project)
    if run is None:
        messages.info(request, "A retrain is already queued or running; it will use every label.")
    else:
        messages.success(request, f"Retrain queued (run {run.pk}).")
    return redirect("project-dashboard", project_id=project.pk)


# Project set-up -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    if not _can_create_projects(request.user):
        raise PermissionDenied("You may not create projects.")
    form = ProjectCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        project = services.project_create(
            name=form.cleaned_data["name"],
            kind=form.cleaned_data["kind"],
            classes=form.cleaned_data["classes"],
            created_by=request.user,
            **form.options(),
        )
        messages.success(request, f"Project “{project.name}” created. Now import its items.")
        return redirect("project-import", project_id=project.pk)
    return render(request, "labeler/project_form.html", {"form": form, "creating": True})


@login_required
@require_http_methods(["GET", "POST"])
def project_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = _project_for(request, project_id, {MANAGER})
    form = ProjectSettingsForm(request.POST if request.method == "POST" else None, instance=project)
    if request.method == "POST" and form.is_valid():
        services.project_update(
            project=project, changes=form.changes(), new_classes=form.cleaned_data["new_classes"]
        )
        messages.success(request, "Settings saved.")
        return redirect("project-settings", project_id=project.pk)
    project.refresh_from_db()  # the form wrote its unsaved values onto the instance
    context = {
        "form": form,
        "project": project,
        "classes": list(project.classes.all()),
        **_nav_context(project, MANAGER),
    }
    return render(request, "labeler/project_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def project_import(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = _project_for(request, project_id, {MANAGER})
    form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        job = services.import_job_create(
            project=project, created_by=request.user, name=upload.name, stream=upload
        )
        return redirect("import-job", job_id=job.pk)
    context = {
        "form": form,
        "project": project,
        "jobs": selectors.import_jobs_recent(project=project),
        **_nav_context(project, MANAGER),
    }
    return render(request, "labeler/project_import.html", context)


@login_required
@require_GET
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("project"), pk=job_id)
    project, _ = _project_for(request, job.project_id, {MANAGER})
    context = {
        "job": job,
        "project": project,
        "running": job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING),
    }
    if _is_htmx(request):
        return render(request, "labeler/_import_job.html", context)
    return render(request, "labeler/import_job.html", {**context, **_nav_context(project, MANAGER)})


# Team ---------------------------------------------------------------------------------------

RECENT_LABELS = 15
CONFLICTS_PER_PAGE = 50
ROLE_ORDER = Case(
    When(role=MANAGER, then=Value(0)),
    When(role=ANNOTATOR, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def _members_with_activity(project: Project) -> list[Membership]:
    """The project's members, managers first, each with today's labels and their last one.
    Subqueries rather than a join: the (annotator, created_at) index answers each without
    touching the member's answers in other projects."""
    answers = Annotation.objects.filter(project=project, annotator=OuterRef("user_id"))
    today = (
        answers.filter(created_at__gte=selectors.start_of_day(timezone.now()))
        .order_by()
        .values("annotator")
        .annotate(n=Count("id"))
        .values("n")
    )
    last = answers.order_by("-created_at").values("created_at")[:1]
    return list(
        Membership.objects.filter(project=project)
        .select_related("user")
        .annotate(labels_today=Coalesce(Subquery(today), 0), last_label_at=Subquery(last))
        .order_by(ROLE_ORDER, "user__username")
    )


def _members_context(project: Project, form: InviteForm, **extra) -> dict:
    memberships = _members_with_activity(project)
    managers = sum(m.role == MANAGER for m in memberships)
    for membership in memberships:
        membership.is_last_manager = membership.role == MANAGER and managers == 1
    recent = (
        Annotation.objects.filter(project=project)
        .select_related("annotator", "label", "replaces__label")
        .order_by("-created_at", "-id")[:RECENT_LABELS]
    )
    return {
        "project": project,
        "role": MANAGER,
        "memberships": memberships,
        "roles": Membership.Role.choices,
        "form": form,
        "recent": list(recent),
        **_nav_context(project, MANAGER),
        **extra,
    }


@login_required
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = _project_for(request, project_id, {MANAGER})
    form = InviteForm(request.POST if request.method == "POST" else None)
    invitation = None
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.membership_invite(
                project=project,
                username=form.cleaned_data["username"],
                role=form.cleaned_data["role"],
                create_account=form.creates_account(),
            )
        except services.MembershipRejected as rejected:
            form.add_error(InviteForm.FIELD_FOR_CODE.get(rejected.code), rejected.message)
        else:
            member = invitation.membership
            if invitation.password is None:
                messages.success(
                    request,
                    f"{member.user.get_username()} joined the project as "
                    f"{member.get_role_display().lower()}.",
                )
                return redirect("project-members", project_id=project.pk)
            form = InviteForm()
    # A new account's password is in this response only: no redirect (it would have to be
    # kept somewhere to survive it) and no copy in any cache.
    response = render(
        request,
        "labeler/members.html",
        _members_context(project, form, invitation=invitation),
    )
    if invitation is not None:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def member_role(request: HttpRequest, project_id: int, membership_id: int) -> HttpResponse:
    project, _ = _project_for(request, project_id, {MANAGER})
    form = RoleForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    try:
        membership = services.membership_role_change(
            project=project, membership_id=membership_id, role=form.cleaned_data["role"]
        )
    except services.MembershipRejected as rejected:
        messages.error(request, rejected.message)
        return redirect("project-members", project_id=project.pk)
    name = membership.user.get_username()
    messages.success(request, f"{name} is now {membership.get_role_display().lower()}.")
    if membership.user_id == request.user.pk and membership.role != MANAGER:
        return redirect("project-list")
    return redirect("project-members", project_id=project.pk)


@login_required
@require_POST
def member_remove(request: HttpRequest, project_id: int, membership_id: int) -> HttpResponse:
    project, _ = _project_for(request, project_id, {MANAGER})
    try:
        user = services.membership_remove(project=project, membership_id=membership_id)
    except services.MembershipRejected as rejected:
        messages.error(request, rejected.message)
        return redirect("project-members", project_id=project.pk)
    messages.success(request, f"{user.get_username()} was removed from the project.")
    if user.pk == request.user.pk:
        return redirect("project-list")
    return redirect("project-members", project_id=project.pk)


def _is_pixelated(item: Item) -> bool:
    side = max(item.metadata.get("width", 0), item.metadata.get("height", 0))
    return bool(item.file) and 0 < side <= PIXELATED_MAX_SIDE


def _conflict_rows(project: Project, items: list[Item]) -> list[dict]:
    """Each conflicting item with its annotators' current answers and the votes per class."""
    answers: dict[int, list[Annotation]] = {item.pk: [] for item in items}
    for answer in (
        Annotation.objects.filter(item__in=items, is_current=True, is_adjudication=False)
        .select_related("annotator", "label", "predicted_label")
        .order_by("created_at", "id")
    ):
        answers[answer.item_id].append(answer)
    class_names = list(project.classes.values_list("name", flat=True))
    rows = []
    for item in items:
        votes = Counter(answer.label.name for answer in answers[item.pk])
        guess = next((a for a in answers[item.pk] if a.predicted_label_id), None)
        rows.append(
            {
                "item": item,
                "pixelated": _is_pixelated(item),
                "answers": answers[item.pk],
                "choices": [{"name": name, "votes": votes[name]} for name in class_names],
                "guess": guess,
            }
        )
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def conflicts(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = _project_for(request, project_id, {MANAGER})
    if request.method == "POST":
        return _adjudicate(request, project)
    open_items = Item.objects.filter(project=project, status=Item.Status.CONFLICT).order_by("id")
    rows = _conflict_rows(project, list(open_items[:CONFLICTS_PER_PAGE]))
    context = {
        "project": project,
        "role": MANAGER,
        "rows": rows,
        **_nav_context(project, MANAGER),
    }
    context["hidden"] = max(context["conflict_count"] - len(rows), 0)
    return render(request, "labeler/conflicts.html", context)


def _adjudicate(request: HttpRequest, project: Project) -> HttpResponse:
    form = AdjudicateForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    item_id, label = form.cleaned_data["item_id"], form.cleaned_data["label"]
    back = (
        redirect("item-history", project_id=project.pk, item_id=item_id)
        if form.cleaned_data["back"] == "item"
        else redirect("project-conflicts", project_id=project.pk)
    )
    try:
        services.item_adjudicate(
            project=project, manager=request.user, item_id=item_id, label=label
        )
    except services.SubmitRejected as rejected:
        if _is_htmx(request):
            return HttpResponseBadRequest(rejected.message)
        messages.error(request, rejected.message)
        return back
    if _is_htmx(request):
        context = {
            "project": project,
            "item_id": item_id,
            "label": label,
            **_nav_context(project, MANAGER),
        }
        return render(request, "labeler/_conflict_resolved.html", context)
    messages.success(request, f"Item {item_id} is now labeled “{label}”.")
    return back


def _history_rows(history: list[Annotation]) -> list[dict]:
    replaced = {answer.replaces_id for answer in history if answer.replaces_id}
    rows = []
    for answer in history:
        if answer.is_current:
            state = "current"
        elif answer.pk in replaced:
            state = "replaced"
        else:
            state = "withdrawn"  # taken back by an undo
        rows.append({"answer": answer, "state": state})
    return rows


@login_required
@require_GET
def item_history(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    project, role = _project_for(request, project_id, {MANAGER, ANNOTATOR, VIEWER})
    item = get_object_or_404(
        Item.objects.select_related("label", "prelabel"), project=project, pk=item_id
    )
    history = selectors.item_history(item=item)
    if role == ANNOTATOR:
        # Their own answers only: with overlap, seeing a colleague's answer (or that the item
        # is disputed) before correcting one's own would bias the agreement figures.
        history = [answer for answer in history if answer.annotator_id == request.user.pk]
        if not history:
            raise PermissionDenied("Annotators see the history of the items they labeled.")
    context = {
        "project": project,
        "role": role,
        "item": item,
        "rows": _history_rows(history),
        "own_only": role == ANNOTATOR,
        "show_outcome": role != ANNOTATOR or project.overlap <= 1,
        "pixelated": _is_pixelated(item),
        "classes": list(project.classes.values_list("name", flat=True)),
        **_nav_context(project, role),
    }
    return render(request, "labeler/item_history.html", context)
