"""Input and output shapes of the API, one module per resource. Plain resources use
ModelSerializers; action endpoints (next item, submit, correct, upload) have explicit input and
output serializers and call a service. Nothing here writes a model except through a service.
Which fields a role may read comes from the access policy (``labeler/access.py``).

Views import this package as ``s`` and name ``s.ItemSerializer``; every public name is
re-exported here."""

from labeler.api.serializers.auth import (
    TokenRequestSerializer,
    TokenSerializer,
)
from labeler.api.serializers.common import (
    NULLABLE_STRING,
    NULLABLE_URI,
    ErrorDetailSerializer,
    ErrorSerializer,
    ImageUrlField,
    item_file_url,
    role_in_context,
)
from labeler.api.serializers.exports import (
    ExportQuerySerializer,
)
from labeler.api.serializers.items import (
    ImportJobSerializer,
    ImportReportSerializer,
    ItemSerializer,
    ItemUploadSerializer,
    ItemViewSerializer,
    RejectedSerializer,
)
from labeler.api.serializers.labeling import (
    AnnotationCorrectSerializer,
    AnnotationSerializer,
    AnnotationSubmitSerializer,
    LeasedItemSerializer,
    NextItemSerializer,
)
from labeler.api.serializers.projects import (
    ClassNamesField,
    LabelClassSerializer,
    ProjectSerializer,
    strategy_choices,
)
from labeler.api.serializers.runs import (
    AnnotatorTodaySerializer,
    EvaluationSetSerializer,
    FeatureSetSerializer,
    FeatureStateSerializer,
    ModelRunSerializer,
    ProjectStatsSerializer,
    QueryRoundSerializer,
    QueueStateSerializer,
    WorkerStateSerializer,
)
from labeler.api.serializers.teams import (
    AdjudicateSerializer,
    AgreementAnnotatorSerializer,
    AgreementPairSerializer,
    AgreementSerializer,
    InvitationSerializer,
    InviteSerializer,
    MemberSerializer,
)

__all__ = [
    "AdjudicateSerializer",
    "AgreementAnnotatorSerializer",
    "AgreementPairSerializer",
    "AgreementSerializer",
    "AnnotationCorrectSerializer",
    "AnnotationSerializer",
    "AnnotationSubmitSerializer",
    "AnnotatorTodaySerializer",
    "ClassNamesField",
    "ErrorDetailSerializer",
    "ErrorSerializer",
    "EvaluationSetSerializer",
    "ExportQuerySerializer",
    "FeatureSetSerializer",
    "FeatureStateSerializer",
    "ImageUrlField",
    "ImportJobSerializer",
    "ImportReportSerializer",
    "InvitationSerializer",
    "InviteSerializer",
    "ItemSerializer",
    "ItemUploadSerializer",
    "ItemViewSerializer",
    "LabelClassSerializer",
    "LeasedItemSerializer",
    "MemberSerializer",
    "ModelRunSerializer",
    "NULLABLE_STRING",
    "NULLABLE_URI",
    "NextItemSerializer",
    "ProjectSerializer",
    "ProjectStatsSerializer",
    "QueryRoundSerializer",
    "QueueStateSerializer",
    "RejectedSerializer",
    "TokenRequestSerializer",
    "TokenSerializer",
    "WorkerStateSerializer",
    "item_file_url",
    "role_in_context",
    "strategy_choices",
]
