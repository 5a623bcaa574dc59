"""Active learning on scikit-learn's digits with Tweezers' engine (``pip install
tweezers-learning``): numpy arrays in, positions to label out. The loop owns its labels; no
object accumulates them between rounds, as the web app keeps them in its database.

Prints the learning curve: labels -> accuracy on a held-out quarter of the digits.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from learning import get_strategy, train_model

X, y = load_digits(return_X_y=True)
X_pool, X_test, y_pool, y_test = train_test_split(
    X.astype(np.float32), y, test_size=0.25, random_state=0
)
rng = np.random.default_rng(0)
strategy = get_strategy("default")  # or "margin", or UncertaintySampling(measure=my_scores)
labeled = rng.choice(len(X_pool), size=20, replace=False)  # positions the oracle labeled

print("labels  accuracy")
for _ in range(10):
    model = train_model("logreg", X_pool[labeled], y_pool[labeled], random_state=0)
    print(f"{len(labeled):6d}  {model.score(X_test, y_test):.3f}")
    asked = strategy(model, X_pool, 20, rng=rng, exclude=labeled)  # most informative first
    labeled = np.concatenate([labeled, asked])  # the oracle answers y_pool[asked]
