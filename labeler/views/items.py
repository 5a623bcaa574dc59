"""The items page: a project's items filtered and paged by cursor, bulk requeue and un-skip
for managers, a label correction from an item's page, and the export button's download.

Managers and viewers see every item; an annotator sees the items they answered, with their
own answer (with overlap, a colleague's answer would bias theirs)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from labeler import access, selectors, selectors_items, services
from labeler import selectors_findings as findings_selectors
from labeler.forms_items import BulkItemsForm, CorrectionForm, ExportForm, ItemFilterForm
from labeler.models import Annotation, Item, Project
from labeler.views import findings_forms
from labeler.views.base import (
    MANAGER,
    is_htmx,
    nav_context,
    project_for,
)


def _filter_form(request: HttpRequest, project: Project, role: str) -> ItemFilterForm:
    return ItemFilterForm(
        request.GET,
        classes=selectors.label_classes(project=project),
        annotators=selectors_items.annotators_of(project=project),
        show_annotators=access.sight(role).every_answer,
        show_consensus=access.sees_consensus(role, project.overlap),
        show_model_guess=access.sight(role).model_guess,
        findings=project.is_findings,
        show_suggestions=access.sight(role).model_guess,
    )


def _query_without_cursor(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("cursor", None)
    return query.urlencode()


@login_required
@require_GET
def items(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request, project_id)
    sight = access.sight(role)
    form = _filter_form(request, project, role)
    page = None
    cursor_error = ""
    if form.is_valid():
        try:
            page = selectors_items.items_page(
                project=project,
                viewer=request.user,
                own_only=not sight.every_item,
                filters=form.item_filter(),
                cursor=request.GET.get("cursor", ""),
            )
        except selectors_items.BadCursor:
            cursor_error = _("This page link is out of date; here is the first page.")
            page = selectors_items.items_page(
                project=project,
                viewer=request.user,
                own_only=not sight.every_item,
                filters=form.item_filter(),
            )
    if page is not None and page.items:
        services.item_views_record(
            user=request.user,
            project=project,
            item_ids=[item.pk for item in page.items],
            where="items_page",
        )
    if page is not None and project.is_findings:
        findings_selectors.page_findings_attach(
            project=project, items=page.items, viewer=request.user, own=not sight.every_answer
        )
    query = _query_without_cursor(request)
    context = {
        "project": project,
        "role": role,
        "sight": sight,
        "show_outcome": access.sees_consensus(role, project.overlap),
        "show_model_guess": sight.model_guess,
        "is_manager": role == MANAGER,
        "form": form,
        "page": page,
        "query": query,
        "first_page": not request.GET.get("cursor") or bool(cursor_error),
        "cursor_error": cursor_error,
        "next_url": f"?{query}&cursor={page.next_cursor}" if page and page.next_cursor else "",
        "export_form": ExportForm(project=project)
        if access.role_may(role, "labels.export")
        else None,
        **nav_context(project, role),
    }
    if is_htmx(request):
        return render(request, "labeler/_items_results.html", context)
    return render(request, "labeler/items.html", context)


def _back_to_items(project: Project, query: str) -> HttpResponse:
    # Only our own query string goes back into the URL: never an absolute address.
    safe = QueryDict(query).urlencode() if query else ""
    url = reverse("project-items", args=[project.pk])
    return redirect(f"{url}?{safe}" if safe else url)


@login_required
@require_POST
def items_bulk(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _role = project_for(request, project_id)
    form = BulkItemsForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _back_to_items(project, request.POST.get("back", ""))
    item_ids = form.cleaned_data["items"]
    if form.cleaned_data["action"] == BulkItemsForm.REQUEUE:
        outcome = services.items_requeue(project=project, item_ids=item_ids)
        done = ngettext(
            "%(count)d item is at the front of the queue.",
            "%(count)d items are at the front of the queue.",
            len(outcome.changed),
        )
    else:
        outcome = services.items_unskip(project=project, item_ids=item_ids)
        done = ngettext(
            "%(count)d item is back in the pool.",
            "%(count)d items are back in the pool.",
            len(outcome.changed),
        )
    if outcome.changed:
        messages.success(request, done % {"count": len(outcome.changed)})
    if outcome.refused:
        reasons = {
            "not skipped": _("not skipped"),
            "already labeled; correct it instead": _("already labeled; correct it instead"),
            "already in the queue": _("already in the queue"),
        }
        listed = "; ".join(
            _("item %(id)d: %(reason)s") % {"id": pk, "reason": reasons.get(reason, reason)}
            for pk, reason in sorted(outcome.refused.items())[:10]
        )
        messages.warning(request, _("Left as they were: %(items)s.") % {"items": listed})
    return _back_to_items(project, form.cleaned_data["back"])


def correction_target(*, item: Item, project: Project, user, role: str) -> Annotation | None:
    """The answer a correction from the item page replaces: an annotator's own current one;
    for a manager with one annotator per item, the item's current answer. None means a
    manager's correction is a ruling (overlap, or nobody answered yet)."""
    current = Annotation.objects.filter(item=item, is_current=True)
    if not access.sight(role).every_answer:
        # As in the API: one corrects the answers one may read (an annotator, their own).
        return (
            access.visible_annotations(current, user=user, role=role)
            .filter(is_adjudication=False)
            .first()
        )
    if project.overlap > 1 or current.filter(is_adjudication=True).exists():
        return None
    return current.filter(is_adjudication=False).first()


def correction_context(*, item: Item, project: Project, user, role: str) -> dict:
    """What the item page's correction form needs; empty when this role may not correct."""
    if not access.role_may(role, "label"):
        return {}
    target = correction_target(item=item, project=project, user=user, role=role)
    if target is None and not access.role_may(role, "project.manage"):
        return {}
    context = {
        "correct_url": reverse("item-correct", args=[project.pk, item.pk]),
        "correct_current": target.label.name if target and target.label_id else "",
        "correct_is_ruling": target is None,
    }
    if target is None and item.label_id:
        context["correct_current"] = item.label.name
    if project.is_findings:
        chosen = (
            findings_selectors.annotation_states(project=project, annotation_ids=[target.pk])[
                target.pk
            ]
            if target
            else findings_selectors.item_states(project=project, item_ids=[item.pk])[item.pk]
        )
        context["finding_rows"] = findings_forms.finding_rows(project, chosen)
    return context


@login_required
@require_POST
def item_correct(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    project, role = project_for(request, project_id)
    item = selectors.item_in_project(project=project, item_id=item_id)
    back = redirect("item-history", project_id=project.pk, item_id=item_id)
    if item is None:
        messages.error(request, _("There is no such item in this project."))
        return redirect("project-items", project_id=project.pk)
    if project.is_findings:
        return _findings_correct(request, project, item, role, back)
    form = CorrectionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a label."))
        return back
    label = form.cleaned_data["label"]
    target = correction_target(item=item, project=project, user=request.user, role=role)
    if target is not None and target.label.name == label:
        messages.info(request, _("The label was already “%(label)s”.") % {"label": label})
        return back
    done = _("Label changed to “%(label)s”.") % {"label": label}
    return _correct(request, project, item, role, back, target, {"label": label}, done)


def _findings_correct(request: HttpRequest, project: Project, item: Item, role: str, back):
    """The item page's findings form: a correction of the answer, or a manager's ruling."""
    findings = findings_forms.findings_posted(request.POST)
    target = correction_target(item=item, project=project, user=request.user, role=role)
    done = _("The findings were changed.")
    return _correct(request, project, item, role, back, target, {"findings": findings}, done)


def _correct(request, project, item, role, back, target, answer: dict, done: str):
    """Replace ``target`` (one's own answer) with ``answer`` (``label=`` or ``findings=``), or,
    with no target, a manager's ruling; the outcome as a message on the item's history."""
    try:
        if target is not None:
            services.annotation_correct(annotation=target, annotator=request.user, **answer)
        elif access.role_may(role, "project.manage"):
            services.item_adjudicate(
                project=project, manager=request.user, item_id=item.pk, **answer
            )
        else:
            messages.error(request, _("You can correct only the items you labeled."))
            return back
    except services.SubmitRejected as rejected:
        messages.error(request, rejected.message)
        return back
    messages.success(request, done)
    return back


@login_required
@require_GET
def project_export(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _role = project_for(request, project_id)
    form = ExportForm(request.GET, project=project)
    if not form.is_valid():
        messages.error(request, _("Choose one of the export formats offered."))
        return redirect("project-items", project_id=project.pk)

    def file_url(item_id: int) -> str:
        return request.build_absolute_uri(reverse("api:item-file", kwargs={"pk": item_id}))

    try:
        export = services.export_labeled(
            project=project,
            format=form.cleaned_data["format"],
            final=form.cleaned_data["final"],
            include_evaluation=form.cleaned_data["include_evaluation"],
            file_url=file_url,
        )
    except services.ExportError as error:
        messages.error(request, str(error))
        return redirect("project-items", project_id=project.pk)
    services.item_view_record(
        user=request.user,
        project=project,
        item_id=None,
        where="export",
        detail=f"export {form.cleaned_data['format']} from the items page",
    )
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response
