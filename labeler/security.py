"""Login hardening that settings refer to by name: the username django-axes records for a
failed login (bounded, so an absurd username is a failed login, not a database error)."""

from __future__ import annotations

# django-axes stores the username in a 255-character column.
AXES_USERNAME_MAX = 255


def axes_username(request, credentials: dict | None = None) -> str | None:
    if credentials:
        username = credentials.get("username")
    else:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        username = data.get("username") if hasattr(data, "get") else None
    if username is None:
        return None
    # NUL cannot be stored in PostgreSQL text; the cut keeps the name within axes' column.
    return str(username).replace("\x00", "?")[:AXES_USERNAME_MAX]
