from django.urls import path

from labeler import views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("healthz", views.health, name="health"),
]
