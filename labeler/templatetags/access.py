"""The access policy in templates: ``{% load access %}`` then ``{% if role|may:"label" %}``, so
a page shows the links and forms of exactly the actions ``labeler/access.py`` allows the role,
instead of spelling out role names."""

from __future__ import annotations

from django import template

from labeler import access

register = template.Library()


@register.filter
def may(role: str | None, action: str) -> bool:
    """Whether ``role`` is one the policy's ``action`` allows (the URL still decides)."""
    return access.role_may(role, action)
