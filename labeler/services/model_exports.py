"""Downloads of a run's model for serving elsewhere (ONNX, TorchScript, the model card). The
quick files are built in the request; the encoders' (MiniLM's graph takes minutes on a small
machine) by a background job on the training queue, which the first request sends: until the
file exists, a request answers "building" and the client asks again."""

from __future__ import annotations

import logging

from labeler import engine, jobs
from labeler.models import ModelRun

logger = logging.getLogger(__name__)


def model_export_request(*, run: ModelRun, format: str) -> engine.ModelExport | None:
    """The export when it is ready (quick ones are built here), else None, after making sure
    one build job is on its way. Raises ``engine.NoModel``, ``engine.NotExportable`` (with
    the reason, a failed build's too) and ``ValueError`` for an unknown format."""
    export = engine.model_export_ready(run=run, format=format)
    # No database row to be an outbox: a broker that is down releases the claim, and the
    # next request sends the job again.
    if (
        export is None
        and engine.model_export_claim(run=run, format=format)
        and not jobs.job_send_or_wait(jobs.BUILD_MODEL_EXPORT, run.pk, format)
    ):
        engine.model_export_release(run=run, format=format)
    return export


def model_export_build(*, run_id: int, format: str) -> None:
    """The job: build the file; a run gone or without a model just releases the claim."""
    run = ModelRun.objects.filter(pk=run_id).select_related("project").first()
    if run is None:
        return
    try:
        engine.model_export_build(run=run, format=format)
    except (engine.NoModel, engine.NotExportable):
        logger.warning("model export %s of run %s cannot be built", format, run_id, exc_info=True)
