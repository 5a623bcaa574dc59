"""Tweezers' active-learning engine: strategies, models, features, evaluation, simulation.

Pure numpy / scipy / scikit-learn; torch is imported lazily by the torch models and
embedders only. Nothing here imports Django, Celery or the web app.

One round, as the retrain task runs it::

    from learning import default_model_name, get_strategy, open_shards, save_model, train_model

    pool = open_shards(shard_paths)                        # (n_items, d) float32, memory-mapped
    name = default_model_name("text", "minilm")            # "logreg"
    model = train_model(name, X_labeled, y_labeled, random_state=seed, previous=last_model)
    save_model(model, artifact_dir)                        # load_model(artifact_dir) later
    result = get_strategy("default").query(
        model, pool, 20, rng=np.random.default_rng(seed),
        X_labeled=X_labeled, y_labeled=y_labeled, exclude=labeled_rows,
    )
    result.positions, result.scores                        # most informative first

The public names (``__all__``) are importable from ``learning`` itself; each loads its module
on first use, so ``import learning`` stays as light as numpy and the web app's processes that
only ask for the strategies' names never load scikit-learn or torch.

Modules: ``measures`` and ``disagreement`` (scores), ``selection`` (top-n, diverse, cold
start), ``strategies`` (registry), ``models`` / ``torch_models`` / ``training``, ``features``
(embedders, shards), ``pool`` (chunked access), ``evaluation``, ``stopping``, ``datasets`` and
``simulate`` (``python -m learning.simulate``); ``findings`` (multi-label projects: model,
strategies, metrics and the simulator's side); ``scans`` and ``attention_mil`` (a series or
study as one item: its slice rows pooled by the mean, or by gated attention once labels
allow), ``scan_data`` and ``scan_simulate`` (scan folders in the simulator).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> the module that defines it (loaded on first access, PEP 562).
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        [
            "DEFAULT_STRATEGY",
            "STRATEGIES",
            "ColdStart",
            "QueryByCommittee",
            "QueryResult",
            "RandomSampling",
            "Strategy",
            "UncertaintySampling",
            "get_strategy",
            "measure_name",
            "strategy_names",
        ],
        "strategies",
    ),
    **dict.fromkeys(
        [
            "UNCERTAINTY_MEASURES",
            "entropy_scores",
            "least_confidence_scores",
            "margin_scores",
            "uncertainty_scores",
        ],
        "measures",
    ),
    **dict.fromkeys(["DISAGREEMENT_MEASURES", "consensus_kl", "vote_entropy"], "disagreement"),
    **dict.fromkeys(
        [
            "COLD_STARTS",
            "candidate_count",
            "cold_start_n",
            "diverse_top_n",
            "top_n",
            "typical_diverse_n",
        ],
        "selection",
    ),
    **dict.fromkeys(["AutoModel", "Candidate"], "automl"),
    "pool_scaler": "preprocessing",
    **dict.fromkeys(
        ["RepresentationEvidence", "compare_representations", "stack_blocks"],
        "representation_choice",
    ),
    **dict.fromkeys(["allowed_mask", "excluded_positions", "iter_chunks"], "pool"),
    **dict.fromkeys(
        [
            "MODELS",
            "AutoLogisticRegression",
            "KernelLogisticRegression",
            "default_model_name",
            "load_model",
            "make_model",
            "model_names",
            "save_model",
        ],
        "models",
    ),
    "train_model": "training",
    **dict.fromkeys(["evaluate", "wilson_interval"], "evaluation"),
    **dict.fromkeys(["StopSignal", "cohens_kappa", "kappa_history", "stopping_signal"], "stopping"),
    **dict.fromkeys(["fleiss_kappa", "rating_counts"], "agreement"),
    **dict.fromkeys(
        [
            "REPRESENTATIONS",
            "Representation",
            "get_representation",
            "representation_names",
            "representations_for",
        ],
        "representations",
    ),
    **dict.fromkeys(["ShardedPool", "open_shards", "write_shard"], "features"),
    **dict.fromkeys(["labels_to_reach", "normalised_aulc", "run_curve"], "simulate"),
    **dict.fromkeys(
        [
            "RandomEstimate",
            "accuracy_scorer",
            "macro_auc_scorer",
            "random_label_curve",
            "random_label_estimate",
            "versus_random_verdict",
        ],
        "versus_random",
    ),
    **dict.fromkeys(
        ["ScanBags", "ScanPooler", "evidence_slices", "max_pool", "mean_pool", "slice_scores"],
        "scans",
    ),
    "run_scan_curve": "scan_simulate",
    # Findings (multi-label) projects: learning.findings.
    "FindingsClassifier": "findings.model",
    **dict.fromkeys(
        ["FINDINGS_STRATEGIES", "findings_strategy_names", "get_findings_strategy"],
        "findings.strategies",
    ),
    "evaluate_findings": "findings.metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'learning' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"learning.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
