"""Findings (multi-label) projects: every item gets a state per finding, present (1), absent
(0) or uncertain (-1), as CheXpert labels its 14 chest X-ray findings.

- :mod:`learning.findings.model`: :class:`FindingsClassifier` (one class-weighted logistic
  regression per finding; uncertain answers ignored, as present or as absent);
- :mod:`learning.findings.strategies`: aggregated per-finding uncertainty (mean / max of
  margin or entropy), a committee, the diverse batch, rare-positive search, and their
  registry (:func:`get_findings_strategy`);
- :mod:`learning.findings.arms`: the default, a batch split between arms whose shares are
  learned from the labeled items each arm chose (:mod:`learning.findings.evidence`);
- :mod:`learning.findings.metrics`: per-finding ROC AUC / F1 / positives, macro and micro
  averages, a bootstrap interval of the macro AUC;
- :mod:`learning.findings.data` and :mod:`learning.findings.simulate`: the simulator's side.

One round::

    model = FindingsClassifier(uncertain="ignore").fit(X_labeled, Y_labeled)   # Y: (n, k) 1/0/-1
    proba = model.predict_proba(X_pool)                                        # (n_pool, k)
    result = get_findings_strategy("default").query(
        model, X_pool, 20, rng=rng, X_labeled=X_labeled, y_labeled=Y_labeled, exclude=labeled
    )
"""

from __future__ import annotations

from learning.findings.model import (
    UNCERTAIN_POLICIES,
    FindingsClassifier,
    answers_matrix,
    positives_per_finding,
    training_targets,
)

__all__ = [
    "UNCERTAIN_POLICIES",
    "FindingsClassifier",
    "answers_matrix",
    "positives_per_finding",
    "training_targets",
]
