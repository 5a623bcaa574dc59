"""Projects: the list, creating one, its settings, and importing its items (the upload form and
the import job's progress, polled by htmx)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from labeler import selectors, selectors_items, services
from labeler.dicom.forms import PacsImportForm
from labeler.forms import ImportForm, ProjectCreateForm, ProjectSettingsForm, SuggestionsForm
from labeler.models import ImportJob
from labeler.views.base import MANAGER, can_create_projects, is_htmx, nav_context, project_for


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    context = {
        "projects": selectors.projects_with_roles(user=request.user),
        "project_create_url": reverse("project-create")
        if can_create_projects(request.user)
        else None,
    }
    return render(request, "labeler/project_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    if not can_create_projects(request.user):
        raise PermissionDenied(_("You may not create projects."))
    form = ProjectCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        project = services.project_create(
            name=form.cleaned_data["name"],
            kind=form.cleaned_data["kind"],
            classes=form.cleaned_data["classes"],
            created_by=request.user,
            **form.options(),
        )
        messages.success(
            request,
            _("Project “%(name)s” created. Now import its items.") % {"name": project.name},
        )
        return redirect("project-import", project_id=project.pk)
    return render(request, "labeler/project_form.html", {"form": form, "creating": True})


@login_required
@require_http_methods(["GET", "POST"])
def project_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _role = project_for(request, project_id)
    form = ProjectSettingsForm(request.POST if request.method == "POST" else None, instance=project)
    if request.method == "POST" and form.is_valid():
        try:
            services.project_update(
                project=project,
                changes=form.changes(),
                new_classes=form.cleaned_data["new_classes"],
            )
        except services.ProjectRejected as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("project-settings", project_id=project.pk)
    project.refresh_from_db()  # the form wrote its unsaved values onto the instance
    context = {
        "form": form,
        "project": project,
        "classes": selectors.label_classes(project=project),
        **nav_context(project, MANAGER),
    }
    return render(request, "labeler/project_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def project_import(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _role = project_for(request, project_id)
    form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        job = services.import_job_create(
            project=project, created_by=request.user, name=upload.name, stream=upload
        )
        return redirect("import-job", job_id=job.pk)
    return render(request, "labeler/project_import.html", import_page_context(project, form=form))


def import_page_context(project, *, form=None, pacs_form=None) -> dict:
    """The import page's cards: files, the PACS (image projects), your model's predictions."""
    return {
        "form": form or ImportForm(),
        "project": project,
        "jobs": selectors.import_jobs_recent(project=project),
        "pacs_form": pacs_form or PacsImportForm(),
        "suggestions_form": SuggestionsForm(),
        "n_suggestions": selectors_items.suggestions_count(project=project),
        **nav_context(project, MANAGER),
    }


@login_required
@require_GET
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.import_job_with_project(job_id=job_id)
    if job is None:
        raise Http404(_("No such import."))
    project, _role = project_for(request, job.project_id)
    context = {
        "job": job,
        "project": project,
        "running": job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING),
    }
    if is_htmx(request):
        return render(request, "labeler/_import_job.html", context)
    return render(request, "labeler/import_job.html", {**context, **nav_context(project, MANAGER)})
