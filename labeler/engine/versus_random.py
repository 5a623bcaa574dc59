"""Versus random in the app: what the evaluation set says random labels would have bought
(:mod:`learning.versus_random`), beside the active-learning model of a run. The cross-fitted
curve is kept on the run's metrics and measured again only when the evaluation labels have
grown by a tenth (or the features or the model changed): each measure is a few dozen fits,
and the retrain that pays for them is the one annotators wait for.

A findings project (:mod:`labeler.engine.findings`) gets the same figures scored in macro ROC
AUC rather than accuracy: the keys stay (``accuracy``, ``low``, ``high``, ``model_accuracy``,
the curve's ``random_accuracy``...) and ``measure`` says which ("accuracy" or "macro_auc")."""

from __future__ import annotations

import numpy as np

from labeler.models import ModelRun, Project

REMEASURE_GROWTH = 1.1
REPEATS = 3
SECONDS = 1.0
# A findings model is one fit per finding: within one second the cross-fit measured one draw
# of half its sizes and the estimate ran low (0.795 against 0.892 measured at 400 labels on
# the digit canvases, bench/versus_random_findings.py), which makes "ahead" too easy. Four
# seconds, paid only when the evaluation answers grow by a tenth.
SECONDS_BY_MEASURE = {"macro_auc": 4.0}


def _kept_curve(
    project: Project,
    feature_set_id: int,
    model_name: str,
    n_evaluation: int,
    measure: str,
    trained_as: str,
):
    """The cross-fitted curve of the latest run that measured one on these features and model
    in ``measure`` with the same ``trained_as``, if the evaluation labels have not grown by a
    tenth since."""
    from learning.versus_random import curve_from_dicts

    previous = (
        ModelRun.objects.filter(
            project=project,
            status=ModelRun.Status.SUCCEEDED,
            feature_set_id=feature_set_id,
            model_name=model_name,
            metrics__versus_random__cross_fit__isnull=False,
        )
        .order_by("-created_at")
        .values_list("metrics__versus_random", flat=True)
        .first()
    )
    if not previous or n_evaluation > REMEASURE_GROWTH * previous["n_evaluation"]:
        return None
    if previous.get("measure", "accuracy") != measure:
        return None
    if previous.get("trained_as", "") != trained_as:
        return None  # a findings project's uncertain policy changed: its draws train otherwise
    if n_evaluation < previous["n_evaluation"]:
        return None  # evaluation labels were withdrawn: measure on what is there now
    return curve_from_dicts(previous["cross_fit"]), previous["n_evaluation"]


def versus_random_metrics(
    *,
    project: Project,
    run: ModelRun,
    feature_set_id: int,
    model,
    model_name: str,
    X_eval: np.ndarray,
    y_eval: np.ndarray,
    n_labels: int,
    accuracy: float | None,
    curve: list[dict],
    scorer=None,
    measure: str = "accuracy",
    trained_as: str = "",
) -> dict:
    """The run's "versus random" figures: the estimate for its ``n_labels`` random labels with
    its interval and the verdict against its ``accuracy``; each learning-curve point in
    ``curve`` gains the estimate at its own label count (``random_accuracy``, ``random_low``,
    ``random_high``; the run's own point has ``n_labels`` None and gets ``n_labels``).
    ``scorer`` (:mod:`learning.versus_random`'s; accuracy when None) scores each cross-fitted
    draw in ``measure``, the measure ``accuracy`` is in: "macro_auc" for a findings run, whose
    ``y_eval`` is the answers matrix; ``trained_as`` (its uncertain policy) is kept with the
    curve, which is measured again when it changes."""
    from learning.versus_random import (
        MIN_EVALUATION,
        accuracy_scorer,
        curve_as_dicts,
        fixed_estimator,
        random_label_curve,
        random_label_estimate,
        versus_random_verdict,
    )

    kept = _kept_curve(project, feature_set_id, model_name, len(y_eval), measure, trained_as)
    if kept is not None:
        cross_fit, n_evaluation = kept
    else:
        rng = np.random.default_rng([project.random_seed, project.pk, run.pk, 11])
        cross_fit = random_label_curve(
            fixed_estimator(model), X_eval, y_eval, rng=rng, repeats=REPEATS,
            seconds=SECONDS_BY_MEASURE.get(measure, SECONDS), scorer=scorer or accuracy_scorer,
        )  # fmt: skip
        n_evaluation = len(y_eval)
    for point in curve:
        at = point["n_labels"] if point["n_labels"] is not None else n_labels
        estimate = random_label_estimate(cross_fit, at, n_evaluation=n_evaluation)
        point["random_accuracy"] = estimate.accuracy
        point["random_low"], point["random_high"] = estimate.low, estimate.high
    estimate = random_label_estimate(cross_fit, n_labels, n_evaluation=n_evaluation)
    return {
        **estimate.as_dict(),
        "measure": measure,
        "trained_as": trained_as,
        "model_accuracy": accuracy,
        "verdict": versus_random_verdict(accuracy, estimate),
        # Below this many evaluation labels there is no estimate (the dashboard says so).
        "evaluation_needed": MIN_EVALUATION,
        "cross_fit": curve_as_dicts(cross_fit),
    }
