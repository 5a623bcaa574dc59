from django import template

from labeler.models_webhooks import Webhook

register = template.Library()


@register.inclusion_tag("labeler/_webhooks_summary.html")
def webhooks_summary(project) -> dict:
    """The settings page's Webhooks part: each hook's address and state (a disabled one with
    its reason), and the way to the Webhooks page."""
    return {"project": project, "hooks": list(Webhook.objects.filter(project=project))}
