"""The signed-in user's own account pages: Tweezers' password change (Django's view and
validation, this app's templates), which a user with a one-time password is sent to and
which leads back to their projects, not to the admin."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from labeler import security
from labeler.forms import OwnPasswordChangeForm


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = OwnPasswordChangeForm
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("password_change_done")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["one_time_password"] = security.password_change_required(self.request.user)
        return context


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"


password_change = PasswordChangeView.as_view()
password_change_done = PasswordChangeDoneView.as_view()
