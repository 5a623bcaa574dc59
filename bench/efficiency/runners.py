"""The runners of the label-efficiency benchmark and their groups (``--runners``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Runner:
    label: str
    library: str  # "tweezers", "modAL" or "scikit-activeml"
    strategy: str
    model: str = "logreg_fixed"
    cold_start_initial: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    features: str = "raw"
    pool_scaling: bool = True
    semi_supervised: str = "off"
    gate_evaluation: int = 0


PARITY = [
    Runner("random", "tweezers", "random"),
    Runner("margin", "tweezers", "margin"),
    Runner("entropy", "tweezers", "entropy"),
    Runner("qbc", "tweezers", "qbc"),
    Runner("default (strategy only)", "tweezers", "default"),
    Runner("modAL margin", "modAL", "margin"),
    Runner("modAL entropy", "modAL", "entropy"),
    Runner("scikit-activeml margin", "scikit-activeml", "margin_sampling"),
    Runner("scikit-activeml entropy", "scikit-activeml", "entropy"),
]


STRATEGY_VARIANTS = {
    # Candidates for the default measured side by side with it (issue 10).
    "default_centroid": {"pick": "centroid"},
    "default_centroid_wide": {"pick": "centroid", "candidate_factor": 30},
    "default_centroid_pool": {"pick": "centroid", "candidate_factor": 1000},
    "default_centroid_pool_no_random": {
        "pick": "centroid",
        "candidate_factor": 1000,
        "random_share": 0.0,
    },
    # Issue 20: the previous default (centroid pick over up to 10,000 candidates: the whole of
    # any smaller pool) and candidate shares of the pool, picking by uncertainty or centroid.
    "default_i10": {"pick": "centroid", "candidate_factor": 1000, "candidate_share": None},
    **{
        f"share{int(share * 100)}_{pick}": {
            "pick": pick,
            "candidate_factor": 5,
            "candidate_share": share,
            "random_share": 0.0,
        }
        for share in (0.1, 0.2)
        for pick in ("most_uncertain", "centroid")
    },
    # Session 8: the default on the demo corpus needed 210 labels to target against
    # TypiClust's 160; more typical candidates (a larger share) or a random share.
    "share30_centroid": {"pick": "centroid", "candidate_factor": 5, "candidate_share": 0.3},
    "share30_most_uncertain": {
        "pick": "most_uncertain",
        "candidate_factor": 5,
        "candidate_share": 0.3,
    },
    **{
        f"share{int(share * 100)}_{short}_std": {
            "pick": pick,
            "candidate_factor": 5,
            "candidate_share": share,
            "standardize": True,
        }
        for share in (0.1, 0.3)
        for pick, short in (("most_uncertain", "mu"), ("centroid", "centroid"))
    },
    "share10_mu_random10": {
        "pick": "most_uncertain",
        "candidate_factor": 5,
        "candidate_share": 0.1,
        "random_share": 0.1,
    },
    "share10_centroid_random10": {
        "pick": "centroid",
        "candidate_factor": 5,
        "candidate_share": 0.1,
        "random_share": 0.1,
    },
    # Session 9 (issue 20): the default with another cold start (learning.selection.COLD_STARTS).
    **{
        f"cold_{name}": {"cold_start": name} for name in ("typical", "random", "half", "stratified")
    },
    # Session 9 (issue 20, fortunes_minilm): part of each batch from TypiClust's coverage rule
    # (learning.coverage), always or for the first labels per class.
    **{
        name: {"coverage_pools": "safe", **params}
        for name, params in {
            "cover50": {"coverage_share": 0.5},
            "cover100": {"coverage_share": 1.0},
            "cover100_15": {"coverage_share": 1.0, "coverage_labels_per_class": 15},
            "cover50_30": {"coverage_share": 0.5, "coverage_labels_per_class": 30},
            "cover30": {"coverage_share": 0.3},
            "cover70": {"coverage_share": 0.7},
            "cover100_k5": {"coverage_share": 1.0, "coverage_neighbors": 5},
            "cover100_30": {"coverage_share": 1.0, "coverage_labels_per_class": 30},
        }.items()
    },
    **{
        f"cover100_k5_{per_class}": {
            "coverage_share": 1.0,
            "coverage_neighbors": 5,
            "coverage_labels_per_class": per_class,
            "coverage_pools": "safe",
        }
        for per_class in (10, 15)
    },
    # The same phase only on pools without clear clusters (sentence embeddings).
    "cover_flat_k5_15": {
        "coverage_share": 1.0,
        "coverage_neighbors": 5,
        "coverage_labels_per_class": 15,
        "coverage_pools": "flat",
    },
}


def _register_variants() -> None:
    """Name the variants in the strategy registry of this (worker) process."""
    from learning.strategies import STRATEGIES, _default

    for name, params in STRATEGY_VARIANTS.items():
        STRATEGIES.setdefault(name, functools.partial(_default, **params))


TEXT = [
    Runner("random", "tweezers", "random"),
    Runner("margin", "tweezers", "margin"),
    Runner("default (strategy only)", "tweezers", "default"),
    Runner("default, centroid pick", "tweezers", "default_centroid"),
    Runner("default, centroid pick, 30·k candidates", "tweezers", "default_centroid_wide"),
    Runner("scikit-activeml margin", "scikit-activeml", "margin_sampling"),
    *[
        Runner(f"scikit-activeml {name}", "scikit-activeml", name)
        for name in ("clue", "badge", "falcun", "coreset", "typiclust")
    ],
]
"""Batch strategies against the default on sentence embeddings (issue 10): scikit-activeml's
CLUE, BADGE, FALCUN, Core-Set and TypiClust, each with the libraries' learner."""


TEXT_CANDIDATES = [
    *[r for r in TEXT if r.strategy in {"random", "default", "clue", "typiclust"}],
    Runner("default, centroid pick, whole pool", "tweezers", "default_centroid_pool"),
    Runner(
        "default, centroid pick, whole pool, no random share",
        "tweezers",
        "default_centroid_pool_no_random",
    ),
]


I20_CHOICE = [
    Runner("random", "tweezers", "random", "logreg"),
    Runner("margin", "tweezers", "margin", "logreg"),
    Runner("default i10", "tweezers", "default_i10", "logreg"),
    Runner("default i10, scaler on labels", "tweezers", "default_i10", "logreg",
           pool_scaling=False),
    *[
        Runner(f"default {name}", "tweezers", name, "logreg")
        for name in STRATEGY_VARIANTS
        if name.startswith("share") and name != "share20_centroid"
    ],
]  # fmt: skip
"""Issue 20, item 1: candidate shares and picks, and the pool scaler, against random and
margin, all with the app's model (cross-validated logistic regression) on raw features."""


# The search's time budget is lifted so that a loaded machine does not change the curves.
AUTOML = {"time_budget": 1e9}


I20_MODEL = [
    Runner("random", "tweezers", "random", "logreg"),
    Runner("random + AutoML", "tweezers", "random", "auto", params=AUTOML),
    Runner("default pipeline on raw", "tweezers", "default", "logreg", True, {}, "raw"),
    Runner("default pipeline on raw + AutoML", "tweezers", "default", "auto", True, AUTOML,
           "raw"),
]  # fmt: skip
"""Issue 20, item 3: AutoML against the fixed model, with random labels and with the default
strategy."""


I20_MODEL_DEFAULT = [
    Runner("random", "tweezers", "random", "logreg", features="auto"),
    Runner("default pipeline", "tweezers", "default", "logreg", True, {}, "auto"),
    Runner("default pipeline + AutoML", "tweezers", "default", "auto", True, AUTOML, "auto"),
]
"""Issue 20, item 3 (s8-semisup): AutoML against the fixed model on what a new project
serves (the "auto" representation, cold start, the default strategy)."""

I20_SEMI = [
    Runner("random", "tweezers", "random", "logreg", features="auto"),
    Runner("random + pool (on)", "tweezers", "random", "logreg", features="auto",
           semi_supervised="on"),
    Runner("default pipeline", "tweezers", "default", "logreg", True, {}, "auto"),
    Runner("default pipeline + pool (on)", "tweezers", "default", "logreg", True, {}, "auto",
           semi_supervised="on"),
    Runner("default pipeline + pool (gated)", "tweezers", "default", "logreg", True, {}, "auto",
           semi_supervised="auto"),
]  # fmt: skip
"""Issue 20, item 4 (s8-semisup): label spreading over the unlabeled pool, always and gated
by cross-validation on the labels, against the supervised model, same seeds and sets."""

I20_SEMI_EVALUATION = [
    Runner("default pipeline + pool (gated on 50 evaluation answers)", "tweezers", "default",
           "logreg", True, {}, "auto", semi_supervised="auto", gate_evaluation=50),
]  # fmt: skip
"""The gate as the app runs it: on a random evaluation set of 50 pool items (answered outside
the budget, never trained on), not by cross-validation on the actively chosen labels."""


I20_FINAL = [
    Runner("random", "tweezers", "random", "logreg"),
    Runner("default pipeline", "tweezers", "default", "logreg", True, {}, "auto"),
    Runner("default pipeline by evidence", "tweezers", "default", "logreg", True, {}, "switch"),
]
"""Issue 20's done-when: the app's default pipeline ("auto" representation, cold start,
default strategy and model) against random and the libraries."""


S8 = [
    Runner("random", "tweezers", "random", "logreg"),
    Runner("random on auto", "tweezers", "random", "logreg", features="auto"),
    Runner("default pipeline", "tweezers", "default", "logreg", True, {}, "auto"),
    Runner("margin on auto", "tweezers", "margin", "logreg", features="auto"),
    Runner("entropy on auto", "tweezers", "entropy", "logreg", features="auto"),
    Runner("default pipeline on raw", "tweezers", "default", "logreg", True, {}, "raw"),
    Runner("margin", "tweezers", "margin", "logreg"),
    Runner("entropy", "tweezers", "entropy", "logreg"),
]
"""Issue 20's done-when table (session 8): the app's default pipeline on the features "auto"
resolves and on the raw features, random, margin and entropy on both, all with the app's
model (cross-validated logistic regression, pool-fitted scaler)."""


S8_CORE = [
    r for r in S8
    if r.label in {"random", "random on auto", "default pipeline", "default pipeline on raw",
                   "margin"}
]  # fmt: skip
"""The 70,000-image run: the default pipeline on both feature sets, random, margin."""

LIBRARIES = [
    Runner("modAL margin", "modAL", "margin"),
    Runner("scikit-activeml margin", "scikit-activeml", "margin_sampling"),
    Runner("scikit-activeml clue", "scikit-activeml", "clue"),
    Runner("scikit-activeml typiclust", "scikit-activeml", "typiclust"),
    Runner("small-text breaking ties", "small-text", "breaking_ties"),
    Runner("small-text embedding k-means", "small-text", "embedding_kmeans"),
]
"""The libraries' strategies, run in their own environment (``--libraries-python``) on the
features and splits this process wrote."""


# The three libraries' margin sampling gave identical curves in every earlier table: one stands
# for them; the batch strategies are each their own.
LIBRARIES_FINAL = [
    r for r in LIBRARIES if r.label not in {"scikit-activeml margin", "small-text breaking ties"}
]


CORE = [r for r in PARITY if r.label in {"random", "margin", "default (strategy only)",
                                         "modAL margin", "scikit-activeml margin"}]  # fmt: skip


def pipelines(dataset: str) -> list[Runner]:
    """The default pipeline (cold-start initial labels + default strategy) with candidate
    models and representations, each next to random sampling with the same ones."""
    choices = [("logreg", "raw"), ("logreg", "spectral")]
    if dataset == "digits":
        choices.insert(1, ("kernel_logreg", "raw"))
    runners = []
    for model, features in choices:
        name = model if features == "raw" else f"{model} on {features}"
        runners.append(Runner(f"random + {name}", "tweezers", "random", model, features=features))
        runners.append(
            Runner(f"default pipeline + {name}", "tweezers", "default", model, True, {}, features)
        )
    return runners


LIBRARIES_CORE = [r for r in LIBRARIES if r.label in {"modAL margin", "scikit-activeml clue"}]
"""The libraries on the 70,000-image run: margin (the three libraries' margin sampling gave
identical curves on every other set) and CLUE."""


S8_IMAGE = [r for r in S8 if not r.label.startswith("entropy")]
"""The image sets under load: entropy was below margin on every set measured (digits, the
demo corpus), so margin stands for uncertainty sampling."""

LIBRARIES_IMAGE = [
    r for r in LIBRARIES if r.label not in {"scikit-activeml margin", "small-text breaking ties"}
]
"""The libraries on the image sets: the three libraries' margin sampling gave identical curves
on digits and the demo corpus (modAL's stands for them); CLUE, TypiClust and small-text's
embedding k-means each their own."""


S8_VARIANTS = [
    Runner(f"default pipeline, {name}", "tweezers", name, "logreg", True, {}, "auto")
    for name in ("share20_centroid", "share30_centroid", "share10_centroid_random10")
]
S8_VARIANTS_PICK = [
    Runner(f"default pipeline, {name}", "tweezers", name, "logreg", True, {}, "auto")
    for name in ("share10_most_uncertain", "share30_most_uncertain", "share30_centroid",
                 "share10_centroid_random10")
]  # fmt: skip
"""The pick within each cluster (digits_clutter: the centroid pick below random)."""
"""Candidates for the default where it lost (session 8), as the default pipeline runs."""

S8_VARIANTS_STD = [
    Runner(f"default pipeline, {name}", "tweezers", name, "logreg", True, {}, "auto")
    for name in ("share10_mu_std", "share30_mu_std", "share10_centroid_std",
                 "share10_mu_random10")
]  # fmt: skip
"""Clustering the candidates on standardised columns; most uncertain with a random share."""

S8_VARIANTS_COLD = [
    Runner("default share10_mu_random10, random initial", "tweezers", "share10_mu_random10",
           "logreg", False, {}, "auto"),
    Runner("margin on auto, cold start", "tweezers", "margin", "logreg", True, {}, "auto"),
]  # fmt: skip
"""Whether the cold-start initial set or the batch strategy costs the default on a hard set."""

LIBRARIES_AUTO = [
    Runner("modAL margin on auto", "modAL", "margin", features="auto"),
    Runner("scikit-activeml clue on auto", "scikit-activeml", "clue", features="auto"),
    Runner("scikit-activeml typiclust on auto", "scikit-activeml", "typiclust", features="auto"),
]
"""The libraries on the representation "auto" serves (the spectral embedding of an image pool),
so the default's ratio is also read against them on the same features."""

S9_COLD = [
    Runner("random", "tweezers", "random", "logreg"),
    Runner("random on auto", "tweezers", "random", "logreg", features="auto"),
    Runner("default pipeline", "tweezers", "default", "logreg", True, {}, "auto"),
    *[
        Runner(f"default pipeline, cold start {name}", "tweezers", f"cold_{name}", "logreg",
               True, {}, "auto")
        for name in ("typical", "random", "half", "stratified")
    ],
]  # fmt: skip
"""Issue 20, session 9: the default pipeline with each cold start against random on the same
features (digits_clutter: the typical cold start, the default until then, cost it 2.2 points
of AULC)."""

S9_COLD_IMAGE = [r for r in S9_COLD if r.label != "random"]
"""The same on an image set, without random on the raw pixels (784 columns: its
cross-validated fits cost most of the run and decide nothing here)."""

S9_COLD_LARGE = [
    r for r in S9_COLD_IMAGE
    if r.label in {"random on auto", "default pipeline", "default pipeline, cold start typical",
                   "default pipeline, cold start stratified"}
]  # fmt: skip
"""The 70,000-image pool: random on its embedding, the default, and the cold starts it
chooses between (typical: the session-8 default)."""

S9_COLD_TEXT = [r for r in S9_COLD if r.label in {"random", "default pipeline"}]
"""A corpus the cold start's thresholds were not read from: the default against random."""

S9_LEARNER = [
    Runner("random, C=1", "tweezers", "random", "logreg_fixed"),
    Runner("default pipeline, C=1", "tweezers", "default", "logreg_fixed", True, {}, "auto"),
]
"""Session 9 (fortunes_minilm): random and the default pipeline with the libraries' learner
(logistic regression at C=1, pool-fitted scaler) instead of the app's cross-validated C, to
tell the learner's share of a library's lead from the strategy's."""

S9_IMAGE_REST = [
    Runner("entropy", "tweezers", "entropy", "logreg"),
    Runner("entropy on auto", "tweezers", "entropy", "logreg", features="auto"),
    Runner("small-text breaking ties", "small-text", "breaking_ties"),
    Runner("small-text breaking ties on auto", "small-text", "breaking_ties", features="auto"),
]
"""Session 9: what session 8 left out on the image sets (entropy; small-text's breaking
ties, which matched modAL's margin on digits and the demo corpus), on raw and auto features."""

S9_BASELINES = [r for r in S8 if r.label in {"random", "random on auto", "default pipeline"}]
"""Session 9 (digits70k): the runners the done-when row needs beside the libraries (its
target, random on both feature sets, the default pipeline), without S8_CORE's runs on raw."""

S9_COVER = [
    Runner("random", "tweezers", "random", "logreg"),
    Runner("default pipeline", "tweezers", "default", "logreg", True, {}, "auto"),
    *[
        Runner(f"default pipeline, {name}", "tweezers", name, "logreg", True, {}, "auto")
        for name in ("cover50", "cover100_15", "cover50_30", "cover100")
    ],
]
S9_COVER2 = [
    *S9_COVER[:2],
    *[
        Runner(f"default pipeline, {name}", "tweezers", name, "logreg", True, {}, "auto")
        for name in ("cover100_k5", "cover70", "cover100_30")
    ],
]
"""Session 9 (fortunes_minilm): the default pipeline with part of each batch from TypiClust's
coverage rule, against random and the default."""

S9_COVER3 = [
    Runner("random", "tweezers", "random", "logreg"),
    Runner("random on auto", "tweezers", "random", "logreg", features="auto"),
    Runner("default pipeline", "tweezers", "default", "logreg", True, {}, "auto"),
    *[
        Runner(f"default pipeline, {name}", "tweezers", name, "logreg", True, {}, "auto")
        for name in ("cover100_k5_15", "cover100_k5_10")
    ],
]
"""TypiClust's coverage (5 neighbours' typicality) for the whole batch during the first 15 or
10 labels per class, then the default; nothing where the cold start's check refuses the
typical items."""

S9_COVER3_IMAGE = [r for r in S9_COVER3 if r.label != "random"]
"""The same without random on the raw pixels (its cross-validated fits on 784 columns cost
most of a run and decide nothing here)."""

S9_COVER_CLUTTER = [r for r in S9_COVER3_IMAGE if not r.label.endswith("cover100_k5_10")]
"""The sets where the cold start's check refuses the typical items: the coverage phase must
leave the default as it was there."""

S9_COVER_FLAT = [
    Runner("random", "tweezers", "random", "logreg"),
    Runner("random on auto", "tweezers", "random", "logreg", features="auto"),
    Runner("default pipeline", "tweezers", "default", "logreg", True, {}, "auto"),
    Runner("default pipeline, cover_flat_k5_15", "tweezers", "cover_flat_k5_15", "logreg", True,
           {}, "auto"),
]  # fmt: skip
"""The coverage phase only where the pool has no clear clusters: it must leave the image sets
with clear clusters (digits, digits70k) as they were."""
S9_COVER_FLAT_IMAGE = [r for r in S9_COVER_FLAT if r.label != "random"]

S9_COVER_RAW = [r for r in S8 if r.label in {"random", "default pipeline on raw"}]
"""The default on the raw pixels, where the coverage phase applies (they count as a pool
without clear clusters), against random on them."""
