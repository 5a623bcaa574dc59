"""The project's Webhooks page (managers): the hooks with their state, adding one (its secret
shown once), deleting, turning a disabled one on again, and the recent delivery log. The
settings page shows a summary through ``{% webhooks_summary project %}``."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from labeler.models_webhooks import WEBHOOK_EVENTS, Webhook, WebhookDelivery
from labeler.services import webhooks
from labeler.views.base import nav_context, project_for

RECENT_DELIVERIES = 50


class WebhookForm(forms.Form):
    url = forms.CharField(
        label=gettext_lazy("Address (URL)"),
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://ci.example.org/hooks/tweezers"}),
    )
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=[(event, event) for event in WEBHOOK_EVENTS],
        widget=forms.CheckboxSelectMultiple,
    )
    secret = forms.CharField(
        label=gettext_lazy("Secret"),
        required=False,
        max_length=200,
        strip=False,
        help_text=gettext_lazy("Leave empty to have one generated. It is shown only once."),
    )


def _context(project, role, form, created=None) -> dict:
    hooks = list(Webhook.objects.filter(project=project))
    deliveries = (
        WebhookDelivery.objects.filter(webhook__project=project)
        .select_related("webhook")
        .order_by("-created_at", "-id")[:RECENT_DELIVERIES]
    )
    return {
        "project": project,
        "form": form,
        "hooks": hooks,
        "deliveries": deliveries,
        "created": created,
        "enabled": webhooks.webhooks_enabled(),
        **nav_context(project, role),
    }


@login_required
@require_http_methods(["GET", "POST"])
def project_webhooks(request: HttpRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request, project_id)
    form = WebhookForm(request.POST if request.method == "POST" else None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = webhooks.webhook_create(
                project=project,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                secret=form.cleaned_data["secret"],
                created_by=request.user,
            )
        except webhooks.WebhookRejected as rejection:
            form.add_error(rejection.field, rejection.message)
        else:
            # Rendered, not redirected: the secret goes into this response only.
            form = WebhookForm()
    status = 400 if request.method == "POST" and created is None else 200
    return render(
        request, "labeler/webhooks.html", _context(project, role, form, created), status=status
    )


@login_required
@require_POST
def project_webhook_change(request: HttpRequest, project_id: int, hook_id: int) -> HttpResponse:
    project, _role = project_for(request, project_id)
    hook = Webhook.objects.filter(project=project, pk=hook_id).first()
    if hook is None:
        raise Http404(_("No such webhook."))
    action = request.POST.get("action")
    if action == "delete":
        webhooks.webhook_delete(webhook=hook)
        messages.success(request, _("Webhook deleted."))
    elif action == "enable":
        webhooks.webhook_update(webhook=hook, active=True)
        messages.success(request, _("Webhook turned on again."))
    elif action == "disable":
        webhooks.webhook_update(webhook=hook, active=False)
        messages.success(request, _("Webhook turned off."))
    else:
        return HttpResponse(_("Unknown action."), status=400)
    return redirect("project-webhooks", project_id=project.pk)
