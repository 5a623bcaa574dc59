"""The labeling page: the next item with its class buttons, and the submit, skip and undo
fragments htmx swaps into it; the item files it shows."""

from __future__ import annotations

import uuid
from string import ascii_lowercase

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from labeler import selectors, services
from labeler.forms import SkipForm, SubmitForm
from labeler.models import Project
from labeler.views.base import LABELING_ROLES, is_htmx, is_pixelated, nav_context, project_for

SKIP_KEY = " "


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
    classes = selectors.label_classes(project=project)
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
        services.item_view_record(
            user=request.user, project_id=project.pk, item_id=item.pk, where="labeling"
        )
        following = selectors.entry_following(entry=entry, annotator=request.user)
        context.update(
            entry=entry,
            item=item,
            round=entry.round,
            client_key=uuid.uuid4().hex,
            pixelated=is_pixelated(item),
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
    project, role = project_for(request, project_id, LABELING_ROLES)
    if is_htmx(request):
        return _label_panel(request, project)
    context = {**_label_context(request, project), "role": role, **nav_context(project, role)}
    return render(request, "labeler/label.html", context)


@login_required
@require_POST
def label_submit(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = project_for(request, project_id, LABELING_ROLES)
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
    project, _ = project_for(request, project_id, LABELING_ROLES)
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
    project, _ = project_for(request, project_id, LABELING_ROLES)
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
    services.item_view_record(
        user=request.user, project_id=item.project_id, item_id=item.pk, where="file"
    )
    response = FileResponse(handle)
    # Files are content-addressed and never change, but may be patient data: the browser may
    # keep them (the prefetch relies on it), shared caches may not.
    response["Cache-Control"] = "private, max-age=86400"
    return response
