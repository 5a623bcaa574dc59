"""Tweezers' active-learning engine: strategies, models, features, evaluation, simulation.

Pure numpy / scipy / scikit-learn; torch is imported lazily by the torch models and
embedders only. Nothing here imports Django, Celery or the web app.

One round, as the retrain task runs it::

    from learning.features import open_shards
    from learning.models import default_model_name, save_model
    from learning.strategies import get_strategy
    from learning.training import train_model

    pool = open_shards(shard_paths)                        # (n_items, d) float32, memory-mapped
    name = default_model_name("text", "minilm")            # "logreg"
    model = train_model(name, X_labeled, y_labeled, random_state=seed, previous=last_model)
    save_model(model, artifact_dir)                        # load_model(artifact_dir) later
    result = get_strategy("default").query(
        model, pool, 20, rng=np.random.default_rng(seed),
        X_labeled=X_labeled, y_labeled=y_labeled, exclude=labeled_rows,
    )
    result.positions, result.scores                        # most informative first

Modules: ``measures`` and ``disagreement`` (scores), ``selection`` (top-n, diverse, cold
start), ``strategies`` (registry), ``models`` / ``torch_models`` / ``training``, ``features``
(embedders, shards), ``pool`` (chunked access), ``evaluation``, ``stopping``, ``datasets`` and
``simulate`` (``python -m learning.simulate``).
"""
