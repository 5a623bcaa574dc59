"""The import page's card for a team's own model's predictions: upload a file of them as
suggestions, or remove them all. Writes go through ``labeler/services/suggestions.py``."""

from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from labeler.forms import SuggestionsForm
from labeler.services import suggestions
from labeler.services.suggestion_formats import PredictionsRejected
from labeler.views.base import project_for


@login_required
@require_POST
def project_suggestions(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _role = project_for(request, project_id)
    form = SuggestionsForm(request.POST, request.FILES)
    if form.is_valid() and form.cleaned_data["clear"]:
        removed = suggestions.suggestions_clear(project=project)
        messages.success(request, _("%(count)s suggestions removed.") % {"count": removed})
    elif form.is_valid() and form.cleaned_data["file"]:
        upload = form.cleaned_data["file"]
        try:
            report = suggestions.suggestions_import(
                project=project, upload=upload, file_name=Path(upload.name or "").name
            )
        except PredictionsRejected as rejection:
            messages.error(request, rejection.message)
        else:
            messages.success(
                request,
                _("Suggestions for %(imported)s items imported (%(replaced)s replaced).")
                % report.as_dict(),
            )
    else:
        messages.error(request, _("Choose a predictions file."))
    return redirect("project-import", project_id=project.pk)
