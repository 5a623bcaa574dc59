from django.conf import settings
from django.contrib import admin
from django.http import Http404
from django.urls import include, path


def password_reset_off(request, *args, **kwargs):
    raise Http404("Password reset by email is not configured; ask an administrator.")


# Without email configured a reset link could never arrive: the reset pages answer 404.
password_reset_off_patterns = [
    path(f"accounts/{route}", password_reset_off, name=name)
    for route, name in (
        ("password_reset/", "password_reset"),
        ("password_reset/done/", "password_reset_done"),
        ("reset/<uidb64>/<token>/", "password_reset_confirm"),
        ("reset/done/", "password_reset_complete"),
    )
]

urlpatterns = [
    *([] if settings.TWEEZERS_PASSWORD_RESET else password_reset_off_patterns),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("labeler.api.urls")),
    path("", include("labeler.urls")),
]
