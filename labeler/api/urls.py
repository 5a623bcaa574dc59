from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from labeler.api import views
from labeler.api.views import suggestions as suggestion_views
from labeler.api.views import webhooks as webhook_views

app_name = "api"

project = "projects/<int:project_pk>/"
urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("auth/logout-all/", views.LogoutAllView.as_view(), name="logout-all"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", views.SwaggerDocsView.as_view(url_name="api:schema"), name="docs"),
    path("projects/", views.ProjectListView.as_view(), name="project-list"),
    path(project, views.ProjectDetailView.as_view(), name="project-detail"),
    path(f"{project}stats/", views.ProjectStatsView.as_view(), name="project-stats"),
    path(f"{project}classes/", views.LabelClassListView.as_view(), name="class-list"),
    path(f"{project}items/", views.ItemListView.as_view(), name="item-list"),
    path(f"{project}items/<int:pk>/", views.ItemDetailView.as_view(), name="item-detail"),
    path(f"{project}items/<int:pk>/skip/", views.ItemSkipView.as_view(), name="item-skip"),
    path(f"{project}items/<int:pk>/history/", views.ItemHistoryView.as_view(), name="item-history"),
    path(f"{project}items/<int:pk>/views/", views.ItemViewListView.as_view(), name="item-views"),
    path(f"{project}imports/<int:pk>/", views.ImportJobView.as_view(), name="import-job"),
    path(
        f"{project}items/<int:pk>/adjudicate/",
        views.ItemAdjudicateView.as_view(),
        name="item-adjudicate",
    ),
    path(f"{project}agreement/", views.AgreementView.as_view(), name="agreement"),
    path(f"{project}members/", views.MemberListView.as_view(), name="member-list"),
    path(f"{project}members/<int:pk>/", views.MemberDetailView.as_view(), name="member-detail"),
    path(f"{project}next/", views.NextItemView.as_view(), name="next-item"),
    path(f"{project}annotations/", views.AnnotationListView.as_view(), name="annotation-list"),
    path(
        f"{project}annotations/<int:pk>/",
        views.AnnotationDetailView.as_view(),
        name="annotation-detail",
    ),
    path(
        f"{project}annotations/<int:pk>/correct/",
        views.AnnotationCorrectView.as_view(),
        name="annotation-correct",
    ),
    path(f"{project}rounds/", views.QueryRoundListView.as_view(), name="round-list"),
    path(f"{project}model-runs/", views.ModelRunListView.as_view(), name="model-run-list"),
    path(
        f"{project}model-runs/<int:pk>/",
        views.ModelRunDetailView.as_view(),
        name="model-run-detail",
    ),
    path(
        f"{project}model-runs/<int:pk>/artifact/",
        views.ModelRunArtifactView.as_view(),
        name="model-run-artifact",
    ),
    path(
        f"{project}model-runs/<int:pk>/export/",
        views.ModelRunExportView.as_view(),
        name="model-run-export",
    ),
    path(f"{project}export/", views.ExportView.as_view(), name="export"),
    path(f"{project}webhooks/", webhook_views.WebhookListView.as_view(), name="webhook-list"),
    path(
        f"{project}webhooks/<int:pk>/",
        webhook_views.WebhookDetailView.as_view(),
        name="webhook-detail",
    ),
    path(
        f"{project}webhooks/<int:pk>/deliveries/",
        webhook_views.WebhookDeliveryListView.as_view(),
        name="webhook-delivery-list",
    ),
    path(
        f"{project}suggestions/",
        suggestion_views.SuggestionListView.as_view(),
        name="suggestion-list",
    ),
    path("items/<int:pk>/file/", views.ItemFileView.as_view(), name="item-file"),
    re_path(r"^.*$", views.UnknownEndpointView.as_view(), name="unknown"),
]
