"""The labeling page and the small JSON endpoints its script talks to.

The page holds the current item and the next ones (leased to the annotator) and sends answers
in the background, so every endpoint that changes something answers with the items the
annotator now holds: one request per answer, and the next item is already in the page.
"""

from __future__ import annotations

import re
import secrets
from string import ascii_lowercase

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from markdown_it import MarkdownIt

from labeler import selectors, selectors_items, services
from labeler import selectors_findings as findings_selectors
from labeler.api.errors import SUBMIT_CONFLICTS
from labeler.forms import TAB_PATTERN, CorrectForm, HoldForm, SkipForm, SubmitForm
from labeler.models import Project, QueueEntry
from labeler.views.base import is_pixelated, nav_context, project_for

SKIP_KEY = " "
FLAG_KEY = "f"
# Findings projects: the key that answers "no finding" (every finding absent) at once.
NO_FINDING_KEY = "0"
# The current item and the next two: a key press shows the next one at once, and one more is
# on its way while the annotator looks at it.
DEFAULT_HOLD = 3
# How long a page waits before asking again while the model prepares the first items.
RETRY_AFTER_SECONDS = 2
UNSURE_BELOW = 0.6
# Each tab of the page holds items of its own, under a tab id the page sends with every
# request. A page about to unload (a reload, a link away) leaves its id in this cookie, so the
# page that loads next in that browser takes over its items instead of leasing new ones; a
# second tab opened beside a live one finds no cookie and gets an id of its own.
TAB_COOKIE = "tweezers_tab"
# CommonMark without raw HTML: a project's guidelines are shown as written, never as markup
# that could run in an annotator's browser ("js-default" also refuses javascript: links).
_guidelines_markdown = MarkdownIt("js-default")


def shortcut_keys(names: list[str], reserved: tuple[str, ...] = ()) -> dict[str, str]:
    """A key per class name. A class named by one letter or digit gets that key (the digit
    "7" is typed as 7); the others get 1–9, then a, b, … in order, never a key already taken.
    Space (skip), Backspace (undo), ``?`` (help), the flag key and ``reserved`` are never
    given out."""
    keys: dict[str, str] = {}
    taken: set[str] = set(reserved)
    for name in names:
        single = name.strip().lower()
        if len(single) == 1 and single.isascii() and single.isalnum() and single not in taken:
            keys[name] = single
            taken.add(single)
    reserved = taken | {FLAG_KEY}
    pool = (key for key in [*"123456789", *ascii_lowercase] if key not in reserved)
    for name in names:
        if name not in keys:
            key = next(pool, "")
            keys[name] = key
            taken.add(key)
    return keys


def flag_key(keys: dict[str, str]) -> str:
    # A class literally named "f" keeps its letter; the flag moves to "!".
    return "!" if FLAG_KEY in keys.values() else FLAG_KEY


def why_asked(entry: QueueEntry) -> str:
    """Why the item was put in front of the annotator, from the model's confidence alone: the
    same wording for evaluation items as for chosen ones, so it never tells them apart."""
    confidence = entry.predicted_confidence
    if entry.round.strategy == "cold_start" or confidence is None:
        return _("To cover a part of the data the model has not seen yet.")
    percent = round(100 * confidence)
    if confidence < UNSURE_BELOW:
        return _("The model was unsure: its best guess had %(percent)s%% confidence.") % {
            "percent": percent
        }
    return _(
        "Exploration: the model was fairly sure (%(percent)s%%); items like this check it "
        "and guard against blind spots."
    ) % {"percent": percent}


def _item_json(project: Project, entry: QueueEntry, suggestion: dict | None = None) -> dict:
    item = entry.item
    guess = None
    if project.show_model_guess and entry.predicted_label_id and not project.is_findings:
        guess = {
            "label": entry.predicted_label.name,
            "confidence": entry.predicted_confidence,
        }
    return {
        "item_id": item.pk,
        "text": "" if item.file else item.text,
        "image_url": reverse("item-file", args=[item.pk]) if item.file else "",
        "pixelated": is_pixelated(item),
        "guess": guess,
        # The team's own model's answer, where the project shows it; Enter accepts it.
        "suggestion": suggestion,
        "why": why_asked(entry),
    }


def _leased(request: HttpRequest, project: Project, hold: int | None, tab: str) -> dict:
    leased = services.items_lease(
        project=project, annotator=request.user, hold=hold or DEFAULT_HOLD, tab=tab
    )
    if leased.entries:
        services.item_views_record(
            user=request.user,
            project=project,
            item_ids=[entry.item_id for entry in leased.entries],
            where="labeling",
        )
    suggestions = selectors_items.suggestions_shown(
        project=project, item_ids=[entry.item_id for entry in leased.entries]
    )
    return {
        "state": leased.state,
        "message": leased.message,
        "items": [
            _item_json(project, entry, suggestions.get(entry.item_id)) for entry in leased.entries
        ],
        "progress": selectors.labeling_progress(project=project, annotator=request.user),
    }


def _json(data: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    if data.get("state") == "updating":
        # Polls back off: a page that asks every few hundred milliseconds steals the CPU
        # the retrain needs.
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _rejected(rejection: services.SubmitRejected) -> JsonResponse:
    status = 409 if rejection.code in SUBMIT_CONFLICTS else 400
    return JsonResponse({"code": rejection.code, "message": rejection.message}, status=status)


def _invalid(form) -> JsonResponse:
    return JsonResponse(
        {"code": "invalid", "message": form.errors.as_text(), "fields": form.errors},
        status=400,
    )


def page_tab(request: HttpRequest) -> str:
    """The tab id a labeling page loads with: the one a page of this browser left on
    unloading (a reload, or a return within the hold), else a new one."""
    handed_over = request.COOKIES.get(TAB_COOKIE, "")
    if re.fullmatch(TAB_PATTERN, handed_over):
        return handed_over
    return secrets.token_urlsafe(12)


def _tab_setup(project: Project, tab: str) -> dict:
    return {"tab": tab, "tab_cookie": TAB_COOKIE, "tab_handover_seconds": project.lease_seconds}


def _page_setup(request: HttpRequest, project: Project, tab: str) -> dict:
    """Everything the page's script starts from, embedded in the page as JSON."""
    classes = selectors.label_classes(project=project)
    if project.is_findings:
        return _findings_setup(request, project, classes, tab)
    keys = shortcut_keys([c.name for c in classes])
    return {
        **_leased(request, project, DEFAULT_HOLD, tab),
        **_tab_setup(project, tab),
        "project": project.pk,
        "user": request.user.pk,
        "csrf_token": get_token(request),
        "hold": DEFAULT_HOLD,
        "classes": [{"name": c.name, "key": keys[c.name]} for c in classes],
        "skip_key": SKIP_KEY,
        "flag_key": flag_key(keys),
        "answers": [
            {
                "annotation_id": row["id"],
                "item_id": row["item_id"],
                "label": row["label__name"],
                "unsure": row["is_unsure"],
            }
            for row in reversed(selectors.answers_recent(project=project, annotator=request.user))
        ],
        "skipped": selectors.items_skipped_by(annotator=request.user, project=project),
        "urls": {
            name: reverse(f"label-{name}", args=[project.pk])
            for name in ("lease", "answer", "skip", "undo", "correct", "unskip")
        },
    }


def _findings_setup(request: HttpRequest, project: Project, classes: list, tab: str) -> dict:
    """A findings project's page: a key per finding that cycles its state (Shift+key:
    uncertain), Enter to submit, a key for "no finding"; the strip says each answer in words."""
    keys = shortcut_keys([c.name for c in classes], reserved=(NO_FINDING_KEY,))
    recent = list(reversed(selectors.answers_recent(project=project, annotator=request.user)))
    ids = [row["id"] for row in recent]
    said = findings_selectors.answer_summaries(annotation_ids=ids)
    states = findings_selectors.annotation_states(project=project, annotation_ids=ids)
    return {
        **_leased(request, project, DEFAULT_HOLD, tab),
        **_tab_setup(project, tab),
        "project": project.pk,
        "user": request.user.pk,
        "csrf_token": get_token(request),
        "hold": DEFAULT_HOLD,
        "task": "findings",
        "classes": [],
        "findings": [{"name": c.name, "key": keys[c.name]} for c in classes],
        "no_finding_key": NO_FINDING_KEY,
        "skip_key": SKIP_KEY,
        "flag_key": flag_key(keys),
        "answers": [
            {
                "annotation_id": row["id"],
                "item_id": row["item_id"],
                "label": said[row["id"]],
                "findings": {k: v for k, v in states[row["id"]].items() if v != "absent"},
                "unsure": row["is_unsure"],
            }
            for row in recent
        ],
        "skipped": selectors.items_skipped_by(annotator=request.user, project=project),
        "urls": {
            name: reverse(f"label-{name}", args=[project.pk])
            for name in ("lease", "answer", "skip", "undo", "correct", "unskip")
        },
    }


@login_required
@require_GET
def label(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request, project_id)
    tab = page_tab(request)
    setup = _page_setup(request, project, tab)
    context = {
        "project": project,
        "role": role,
        "setup": setup,
        "guidelines_html": _guidelines_markdown.render(project.guidelines)
        if project.guidelines
        else "",
        **nav_context(project, role),
    }
    response = render(request, "labeler/label.html", context)
    if TAB_COOKIE in request.COOKIES:
        # Taken over once: a tab opened later gets an id of its own.
        response.delete_cookie(TAB_COOKIE, path=request.path)
    return response


@login_required
@require_POST
def label_lease(request: HttpRequest, project_id: int) -> JsonResponse:
    project, _role = project_for(request, project_id)
    form = HoldForm(request.POST)
    if not form.is_valid():
        return _invalid(form)
    return _json(_leased(request, project, form.cleaned_data["hold"], form.cleaned_data["tab"]))


@login_required
@require_POST
def label_answer(request: HttpRequest, project_id: int) -> JsonResponse:
    project, _role = project_for(request, project_id)
    form = SubmitForm(request.POST, findings=project.is_findings)
    if not form.is_valid():
        return _invalid(form)
    data = form.cleaned_data
    try:
        annotation, created = services.annotation_submit(
            project=project,
            annotator=request.user,
            item_id=data["item_id"],
            label=data["label"] or None,
            findings=data["findings"],
            client_key=data["client_key"] or None,
            seconds_spent=data["seconds_spent"],
            note=data["note"],
            is_unsure=data["unsure"],
            tab=data["tab"],
        )
    except services.SubmitRejected as rejection:
        return _rejected(rejection)
    saved = {"annotation_id": annotation.pk, "item_id": annotation.item_id, "created": created}
    return _json({"saved": saved, **_leased(request, project, data["hold"], data["tab"])})


@login_required
@require_POST
def label_skip(request: HttpRequest, project_id: int) -> JsonResponse:
    project, _role = project_for(request, project_id)
    form = SkipForm(request.POST)
    if not form.is_valid():
        return _invalid(form)
    try:
        services.item_skip(
            project=project,
            annotator=request.user,
            item_id=form.cleaned_data["item_id"],
            tab=form.cleaned_data["tab"],
        )
    except services.SubmitRejected as rejection:
        return _rejected(rejection)
    return _json(_leased(request, project, form.cleaned_data["hold"], form.cleaned_data["tab"]))


@login_required
@require_POST
def label_undo(request: HttpRequest, project_id: int) -> JsonResponse:
    project, _role = project_for(request, project_id)
    form = HoldForm(request.POST)
    if not form.is_valid():
        return _invalid(form)
    try:
        undone = services.last_action_undo(
            project=project, annotator=request.user, tab=form.cleaned_data["tab"]
        )
    except services.SubmitRejected as rejection:
        return _rejected(rejection)
    body = _leased(request, project, form.cleaned_data["hold"], form.cleaned_data["tab"])
    body["undone"] = (
        {"item_id": undone.item.pk, "label": undone.label, "message": undone.message}
        if undone
        else None
    )
    if undone is None:
        body["notice"] = _("Nothing to undo.")
    return _json(body)


@login_required
@require_POST
def label_unskip(request: HttpRequest, project_id: int) -> JsonResponse:
    project, _role = project_for(request, project_id)
    form = SkipForm(request.POST)
    if not form.is_valid():
        return _invalid(form)
    try:
        item = services.skip_undo(
            project=project,
            annotator=request.user,
            item_id=form.cleaned_data["item_id"],
            tab=form.cleaned_data["tab"],
        )
    except services.SubmitRejected as rejection:
        return _rejected(rejection)
    body = _leased(request, project, form.cleaned_data["hold"], form.cleaned_data["tab"])
    body["undone"] = {
        "item_id": item.pk,
        "label": "",
        "message": _("Item %(item)s is back at the front of your queue.") % {"item": item.pk},
    }
    return _json(body)


@login_required
@require_POST
def label_correct(request: HttpRequest, project_id: int) -> JsonResponse:
    project, _role = project_for(request, project_id)
    form = CorrectForm(request.POST, findings=project.is_findings)
    if not form.is_valid():
        return _invalid(form)
    annotation = selectors.annotation_of(
        project=project, annotator=request.user, annotation_id=form.cleaned_data["annotation_id"]
    )
    if annotation is None:
        return JsonResponse(
            {"code": "not_found", "message": _("You have no such answer in this project.")},
            status=404,
        )
    try:
        corrected = services.annotation_correct(
            annotation=annotation,
            annotator=request.user,
            label=form.cleaned_data["label"] or None,
            findings=form.cleaned_data["findings"],
            tab=form.cleaned_data["tab"],
        )
    except services.SubmitRejected as rejection:
        return _rejected(rejection)
    said = form.cleaned_data["label"]
    if project.is_findings:
        said = findings_selectors.answer_summaries(annotation_ids=[corrected.pk])[corrected.pk]
    return JsonResponse(
        {"annotation_id": corrected.pk, "item_id": corrected.item_id, "label": said}
    )


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
        user=request.user, project=item.project, item_id=item.pk, where="file"
    )
    response = FileResponse(handle)
    # Files are content-addressed and never change, but may be patient data: the browser may
    # keep them (the prefetch relies on it), shared caches may not.
    response["Cache-Control"] = "private, max-age=86400"
    return response
