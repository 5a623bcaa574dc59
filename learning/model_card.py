"""A model card for an exported model: what it predicts, on what, from which labels, how well.

:func:`model_card` builds a JSON-ready dict; :func:`model_card_markdown` renders the same
card for people. Nothing here computes a metric: the evaluation figures are the run's own
(accuracy with its Wilson interval, macro-F1, per-class recall, measured on the project's
evaluation set when the run was trained).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

CARD_VERSION = 1

_METRIC_KEYS = ("accuracy", "accuracy_low", "accuracy_high", "macro_f1", "per_class_recall")


def model_card(
    *,
    name: str,
    classes: Sequence[str],
    representation: str,
    model_name: str,
    n_labels: int,
    training_labels: Mapping[str, int] | None,
    metrics: Mapping[str, Any],
    created_at: str,
    tweezers_version: str,
    exports: Mapping[str, str],
    not_exportable_whole: str | None,
) -> dict[str, Any]:
    """The card as plain JSON types.

    ``classes``: the probability columns' order; ``training_labels``: labels per class the
    model trained on (None when the run did not record them); ``metrics``: the run's metrics;
    ``created_at``: ISO 8601; ``exports``: file name -> what it is; ``not_exportable_whole``:
    why the representation has no whole-pipeline graph (None when it has one).
    """
    evaluation = {key: metrics[key] for key in _METRIC_KEYS if key in metrics}
    evaluation["n_evaluation"] = int(metrics.get("n_evaluation", 0))
    if "accuracy_low" in evaluation:
        evaluation["interval"] = "Wilson 95% interval of the accuracy"
    return {
        "card_version": CARD_VERSION,
        "name": name,
        "classes": [str(c) for c in classes],
        "representation": representation,
        "model": model_name,
        "training_labels": {
            "total": int(n_labels),
            "per_class": dict(training_labels) if training_labels is not None else None,
        },
        "evaluation": evaluation,
        "created_at": created_at,
        "tweezers_version": tweezers_version,
        "exports": dict(exports),
        "whole_pipeline": not_exportable_whole is None,
        "not_exportable_whole": not_exportable_whole,
    }


def _figure(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "–"


def model_card_markdown(card: Mapping[str, Any]) -> str:
    """The card as Markdown (same content as the JSON)."""
    evaluation = card["evaluation"]
    labels = card["training_labels"]
    lines = [
        f"# Model card: {card['name']}",
        "",
        f"- Classes (probability columns, in order): {', '.join(card['classes'])}",
        f"- Representation: `{card['representation']}`",
        f"- Model: `{card['model']}`",
        f"- Trained on {labels['total']} labels",
        f"- Trained: {card['created_at']}",
        f"- Tweezers version: {card['tweezers_version']}",
        "",
        "## Training labels",
        "",
    ]
    if labels["per_class"]:
        lines += ["| class | labels |", "| --- | ---: |"]
        lines += [f"| {name} | {count} |" for name, count in labels["per_class"].items()]
    else:
        lines.append("Per-class counts were not recorded for this run.")
    lines += ["", "## Evaluation", ""]
    if "accuracy" in evaluation:
        lines += [
            f"On {evaluation['n_evaluation']} evaluation items (never chosen by the strategy):",
            "",
            f"- Accuracy: {_figure(evaluation['accuracy'])} (95% Wilson interval "
            f"{_figure(evaluation.get('accuracy_low'))}–"
            f"{_figure(evaluation.get('accuracy_high'))})",
            f"- Macro-F1: {_figure(evaluation.get('macro_f1'))}",
        ]
        for name, recall in (evaluation.get("per_class_recall") or {}).items():
            lines.append(f"- Recall of {name}: {_figure(recall)}")
    else:
        lines.append("This run had no evaluation items: no measured figures.")
    lines += ["", "## Files", ""]
    lines += [f"- `{name}`: {what}" for name, what in card["exports"].items()]
    lines += ["", "## Whole pipeline", ""]
    if card["whole_pipeline"]:
        lines.append("The whole pipeline, from the item to the probabilities, is exported.")
    else:
        lines.append(
            f"Only the classifier on the features is exported: {card['not_exportable_whole']}"
        )
    return "\n".join(lines) + "\n"
