"""The JSON API's views. Plain resources are DRF generics; action endpoints (next item,
submit, skip, correct, upload, export) validate with an input serializer, call one service
and render its result. Every project-scoped view finds its project among the user's own
(404 otherwise) and checks the user's role there; every object is looked up inside that
project."""

from labeler.api.views.auth import (
    LogoutAllView,
    LogoutView,
    SwaggerDocsView,
    TokenView,
    UnknownEndpointView,
)
from labeler.api.views.exports import ExportView
from labeler.api.views.items import (
    ImportJobView,
    ItemDetailView,
    ItemFileView,
    ItemListView,
    ItemViewListView,
)
from labeler.api.views.labeling import (
    AnnotationCorrectView,
    AnnotationDetailView,
    AnnotationListView,
    ItemSkipView,
    NextItemView,
)
from labeler.api.views.model import (
    ModelRunArtifactView,
    ModelRunDetailView,
    ModelRunExportView,
    ModelRunListView,
    QueryRoundListView,
)
from labeler.api.views.projects import (
    LabelClassListView,
    ProjectDetailView,
    ProjectListView,
    ProjectStatsView,
)
from labeler.api.views.teams import (
    AgreementView,
    ItemAdjudicateView,
    ItemHistoryView,
    MemberDetailView,
    MemberListView,
)

__all__ = [
    "AgreementView",
    "ItemAdjudicateView",
    "ItemHistoryView",
    "MemberDetailView",
    "MemberListView",
    "AnnotationCorrectView",
    "AnnotationDetailView",
    "AnnotationListView",
    "ExportView",
    "ItemDetailView",
    "ItemFileView",
    "ImportJobView",
    "ItemListView",
    "ItemViewListView",
    "ItemSkipView",
    "LabelClassListView",
    "ModelRunArtifactView",
    "ModelRunDetailView",
    "ModelRunExportView",
    "ModelRunListView",
    "NextItemView",
    "ProjectDetailView",
    "ProjectListView",
    "ProjectStatsView",
    "QueryRoundListView",
    "LogoutAllView",
    "LogoutView",
    "SwaggerDocsView",
    "TokenView",
    "UnknownEndpointView",
]
