"""DICOM items in the browser: what the viewer needs to know about an item, and its windowed
renditions (access as for the item's file: any member of its project); and the PACS import
form's target (managers)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from labeler import selectors, services
from labeler.dicom.forms import PacsImportForm
from labeler.dicom.rendering import PRESETS
from labeler.dicom.renditions import RenditionError, dicom_name, parse_window, rendition
from labeler.importing import ImportSourceError
from labeler.models import Project
from labeler.views.base import project_for
from labeler.views.projects import import_page_context


def _dicom_item(request: HttpRequest, item_id: int):
    item = selectors.item_visible_to(user=request.user, item_id=item_id)
    if item is None or dicom_name(item) is None:
        raise Http404("No such DICOM item.")
    return item


@login_required
@require_GET
def item_dicom_info(request: HttpRequest, item_id: int) -> JsonResponse:
    item = _dicom_item(request, item_id)
    keys = item.metadata["dicom"]
    return JsonResponse(
        {
            "item_id": item.pk,
            "frames": keys.get("frames", 1),
            "modality": keys.get("modality", ""),
            "color": keys.get("color", False),
            "window": keys.get("window"),
            "presets": {name: [w.center, w.width] for name, w in PRESETS.items()},
            "render_url": reverse("item-dicom-render", args=[item.pk]),
        }
    )


@login_required
@require_GET
def item_dicom_render(request: HttpRequest, item_id: int) -> HttpResponse:
    """PNG of one frame: ``frame`` (0-based), ``preset`` (own, brain, soft_tissue, lung, bone)
    or ``wc``/``ww`` (centre/width), ``invert`` (1)."""
    item = _dicom_item(request, item_id)
    try:
        frame = int(request.GET.get("frame", "0"))
    except ValueError:
        return HttpResponseBadRequest("frame must be a whole number")
    try:
        window, label = parse_window(
            request.GET.get("preset", ""), request.GET.get("wc", ""), request.GET.get("ww", "")
        )
        data = rendition(
            item,
            frame=frame,
            window=window,
            invert=request.GET.get("invert") == "1",
            label=label,
        )
    except RenditionError as error:
        return HttpResponseBadRequest(str(error))
    return viewed_png(request, item, data, detail=f"DICOM frame {frame}")


def viewed_png(request: HttpRequest, item, data: bytes, *, detail: str) -> HttpResponse:
    """A rendition of a patient image: recorded in the audit, cached only by this browser (the
    viewers' prefetch relies on that cache)."""
    services.item_view_record(
        user=request.user, project=item.project, item_id=item.pk, where="file", detail=detail
    )
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
@require_http_methods(["POST"])
def pacs_import(request: HttpRequest, project_id: int) -> HttpResponse:
    """Queue an import of the studies a DICOMweb search finds (managers of image projects)."""
    project, _ = project_for(request, project_id)
    if project.kind != Project.Kind.IMAGE:
        raise Http404("PACS imports are for image projects.")
    form = PacsImportForm(request.POST)
    studies = None
    if form.is_valid():
        if request.POST.get("action") != "search":
            job = services.pacs_import_job_create(
                project=project, created_by=request.user, query=form.query
            )
            return redirect("import-job", job_id=job.pk)
        # List what the search finds (de-identified) so that series can be ticked.
        try:
            studies = services.pacs_studies_search(project=project, query=form.query)
        except ImportSourceError as error:
            form.add_error(None, str(error))
    context = {**import_page_context(project, pacs_form=form), "pacs_studies": studies}
    status = 200 if studies is not None else 400
    return render(request, "labeler/project_import.html", context, status=status)
