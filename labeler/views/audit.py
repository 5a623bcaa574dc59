"""The audit page: who was shown which item, where and when, filtered, with a CSV download
of every matching row. Managers read their project's (``/projects/<id>/audit/``);
administrators every project's, deleted projects included (``/audit/``)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from labeler import selectors_audit
from labeler.forms_audit import AuditFilterForm
from labeler.models import ItemView, Project
from labeler.services.export_formats import buffered, csv_lines
from labeler.views.base import nav_context, page_access, project_for

PAGE_ROWS = 200
CSV_COLUMNS = ["at", "project_id", "project_name", "user", "where", "item_id", "detail"]


def _csv_records(rows):
    for row in rows.iterator(chunk_size=2000):
        yield {
            "at": row.at.isoformat(),
            "project_id": row.project_id,
            "project_name": row.project_name,
            "user": row.username,
            "where": row.where,
            "item_id": row.item_id,
            "detail": row.detail,
        }


def _csv(rows, name: str) -> StreamingHttpResponse:
    # Project and user names are typed by people: a spreadsheet must not run them.
    lines = csv_lines(_csv_records(rows), CSV_COLUMNS, neutralise=True)
    response = StreamingHttpResponse(buffered(lines), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response


def _audit(request: HttpRequest, *, project: Project | None, context: dict) -> HttpResponse:
    form = AuditFilterForm(request.GET, every_project=project is None)
    valid = form.is_valid()
    if valid:
        rows = selectors_audit.audit_rows(
            project_id=project.pk if project else None, filters=form.audit_filter()
        )
    else:
        rows = ItemView.objects.none()
    if valid and request.GET.get("format") == "csv":
        return _csv(rows, f"audit-project-{project.pk}" if project else "audit")
    shown = list(rows[: PAGE_ROWS + 1])
    query = request.GET.copy()
    query.pop("format", None)
    context = {
        **context,
        "form": form,
        "rows": shown[:PAGE_ROWS],
        "more": len(shown) > PAGE_ROWS,
        "page_rows": PAGE_ROWS,
        "csv_query": query.urlencode(),
        "every_project": project is None,
    }
    return render(request, "labeler/audit.html", context, status=200 if valid else 400)


@login_required
@require_GET
def project_audit(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request, project_id)
    context = {"project": project, "role": role, **nav_context(project, role)}
    return _audit(request, project=project, context=context)


@login_required
@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    page_access(request)
    return _audit(request, project=None, context={})
