"""Moved to :mod:`labeler.engine` (the feature store and the training glue). These names stay
importable from here so code written against the old module keeps working; new code imports
``labeler.engine``."""

from labeler.engine import (  # noqa: F401
    Pick,
    RunOutcome,
    agreement_figures,
    artifact_dir,
    predict_items,
    strategy_names,
    train_and_choose,
)
from labeler.services.features import features_seed  # noqa: F401, E402
