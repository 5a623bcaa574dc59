"""Findings (multi-label) engine: the model, its uncertain policies and imbalance, the
strategies' contract, the metrics against scikit-learn's, and the simulator on findings data."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from learning.findings.metrics import evaluate_findings, macro_auc_interval
from learning.findings.model import FindingsClassifier, training_targets
from learning.findings.strategies import (
    FINDINGS_STRATEGIES,
    findings_strategy_names,
    get_findings_strategy,
    rare_positive_positions,
)
from learning.simulate import main

ROOT = Path(__file__).resolve().parents[2]


def findings_data(n: int = 600, seed: int = 0):
    """Three findings on 5-d Gaussian features: common (~50%), medium (~15%) and rare (2%),
    each decided by its own direction."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 1.0, X[:, 2] > 2.05], axis=1).astype(np.int8)
    return X, Y


def test_a_rare_finding_is_learned_and_a_finding_without_positives_gives_its_prior():
    X, Y = findings_data()
    Y_train = Y[:400].copy()
    Y_train[:, 1] = 0  # no positives of the second finding yet
    model = FindingsClassifier(random_state=0).fit(X[:400], Y_train)

    proba = model.predict_proba(X[400:])

    assert proba.shape == (200, 3)
    assert 0.01 <= Y[:, 2].mean() <= 0.04
    assert roc_auc_score(Y[400:, 2], proba[:, 2]) > 0.9  # the 2% finding is learned
    assert not model.trained_[1]
    assert np.allclose(proba[:, 1], 0.5 / 401)  # (positives + 0.5) / (answers + 1)


@pytest.mark.parametrize(
    ("policy", "targets", "trains"),
    [("ignore", [1, 0, 0], [True, True, False]), ("ones", [1, 0, 1], [True, True, True]),
     ("zeros", [1, 0, 0], [True, True, True])],
)  # fmt: skip
def test_uncertain_answers_train_as_the_policy_says(policy, targets, trains):
    y, mask = training_targets(np.array([[1], [0], [-1]]), policy)

    assert y[:, 0].tolist() == targets
    assert mask[:, 0].tolist() == trains


def test_answers_other_than_present_absent_uncertain_are_refused():
    with pytest.raises(ValueError, match="only 1"):
        FindingsClassifier().fit(np.zeros((2, 2)), np.array([[2], [0]]))


def test_finding_names_are_the_models_classes():
    X, Y = findings_data(100)
    model = FindingsClassifier(findings=("a", "b", "c")).fit(X, Y)

    assert model.classes_.tolist() == ["a", "b", "c"]


@pytest.fixture(scope="module")
def fitted():
    X, Y = findings_data()
    labeled = np.arange(60)
    return X, Y, labeled, FindingsClassifier(random_state=0).fit(X[labeled], Y[labeled])


@pytest.mark.parametrize("name", findings_strategy_names())
def test_every_findings_strategy_returns_distinct_unlabeled_positions_and_is_seeded(name, fitted):
    X, Y, labeled, model = fitted
    strategy = get_findings_strategy(name)

    def query(seed):
        return strategy.query(
            model, X, 12, rng=np.random.default_rng(seed), X_labeled=X[labeled],
            y_labeled=Y[labeled], exclude=labeled,
        )  # fmt: skip

    result = query(1)
    assert len(result.positions) == 12 == len(set(result.positions.tolist()))
    assert not np.isin(result.positions, labeled).any()
    assert np.all(np.diff(result.scores) <= 1e-12)
    assert np.array_equal(result.positions, query(1).positions)
    cold = strategy.query(None, X, 5, rng=np.random.default_rng(0), exclude=labeled)
    assert len(cold.positions) == 5 and not np.isin(cold.positions, labeled).any()


def test_the_default_is_registered_and_asks_for_rare_positives_while_a_finding_is_rare(fitted):
    X, Y, labeled, model = fitted
    assert "default" in FINDINGS_STRATEGIES
    rare = 2
    assert model.trained_[rare] and Y[labeled, rare].sum() < 5
    allowed = np.ones(len(X), dtype=bool)
    allowed[labeled] = False

    picks = rare_positive_positions(model, X, np.array([rare]), 10, allowed=allowed)
    chosen = get_findings_strategy("default").query(
        model, X, 20, rng=np.random.default_rng(0), y_labeled=Y[labeled], exclude=labeled
    )

    pool_rate = Y[allowed, rare].mean()
    assert Y[picks, rare].mean() > 5 * pool_rate  # the likeliest positives, not a random draw
    assert np.isin(picks[:4], chosen.positions).all()  # 20% of the batch


def test_metrics_match_scikit_learn_and_leave_uncertain_answers_out():
    rng = np.random.default_rng(0)
    Y = (rng.random((200, 3)) < 0.3).astype(np.int8)
    proba = np.clip(0.4 * Y + 0.6 * rng.random((200, 3)), 0, 1)
    Y[:10, 0] = -1
    Y[:, 2] = 0  # one state only: no AUC

    report = evaluate_findings(Y, proba, ["a", "b", "c"])

    kept = Y[:, 0] != -1
    assert report["per_finding"]["a"]["auc"] == pytest.approx(
        roc_auc_score(Y[kept, 0], proba[kept, 0])
    )
    assert report["per_finding"]["a"]["n"] == 190
    assert report["per_finding"]["b"]["f1"] == pytest.approx(f1_score(Y[:, 1], proba[:, 1] >= 0.5))
    assert report["per_finding"]["c"]["auc"] is None
    assert report["macro_auc"] == pytest.approx(
        np.mean([report["per_finding"][n]["auc"] for n in "ab"])
    )
    cells = Y != -1
    assert report["micro_f1"] == pytest.approx(f1_score(Y[cells], proba[cells] >= 0.5))
    assert report["macro_auc_low"] < report["macro_auc"] < report["macro_auc_high"]
    assert macro_auc_interval(Y, proba, seed=0) == macro_auc_interval(Y, proba, seed=0)


@pytest.mark.slow
def test_the_simulator_runs_findings_npz_and_csv_with_the_apps_choices(tmp_path, capsys):
    X, Y = findings_data(300)
    Y[::25, 1] = -1
    data = tmp_path / "findings.npz"
    np.savez(data, X=X, Y=Y, classes=np.array(["common", "medium", "rare"]))
    out = tmp_path / "results.json"

    status = main([str(data), "--initial", "10", "--batch", "10", "--budget", "40",
                   "--repeats", "2", "--out", str(out), "--no-progress"])  # fmt: skip

    assert status == 0
    results = json.loads(out.read_text())
    assert [r["strategy"] for r in results] == ["random", "mean_margin", "default"]
    for result in results:
        assert 0 < result["full_micro_f1"] <= 1 and 0.5 < result["full_macro_auc"] <= 1
        points = result["curves"][0]["points"]
        assert [p[0] for p in points] == [10, 20, 30, 40] and all(len(p) == 3 for p in points)
    printed = capsys.readouterr().out
    assert "micro-F1" in printed and "macro AUC" in printed

    rows = ["text,labels"] + [
        f"{'cat dog' if i % 2 else 'fish bird'} note {i},{'pets|animals' if i % 2 else 'animals'}"
        for i in range(40)
    ]
    csv_path = tmp_path / "findings.csv"
    csv_path.write_text("\n".join(rows))
    status = main([str(csv_path), "--features", "tfidf", "--initial", "6", "--batch", "6",
                   "--budget", "12", "--repeats", "1", "--strategies", "random,default",
                   "--no-progress"])  # fmt: skip
    assert status == 0


def test_a_findings_npz_with_other_values_is_refused_naming_the_row(tmp_path, capsys):
    data = tmp_path / "bad.npz"
    np.savez(data, X=np.zeros((3, 2)), Y=np.array([[1, 0], [0, 2], [0, 0]]))

    assert main([str(data), "--no-progress"]) == 2
    assert "row 1" in capsys.readouterr().err


def test_the_findings_modules_import_no_web_side():
    probe = (
        "import sys, learning.findings.model, learning.findings.strategies, "
        "learning.findings.metrics, learning.findings.data, learning.findings.simulate; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'django', 'celery', 'labeler', 'config', 'rest_framework'}))"
    )
    completed = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                               text=True, check=True)  # fmt: skip
    assert completed.stdout.strip() == "[]"
