import numpy as np
from sklearn.base import clone

from learning.models import make_model
from learning.preprocessing import accepts_scaler, pool_scaler
from learning.training import train_model


def _pool(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=5.0, scale=3.0, size=(3000, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 10).astype(int)
    return X, y


def test_pool_scaler_holds_the_pools_statistics_and_no_fit_changes_them():
    X, y = _pool()
    scaler = pool_scaler(X)
    np.testing.assert_allclose(scaler.estimator.mean_, X.mean(axis=0), rtol=1e-5)
    labeled = X[:20] * 100
    scaler.fit(labeled, None)  # frozen: fitting on 20 rows is a no-op
    np.testing.assert_allclose(scaler.estimator.mean_, X.mean(axis=0), rtol=1e-5)
    assert clone(scaler) is scaler


def test_pool_scaler_samples_a_large_pool_with_a_seed():
    X, _ = _pool()
    first = pool_scaler(X, max_rows=500, random_state=3).estimator.mean_
    again = pool_scaler(X, max_rows=500, random_state=3).estimator.mean_
    other = pool_scaler(X, max_rows=500, random_state=4).estimator.mean_
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    np.testing.assert_allclose(first, X.mean(axis=0), atol=0.5)


def test_the_logistic_regressions_standardise_on_the_pool_when_given_its_scaler():
    X, y = _pool()
    scaler = pool_scaler(X)
    for name in ("logreg", "kernel_logreg", "auto"):
        assert accepts_scaler(make_model(name, random_state=0))
        model = train_model(name, X[:40], y[:40], random_state=0, scaler=scaler)
        # The labeled rows' own mean differs from the pool's: the pool's is the one used.
        used = model.estimator_[0] if name == "auto" else model.pipeline_[0]
        np.testing.assert_array_equal(used.estimator.mean_, scaler.estimator.mean_)
        assert model.predict(X[100:110]).shape == (10,)


def test_models_without_a_scaler_ignore_it():
    X, y = _pool()
    model = train_model("logreg", X[:40], y[:40], random_state=0)
    assert not np.allclose(model.pipeline_[0].mean_, X.mean(axis=0))
