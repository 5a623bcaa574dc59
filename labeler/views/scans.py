"""Scan items (a series or a study) in the browser: the viewer's description of the scan and
one slice's windowed PNG (access as for the item's file: any member of its project). The
browser never decodes DICOM: every slice it shows is a server-rendered PNG, cached."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from labeler import selectors
from labeler.dicom.rendering import PRESETS
from labeler.dicom.renditions import RenditionError, parse_window
from labeler.dicom.scan_renditions import slice_rendition
from labeler.selectors_scan_viewer import scan_series_at, scan_view
from labeler.selectors_scans import is_scan_project
from labeler.views.dicom import viewed_png


def _scan_item(request: HttpRequest, item_id: int):
    item = selectors.item_visible_to(user=request.user, item_id=item_id)
    if item is None or not is_scan_project(item.project):
        raise Http404("No such scan item.")
    return item


@login_required
@require_GET
def item_scan_info(request: HttpRequest, item_id: int) -> JsonResponse:
    item = _scan_item(request, item_id)
    view = scan_view(item)
    if not view["series"]:
        raise Http404("This item has no slices.")
    return JsonResponse(
        {
            "item_id": item.pk,
            "scan": True,
            "series": view["series"],
            "window": view["window"],
            "color": False,
            "presets": {name: [w.center, w.width] for name, w in PRESETS.items()},
            "render_url": reverse("item-scan-slice", args=[item.pk]),
        }
    )


def _whole_number(request: HttpRequest, name: str) -> int:
    try:
        return int(request.GET.get(name, "0"))
    except ValueError:
        raise RenditionError(_("%(field)s must be a whole number") % {"field": name}) from None


@login_required
@require_GET
def item_scan_slice(request: HttpRequest, item_id: int) -> HttpResponse:
    """PNG of one slice: ``series`` (position in the scan's reading order, 0-based),
    ``index`` (0-based, anatomical order), ``preset`` or ``wc``/``ww``, ``invert`` (1)."""
    item = _scan_item(request, item_id)
    try:
        position, index = _whole_number(request, "series"), _whole_number(request, "index")
        series = scan_series_at(item, position)
        if series is None:
            raise RenditionError(_("series: this scan has no series %(n)s") % {"n": position})
        window, label = parse_window(
            request.GET.get("preset", ""), request.GET.get("wc", ""), request.GET.get("ww", "")
        )
        data = slice_rendition(
            item,
            series,
            index=index,
            window=window,
            invert=request.GET.get("invert") == "1",
            label=label,
        )
    except RenditionError as error:
        return HttpResponseBadRequest(str(error))
    return viewed_png(request, item, data, detail=f"scan series {position} slice {index}")
