"""The only package that imports ``learning``: it computes and reads, and writes no database
row of its own (the services do, and call it). Nothing here imports a service, a task, a view
or the API (``tests/labeler/test_structure_imports.py``).

- :mod:`labeler.engine.store`: which feature set serves, and the sets' in-place shards;
- :mod:`labeler.engine.embedding`: raw items to rows, chunk by chunk, into the shards;
- :mod:`labeler.engine.training`: ``train_and_choose`` / ``predict_items`` for the retrain;
- :mod:`labeler.engine.representation_choice`: an "auto" image project's representation,
  re-decided by cross-validation on the labels;
- :mod:`labeler.engine.versus_random`: what random labels would have bought, beside a run;
- :mod:`labeler.engine.findings`: ``findings_train_and_choose``, its findings counterpart;
- :mod:`labeler.engine.agreement`: agreement figures between annotators;
- :mod:`labeler.engine.model_files`: a run's model as ONNX / TorchScript and its model card.
"""

from __future__ import annotations

from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from labeler.engine.agreement import agreement_figures
from labeler.engine.findings import FindingsAnswers, findings_train_and_choose
from labeler.engine.model_files import (
    MODEL_EXPORT_FORMATS,
    ModelExport,
    NoModel,
    NotExportable,
    model_export,
    model_export_build,
    model_export_claim,
    model_export_ready,
    model_export_release,
)
from labeler.engine.representation_choice import EVIDENCE_KEY as REPRESENTATION_EVIDENCE
from labeler.engine.representation_choice import (
    comparison_min_labels,
    latest_representation_evidence,
    representation_evidence,
)
from labeler.engine.store import (
    SHARD_ROWS,
    FeatureProgress,
    FeatureRows,
    auto_candidate_names,
    feature_progress,
    feature_rows_open,
    feature_set_dir,
    representation_for,
    resources,
    rows_write,
    serving_feature_set,
)
from labeler.engine.training import (
    Pick,
    RunOutcome,
    artifact_dir,
    predict_items,
    predict_proba_items,
    train_and_choose,
)


def strategy_names(task: str = "single") -> list[str]:
    """The query strategies a project of ``task`` ("single" or "findings") may use: the
    engine's registry of that task, less the cold start (every strategy's first round)."""
    if task == "findings":
        from learning.findings.strategies import findings_strategy_names as registered
    else:
        from learning.strategies import strategy_names as registered

    return [name for name in registered() if name != "cold_start"]


def feature_choices(kind: str | None = None) -> list[tuple[str, str]]:
    """ "auto" first, then the registry's representations (of ``kind``, or all) as
    (name, title) pairs: what the settings form and the API offer."""
    from learning.representations import AUTO, MODALITIES, representations_for

    kinds = [kind] if kind else list(MODALITIES)
    return [(AUTO, _("Automatic (the best measured for the pool)"))] + [
        (r.name, gettext(r.title)) for k in kinds for r in representations_for(k)
    ]


# The built-in representations' titles (learning/ has no gettext): listed so that
# makemessages extracts them; an entry without a translation shows its English title.
REPRESENTATION_TITLES = (
    gettext_noop("Sentence embeddings (MiniLM)"),
    gettext_noop("TF-IDF (light)"),
    gettext_noop("Image backbone (local weights)"),
    gettext_noop("Spectral embedding of the pool's pixels (up to 50,000 items)"),
    gettext_noop("Pixels"),
    gettext_noop("Landmark spectral embedding (up to 1,000,000 items)"),
    gettext_noop("Self-supervised encoder trained on the pool (SimCLR) + pixels"),
    gettext_noop("Static MiniLM (fast, distilled here)"),
)


def features_problem(name: str, kind: str, n_items: int | None = None) -> str | None:
    """Why a project of ``kind`` with ``n_items`` items cannot use representation ``name``
    (None when it can): the registry's own reason, for forms and the API."""
    from learning.representations import AUTO, get_representation, representation_problem

    if name == AUTO or not kind:
        return None
    try:
        representation = get_representation(name)
    except ValueError as unknown:
        return str(unknown)
    return representation_problem(representation, kind, n_items, resources=resources())


__all__ = [
    "MODEL_EXPORT_FORMATS",
    "REPRESENTATION_EVIDENCE",
    "SHARD_ROWS",
    "FeatureProgress",
    "FeatureRows",
    "FindingsAnswers",
    "ModelExport",
    "NoModel",
    "NotExportable",
    "Pick",
    "RunOutcome",
    "agreement_figures",
    "artifact_dir",
    "comparison_min_labels",
    "auto_candidate_names",
    "feature_progress",
    "feature_rows_open",
    "findings_train_and_choose",
    "feature_set_dir",
    "model_export",
    "model_export_build",
    "model_export_claim",
    "model_export_ready",
    "model_export_release",
    "predict_items",
    "predict_proba_items",
    "latest_representation_evidence",
    "representation_evidence",
    "feature_choices",
    "features_problem",
    "representation_for",
    "rows_write",
    "serving_feature_set",
    "strategy_names",
    "train_and_choose",
]
