"""Models out: a run's model as ONNX (the classifier, and the whole pipeline where the
representation allows), the encoder (MiniLM, the learned image encoder) as TorchScript, and
its model card.

Files are built once per run and kept in the run's artifact folder (``export/``): a run's
model never changes after it succeeded. The encoders' files (MiniLM's graph takes minutes to
write on a small machine) are built by a background job, never in a request:
:func:`model_export_ready` answers None for them until the job has built them, and
:func:`model_export_claim` makes one request the one that sends the job. The engine reads
rows here and writes files only, never a row.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from labeler.engine.embedding import FEATURIZER_FILE
from labeler.engine.store import feature_set_dir
from labeler.models import FeatureSet, ModelRun

MODEL_EXPORT_FORMATS = ("onnx", "pipeline", "torchscript", "card", "card.md", "zip")
"""What ``?format=`` may ask for."""

# The formats that hold an encoder, for the representations whose encoder is big to write:
# built by the background job (labeler.tasks.build_model_export), never in a request.
SLOW_FILES = {
    "pipeline": "pipeline.onnx",
    "torchscript": "encoder.torchscript.pt",
    "zip": "model.zip",
}
SLOW_REPRESENTATIONS = ("minilm", "simclr")
# A build claimed this long ago without its file is taken as lost (its worker died).
BUILD_CLAIM_SECONDS = 3600


class NoModel(Exception):
    """The run has no model to export (a cold-start draw, a failed run, a removed artifact)."""


class NotExportable(Exception):
    """The format does not apply to this run's representation; the message says why."""


@dataclass(frozen=True)
class ModelExport:
    path: Path
    filename: str
    content_type: str


def tweezers_version() -> str:
    with open(Path(settings.BASE_DIR) / "pyproject.toml", "rb") as source:
        return str(tomllib.load(source)["project"]["version"])


def _model_folder(run: ModelRun) -> Path:
    root = Path(settings.TWEEZERS_ARTIFACT_DIR).resolve()
    folder = Path(run.artifact_path).resolve() if run.artifact_path else None
    if folder is None or not folder.is_relative_to(root) or not folder.is_dir():
        raise NoModel("this run has no model")
    return folder


def _cached(path: Path, build: Callable[[], bytes]) -> Path:
    # Two downloads at once each write their own temporary file; the last rename wins and
    # both are whole.
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    content = build()
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".partial")
    with os.fdopen(handle, "wb") as target:
        target.write(content)
    os.replace(partial, path)
    return path


def _whole_pipeline_problem(representation: str) -> str | None:
    from learning.onnx_export import NOT_EXPORTABLE_WHOLE, WHOLE_PIPELINES

    if representation in WHOLE_PIPELINES:
        return None
    return NOT_EXPORTABLE_WHOLE.get(
        representation, f"{representation} has no whole-pipeline export."
    )


def _files(representation: str) -> dict[str, str]:
    files = {
        "classifier.onnx": "the classifier: features float32 (n, d) -> probabilities (n, k)",
    }
    if representation == "minilm":
        files["pipeline.onnx"] = (
            "the whole pipeline: input_ids, attention_mask int64 (n, tokens) -> MiniLM -> "
            "mean pooling -> L2 normalisation -> probabilities (n, k)"
        )
        files["encoder.torchscript.pt"] = (
            "MiniLM with mean pooling and normalisation, TorchScript: "
            "(input_ids, attention_mask) -> embeddings (n, 384)"
        )
        files["tokenizer/"] = "the tokenizer (Hugging Face tokenizers), max 256 tokens"
    elif representation == "simclr":
        files["pipeline.onnx"] = (
            "the whole pipeline: images float32 (n, side, side), grayscale 0..1, resized with "
            "PIL bilinear to the size in the graph's metadata -> the encoder learned on the "
            "pool, beside the pixels -> probabilities (n, k)"
        )
        files["encoder.torchscript.pt"] = (
            "the learned image encoder, TorchScript: images (n, side, side) -> the project's "
            "feature rows (n, d)"
        )
    elif representation == "pixels":
        files["pipeline.onnx"] = (
            "the whole pipeline: images float32 (n, h, w), grayscale 0..1, resized with PIL "
            "bilinear to the size in the graph's metadata -> probabilities (n, k)"
        )
    files["model_card.json"] = "this card"
    files["model_card.md"] = "this card, for people"
    return files


class _Run:
    """One run's model, its features and where its export files go."""

    def __init__(self, run: ModelRun) -> None:
        if run.status != ModelRun.Status.SUCCEEDED:
            raise NoModel("this run has no model")
        self.run = run
        self.folder = _model_folder(run)
        self.feature_set = FeatureSet.objects.filter(pk=run.feature_set_id).first()
        self.representation = (
            self.feature_set.representation
            if self.feature_set is not None
            else str(run.metrics.get("representation", ""))
        )
        self.exports = self.folder / "export"
        self._model = None

    @property
    def model(self):
        if self._model is None:
            from learning.models import load_model

            try:
                self._model = load_model(self.folder)
            except (OSError, ValueError) as error:
                raise NoModel("this run's model cannot be read") from error
        return self._model

    def classifier(self) -> Path:
        from learning.onnx_export import export_onnx

        try:
            return _cached(
                self.exports / "classifier.onnx",
                lambda: export_onnx(self.model, int(self.model.n_features_in_)),
            )
        except TypeError as problem:
            # A model the exporter does not know: say so, never a 500.
            raise NotExportable(str(problem)) from None

    def pipeline(self) -> Path:
        from learning.onnx_export import (
            export_minilm_pipeline,
            export_pixels_pipeline,
            export_simclr_pipeline,
        )

        problem = _whole_pipeline_problem(self.representation)
        if problem:
            raise NotExportable(problem)
        if self.representation == "minilm":
            build = lambda: export_minilm_pipeline(self.model)  # noqa: E731
        elif self.representation == "simclr":
            build = lambda: export_simclr_pipeline(self.model, self.featurizer())  # noqa: E731
        else:
            size = (self.feature_set.params or {}).get("image_size") if self.feature_set else None
            if not size:
                raise NotExportable("the image size of these pixels was not recorded")
            build = lambda: export_pixels_pipeline(self.model, tuple(size))  # noqa: E731
        return _cached(self.exports / "pipeline.onnx", build)

    def featurizer(self):
        """The pool-fitted featurizer the run's rows came from (``simclr``)."""
        import joblib

        path = feature_set_dir(self.feature_set) / FEATURIZER_FILE if self.feature_set else None
        if path is None or not path.is_file():
            raise NotExportable("the encoder these features were computed with is gone")
        return joblib.load(path)

    def torchscript(self) -> Path:
        from learning.onnx_export import export_minilm_torchscript, export_simclr_torchscript

        path = self.exports / "encoder.torchscript.pt"
        if self.representation == "minilm":
            return _cached(path, export_minilm_torchscript)
        if self.representation == "simclr":
            return _cached(path, lambda: export_simclr_torchscript(self.featurizer()))
        raise NotExportable(
            f"only the MiniLM text encoder and the learned image encoder (simclr) are "
            f"exported as TorchScript, not {self.representation or 'these features'}"
        )

    def card(self) -> dict:
        from learning.model_card import model_card

        run = self.run
        return model_card(
            name=f"{run.project.name} — run {run.pk}",
            classes=[str(c) for c in self.model.classes_],
            representation=self.representation,
            model_name=run.model_name,
            n_labels=run.n_labels,
            training_labels=run.metrics.get("training_labels"),
            metrics=run.metrics,
            created_at=(run.finished_at or run.created_at).isoformat(),
            tweezers_version=tweezers_version(),
            exports=_files(self.representation),
            not_exportable_whole=_whole_pipeline_problem(self.representation),
        )

    def card_json(self) -> Path:
        return _cached(
            self.exports / "model_card.json",
            lambda: json.dumps(self.card(), indent=2, ensure_ascii=False).encode(),
        )

    def card_markdown(self) -> Path:
        from learning.model_card import model_card_markdown

        return _cached(
            self.exports / "model_card.md", lambda: model_card_markdown(self.card()).encode()
        )

    def archive(self) -> Path:
        from learning.onnx_export import minilm_tokenizer_files

        members = {
            "classifier.onnx": self.classifier(),
            "model_card.json": self.card_json(),
            "model_card.md": self.card_markdown(),
        }
        if _whole_pipeline_problem(self.representation) is None:
            members["pipeline.onnx"] = self.pipeline()
        if self.representation in ("minilm", "simclr"):
            members["encoder.torchscript.pt"] = self.torchscript()

        def build() -> bytes:
            with tempfile.TemporaryFile() as spool:
                with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
                    for name, path in members.items():
                        # Weights are dense floats that deflate barely shrinks, slowly.
                        dense = name.endswith((".onnx", ".pt"))
                        compression = zipfile.ZIP_STORED if dense else zipfile.ZIP_DEFLATED
                        archive.write(path, name, compress_type=compression)
                    if self.representation == "minilm":
                        for name, content in minilm_tokenizer_files().items():
                            archive.writestr(f"tokenizer/{name}", content)
                spool.seek(0)
                return spool.read()

        return _cached(self.exports / "model.zip", build)


def model_export(*, run: ModelRun, format: str) -> ModelExport:
    """The file a download of ``run`` in ``format`` (one of :data:`MODEL_EXPORT_FORMATS`) sends.

    Raises ``NoModel`` when the run has no model, ``NotExportable`` when the format does not
    apply to its representation, ``ValueError`` for an unknown format.
    """
    if format not in MODEL_EXPORT_FORMATS:
        raise ValueError(
            f"unknown format {format!r}; use one of: {', '.join(MODEL_EXPORT_FORMATS)}"
        )
    model = _Run(run)
    stem = f"project-{run.project_id}-run-{run.pk}"
    if format == "onnx":
        return ModelExport(model.classifier(), f"{stem}-classifier.onnx", "application/onnx")
    if format == "pipeline":
        return ModelExport(model.pipeline(), f"{stem}-pipeline.onnx", "application/onnx")
    if format == "torchscript":
        return ModelExport(
            model.torchscript(), f"{stem}-encoder.torchscript.pt", "application/octet-stream"
        )
    if format == "card":
        return ModelExport(model.card_json(), f"{stem}-model-card.json", "application/json")
    if format == "card.md":
        return ModelExport(model.card_markdown(), f"{stem}-model-card.md", "text/markdown")
    return ModelExport(model.archive(), f"{stem}-model.zip", "application/zip")


def _slow_file(model: _Run, format: str) -> Path | None:
    """Where the background job writes ``format`` of this run, if it is one of its files."""
    if model.representation not in SLOW_REPRESENTATIONS or format not in SLOW_FILES:
        return None
    return model.exports / SLOW_FILES[format]


def _failure(path: Path) -> Path:
    return path.with_name(path.name + ".failed")


def model_export_ready(*, run: ModelRun, format: str) -> ModelExport | None:
    """As :func:`model_export`, but None where the file needs the background job and is not
    built yet (the encoders' formats of MiniLM and simclr runs); quick formats are built
    here. A build that failed is ``NotExportable``, with its reason."""
    if format not in MODEL_EXPORT_FORMATS:
        return model_export(run=run, format=format)  # raises, naming the formats
    path = _slow_file(_Run(run), format)
    if path is not None and not path.is_file():
        if _failure(path).is_file():
            # Told once: asking again builds again (the failure may have been passing).
            reason = _failure(path).read_text(errors="replace")[:500]
            _failure(path).unlink(missing_ok=True)
            raise NotExportable(f"building this export failed: {reason}")
        return None
    return model_export(run=run, format=format)


def _claim(run: ModelRun, format: str) -> Path:
    return _Run(run).exports / f"{SLOW_FILES[format]}.building"


def model_export_claim(*, run: ModelRun, format: str) -> bool:
    """True for the one caller that should send the build job: no build of this file is
    claimed, or the claim is older than :data:`BUILD_CLAIM_SECONDS` (its worker died)."""
    marker = _claim(run, format)
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        if time.time() - marker.stat().st_mtime > BUILD_CLAIM_SECONDS:
            marker.unlink(missing_ok=True)
    except FileNotFoundError:
        pass
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def model_export_release(*, run: ModelRun, format: str) -> None:
    """The build ended (or was never sent): the next request may claim it again."""
    _claim(run, format).unlink(missing_ok=True)


def model_export_build(*, run: ModelRun, format: str) -> None:
    """Build a slow export's file (the background job); a failure is written beside it, for
    the next request to report, and the claim is released either way."""
    path = _slow_file(_Run(run), format)
    try:
        model_export(run=run, format=format)
    except Exception as error:
        if path is not None:
            _failure(path).write_text(f"{type(error).__name__}: {error}")
        raise
    finally:
        model_export_release(run=run, format=format)
