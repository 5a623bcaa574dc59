"""Tweezers' active-learning engine: strategies, models, features, evaluation, simulation.

Pure numpy / scipy / scikit-learn; torch is imported lazily by the torch models and
embedders only. Nothing here imports Django, Celery or the web app.
"""
