from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from labeler.views import errors

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("labeler.api.urls")),
    # The language switcher posts here (Django's set_language: a cookie remembers the choice).
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("labeler.urls")),
]

handler403 = errors.forbidden
handler404 = errors.not_found
handler500 = errors.server_error
