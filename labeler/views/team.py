"""A manager's team pages: members and invitations, open conflicts and their adjudication; and
an item's history, which every role may see as the access policy's sight allows (an annotator
only their own answers, of items they answered)."""

from __future__ import annotations

from collections import Counter

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from labeler import access, selectors, services
from labeler.forms import AdjudicateForm, InviteForm, RoleForm
from labeler.models import Annotation, Item, Membership, Project
from labeler.views import findings_forms
from labeler.views.base import (
    MANAGER,
    is_htmx,
    is_pixelated,
    nav_context,
    project_for,
)
from labeler.views.items import correction_context

RECENT_LABELS = 15
CONFLICTS_PER_PAGE = 50


def _members_context(project: Project, form: InviteForm, **extra) -> dict:
    memberships = selectors.members_with_activity(project=project)
    managers = sum(m.role == MANAGER for m in memberships)
    for membership in memberships:
        membership.is_last_manager = membership.role == MANAGER and managers == 1
    return {
        "project": project,
        "role": MANAGER,
        "memberships": memberships,
        "roles": Membership.Role.choices,
        "form": form,
        "recent": selectors.annotations_recent(project=project, limit=RECENT_LABELS),
        **nav_context(project, MANAGER),
        **extra,
    }


@login_required
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request, project_id)
    may_create = access.can(request.user, role, "account.create")
    form = InviteForm(request.POST if request.method == "POST" else None)
    invitation = None
    if request.method == "POST" and form.is_valid() and form.creates_account() and not may_create:
        form.add_error("account", access.refusal_message("account.create"))
    elif request.method == "POST" and form.is_valid():
        try:
            invitation = services.membership_invite(
                project=project,
                username=form.cleaned_data["username"],
                role=form.cleaned_data["role"],
                create_account=form.creates_account(),
                reveal_unknown=access.can(request.user, None, "account.lookup"),
            )
        except services.MembershipRejected as rejected:
            form.add_error(InviteForm.FIELD_FOR_CODE.get(rejected.code), rejected.message)
        else:
            member = invitation.membership
            if invitation.password is None:
                messages.success(
                    request,
                    _("%(name)s joined the project as %(role)s.")
                    % {
                        "name": member.user.get_username(),
                        "role": member.get_role_display().lower(),
                    },
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
    project, _role = project_for(request, project_id)
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
    messages.success(
        request,
        _("%(name)s is now %(role)s.")
        % {"name": name, "role": membership.get_role_display().lower()},
    )
    if membership.user_id == request.user.pk and membership.role != MANAGER:
        return redirect("project-list")
    return redirect("project-members", project_id=project.pk)


@login_required
@require_POST
def member_remove(request: HttpRequest, project_id: int, membership_id: int) -> HttpResponse:
    project, _role = project_for(request, project_id)
    try:
        user = services.membership_remove(project=project, membership_id=membership_id)
    except services.MembershipRejected as rejected:
        messages.error(request, rejected.message)
        return redirect("project-members", project_id=project.pk)
    messages.success(
        request, _("%(name)s was removed from the project.") % {"name": user.get_username()}
    )
    if user.pk == request.user.pk:
        return redirect("project-list")
    return redirect("project-members", project_id=project.pk)


def _conflict_rows(
    conflicts: list[tuple[Item, list[Annotation]]], class_names: list[str]
) -> list[dict]:
    """Each conflicting item with its annotators' current answers and the votes per class."""
    rows = []
    for item, answers in conflicts:
        votes = Counter(answer.label.name for answer in answers)
        guess = next((a for a in answers if a.predicted_label_id), None)
        rows.append(
            {
                "item": item,
                "pixelated": is_pixelated(item),
                "answers": answers,
                "choices": [{"name": name, "votes": votes[name]} for name in class_names],
                "guess": guess,
            }
        )
    return rows


def _findings_conflict_rows(project: Project, conflicts: list) -> list[dict]:
    """Each conflicting findings item: the answers in words, and a state per finding with the
    votes, preset to the most given state (a split finding is marked)."""
    rows = []
    for item, answers in conflicts:
        findings_forms.summaries_attach(answers)
        rows.append(
            {
                "item": item,
                "pixelated": is_pixelated(item),
                "answers": answers,
                "finding_rows": findings_forms.finding_rows(
                    project, findings_forms.majority(project, answers), answers
                ),
                "guess": None,
            }
        )
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def conflicts(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _role = project_for(request, project_id)
    if request.method == "POST":
        return _adjudicate(request, project)
    conflicting = selectors.conflicts_with_answers(project=project, limit=CONFLICTS_PER_PAGE)
    if project.is_findings:
        rows = _findings_conflict_rows(project, conflicting)
    else:
        rows = _conflict_rows(conflicting, selectors.class_names(project=project))
    services.item_views_record(
        user=request.user,
        project=project,
        item_ids=[row["item"].pk for row in rows],
        where="conflicts",
    )
    context = {
        "project": project,
        "role": MANAGER,
        "rows": rows,
        **nav_context(project, MANAGER),
    }
    context["hidden"] = max(context["conflict_count"] - len(rows), 0)
    return render(request, "labeler/conflicts.html", context)


def _adjudicate(request: HttpRequest, project: Project) -> HttpResponse:
    if project.is_findings:
        return _adjudicate_findings(request, project)
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
        if is_htmx(request):
            return HttpResponseBadRequest(rejected.message)
        messages.error(request, rejected.message)
        return back
    if is_htmx(request):
        context = {
            "project": project,
            "item_id": item_id,
            "label": label,
            **nav_context(project, MANAGER),
        }
        return render(request, "labeler/_conflict_resolved.html", context)
    messages.success(
        request, _("Item %(id)s is now labeled “%(label)s”.") % {"id": item_id, "label": label}
    )
    return back


def _adjudicate_findings(request: HttpRequest, project: Project) -> HttpResponse:
    """A manager's ruling on every finding of a conflicting findings item."""
    try:
        item_id = int(request.POST.get("item_id", ""))
    except ValueError:
        return HttpResponseBadRequest(_("item_id is required"))
    back = (
        redirect("item-history", project_id=project.pk, item_id=item_id)
        if request.POST.get("back") == "item"
        else redirect("project-conflicts", project_id=project.pk)
    )
    try:
        services.item_adjudicate(
            project=project,
            manager=request.user,
            item_id=item_id,
            findings=findings_forms.findings_posted(request.POST),
        )
    except services.SubmitRejected as rejected:
        messages.error(request, rejected.message)
        return back
    messages.success(request, _("Item %(id)s is decided.") % {"id": item_id})
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
    project, role = project_for(request, project_id)
    item = selectors.item_in_project(project=project, item_id=item_id)
    if item is None:
        raise Http404(_("No such item."))
    history = selectors.item_history(item=item, user=request.user, role=role)
    if project.is_findings:
        findings_forms.summaries_attach(history)
    services.item_view_record(
        user=request.user, project=project, item_id=item.pk, where="item_page"
    )
    if not access.may_read_history(role=role, visible_answers=len(history)):
        raise PermissionDenied(_("Annotators see the history of the items they labeled."))
    sight = access.sight(role)
    context = {
        "project": project,
        "role": role,
        "sight": sight,
        "item": item,
        "rows": _history_rows(history),
        "own_only": not sight.every_answer,
        "show_outcome": access.sees_consensus(role, project.overlap),
        "pixelated": is_pixelated(item),
        "classes": selectors.class_names(project=project),
        "views": selectors.item_views(project=project, item_id=item.pk) if sight.item_views else [],
        **correction_context(item=item, project=project, user=request.user, role=role),
        **nav_context(project, role),
    }
    return render(request, "labeler/item_history.html", context)
