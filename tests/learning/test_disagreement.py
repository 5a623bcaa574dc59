import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learning.disagreement import consensus_kl, vote_entropy
from learning.strategies import get_strategy


@st.composite
def committee_with_one_disputed_item(draw):
    """Members agree (same distribution) everywhere except on one item, where they vote apart."""
    n_members = draw(st.integers(2, 6))
    n_items = draw(st.integers(2, 30))
    n_classes = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    shared = rng.dirichlet(np.ones(n_classes), size=n_items)
    committee = np.repeat(shared[None], n_members, axis=0)
    disputed = draw(st.integers(0, n_items - 1))
    for member in range(n_members):
        # member m is confident in class m % n_classes: at least two classes get votes
        committee[member, disputed] = 0.05 / (n_classes - 1)
        committee[member, disputed, member % n_classes] = 0.95
    return committee, disputed


@pytest.mark.parametrize("measure", [vote_entropy, consensus_kl])
@given(case=committee_with_one_disputed_item())
def test_disagreement_peaks_where_members_disagree(measure, case):
    committee, disputed = case
    scores = measure(committee)
    assert np.argmax(scores) == disputed
    others = np.delete(scores, disputed)
    np.testing.assert_allclose(others, 0.0, atol=1e-9)
    assert scores[disputed] > 0.1


class StubCommitteeModel:
    """A 'fitted model' whose MC-dropout committee is given; row i of the pool is item i."""

    def __init__(self, committee):
        self.committee = committee
        self.classes_ = np.arange(committee.shape[2])

    def predict_proba(self, X):
        return self.committee.mean(axis=0)[X[:, 0].astype(int)]

    def committee_proba(self, X, n_members, *, seed):
        return self.committee[:n_members, X[:, 0].astype(int)]


@pytest.mark.parametrize("name", ["qbc", "qbc_kl"])
@given(case=committee_with_one_disputed_item())
@settings(deadline=None, max_examples=30)
def test_query_by_committee_picks_the_disputed_item(name, case):
    committee, disputed = case
    pool = np.arange(committee.shape[1], dtype=np.float32)[:, None]
    strategy = get_strategy(name, n_members=committee.shape[0])
    result = strategy.query(StubCommitteeModel(committee), pool, 1, rng=np.random.default_rng(1))
    assert result.positions.tolist() == [disputed]


def test_committee_needs_labels_or_dropout(blobs):
    from learning.models import make_model

    model = make_model("logreg", random_state=0).fit(blobs.X_labeled, blobs.y_labeled)
    with pytest.raises(ValueError, match="X_labeled and y_labeled"):
        get_strategy("qbc").query(model, blobs.X_pool, 5, rng=np.random.default_rng(0))


def test_bootstrap_committee_members_disagree_somewhere_on_overlapping_data(blobs):
    from learning.models import make_model
    from learning.strategies import bootstrap_committee

    model = make_model("logreg", random_state=0).fit(blobs.X_labeled, blobs.y_labeled)
    members = bootstrap_committee(
        model, blobs.X_labeled, blobs.y_labeled, 5, np.random.default_rng(0)
    )
    votes = np.stack([m.predict(blobs.X_pool) for m in members])
    assert np.any(votes != votes[0])
    assert all(np.array_equal(m.classes_, model.classes_) for m in members)
