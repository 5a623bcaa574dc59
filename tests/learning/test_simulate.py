import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from learning.simulate import labels_to_reach, main, normalised_aulc

ROOT = Path(__file__).resolve().parents[2]


def _separable_npz(path: Path, n: int = 800, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = np.where(X[:, 0] + 0.2 * X[:, 1] > 0.1, "right", "left")
    np.savez(path, X=X, y=y)
    return path


def _mean_aulc(result):
    return np.mean(
        [
            normalised_aulc(np.asarray(c["points"]), result["full_accuracy"])
            for c in result["curves"]
        ]
    )


def test_margin_beats_random_on_a_separable_toy_problem(tmp_path, capsys):
    data = _separable_npz(tmp_path / "toy.npz")
    out, plot = tmp_path / "results.json", tmp_path / "curves.png"
    status = main(
        [str(data), "--strategies", "random,margin", "--initial", "4", "--batch", "2",
         "--budget", "30", "--repeats", "4", "--out", str(out), "--plot", str(plot),
         "--no-progress", "--model", "logreg_fixed"]
    )  # fmt: skip
    assert status == 0
    results = json.loads(out.read_text())
    assert [r["strategy"] for r in results] == ["random", "margin"]
    for result in results:
        assert set(result) == {"dataset", "strategy", "full_accuracy", "curves", "versus_random"}
        assert len(result["curves"]) == 4
        for curve in result["curves"]:
            labels = [point[0] for point in curve["points"]]
            assert labels[0] == 4 and labels[-1] == 30
            assert all(len(point) == 3 for point in curve["points"])
    random_result, margin_result = results
    assert _mean_aulc(margin_result) > _mean_aulc(random_result)
    assert plot.stat().st_size > 0
    table = capsys.readouterr().out
    assert "to 95%" in table and "margin" in table
    # What the app's "versus random" would say, from the test set, beside random's own curve.
    estimates = random_result["versus_random"]
    assert [e["n_labels"] for e in estimates] == labels
    random_final = np.mean([c["points"][-1][1] for c in random_result["curves"]])
    assert estimates[-1]["low"] <= random_final <= estimates[-1]["high"]
    assert "versus random, estimated from the 200 test items" in table


def test_text_csv_and_an_explicit_test_set_run_end_to_end(tmp_path, capsys):
    topics = {
        "kernel": ["scheduler", "driver", "interrupt", "thread", "memory", "syscall"],
        "kitchen": ["flour", "oven", "garlic", "butter", "simmer", "whisk"],
    }
    rng = np.random.default_rng(0)

    def write(path, n):
        lines = ["text,label"]
        for i in range(n):
            label = ["kernel", "kitchen"][i % 2]
            words = rng.choice(topics[label], size=4)
            lines.append(f'"{" ".join(words)} note {i}",{label}')
        path.write_text("\n".join(lines) + "\n")
        return path

    train, test = write(tmp_path / "train.csv", 80), write(tmp_path / "test.csv", 20)
    status = main(
        [str(train), "--test", str(test), "--strategies", "default,entropy", "--initial", "6",
         "--batch", "4", "--budget", "14", "--repeats", "1", "--no-progress"]
    )  # fmt: skip
    assert status == 0
    assert "default" in capsys.readouterr().out


def test_an_image_folder_runs_on_pixels(tmp_path, capsys):
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, level in [("dark", 40), ("light", 210)]:
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(12):
            noise = rng.integers(-30, 30, size=(10, 10))
            pixels = np.clip(level + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / label / f"{i}.png")
    status = main(
        [str(tmp_path / "images"), "--strategies", "qbc,random", "--initial", "4", "--batch", "2",
         "--budget", "8", "--repeats", "1", "--image-size", "6x6", "--no-progress"]
    )  # fmt: skip
    assert status == 0
    assert "qbc" in capsys.readouterr().out


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


MALFORMED = {
    "missing_column": ("data.csv", "text,category\nhello,a\nworld,b\n", "missing column(s) label"),
    "empty_label": (
        "data.csv", "text,label\nhello,a\nworld,\nagain,b\n", "row 3: empty or missing 'label'"
    ),
    "extra_field": ("data.csv", "text,label\nhello,a,oops\nworld,b\n", "row 2: more fields"),
    "bad_json": (
        "data.jsonl", '{"text": "a", "label": 1}\n{"text": "b", 2}\n', "line 2: not valid JSON"
    ),
    "json_not_object": ("data.jsonl", '["a", "x"]\n', "line 1: expected an object"),
    "one_class": ("data.csv", "text,label\nhello,a\nworld,a\n", "at least 2 different labels"),
    "unknown_suffix": ("data.txt", "hello\n", "unknown format .txt"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_input_exits_2_with_the_file_and_row_named(case, tmp_path, capsys):
    name, content, message = MALFORMED[case]
    path = _write(tmp_path / name, content)
    assert main([str(path), "--repeats", "1", "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert str(path) in error and message in error


def test_npz_without_labels_or_with_nan_is_rejected(tmp_path, capsys):
    np.savez(tmp_path / "no_y.npz", X=np.zeros((4, 2)))
    assert main([str(tmp_path / "no_y.npz"), "--no-progress"]) == 2
    assert "missing array(s) y" in capsys.readouterr().err
    X = np.ones((4, 2))
    X[2, 1] = np.nan
    np.savez(tmp_path / "nan.npz", X=X, y=np.array([0, 1, 0, 1]))
    assert main([str(tmp_path / "nan.npz"), "--no-progress"]) == 2
    assert "row 2: X holds NaN" in capsys.readouterr().err


def test_a_corrupt_image_is_named(tmp_path, capsys):
    from PIL import Image

    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        Image.new("L", (5, 5), color=10).save(tmp_path / label / "ok.png")
    (tmp_path / "b" / "broken.png").write_bytes(b"not a png at all")
    assert main([str(tmp_path), "--no-progress"]) == 2
    assert "broken.png: cannot read image" in capsys.readouterr().err


def test_the_command_line_reports_bad_input_without_a_traceback(tmp_path):
    path = _write(tmp_path / "data.csv", "text;label\nhello;a\n")
    completed = subprocess.run(
        [sys.executable, "-m", "learning.simulate", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr and str(path) in completed.stderr


def test_unknown_strategy_is_a_usage_error(tmp_path):
    path = _separable_npz(tmp_path / "toy.npz", n=40)
    with pytest.raises(SystemExit) as exit_info:
        main([str(path), "--strategies", "random,psychic"])
    assert exit_info.value.code == 2


def test_labels_to_reach_and_aulc_read_the_curve():
    points = np.array([[10, 0.5, 0.4], [20, 0.8, 0.7], [30, 0.9, 0.9]])
    assert labels_to_reach(points, 0.8) == 20
    assert labels_to_reach(points, 0.95) is None
    assert normalised_aulc(points, 1.0) == pytest.approx((0.65 * 10 + 0.85 * 10) / 20)


def test_spectral_features_run_on_an_npz(tmp_path, capsys):
    data = _separable_npz(tmp_path / "toy.npz", n=200)
    status = main(
        [str(data), "--features", "spectral", "--strategies", "default", "--initial", "4",
         "--batch", "4", "--budget", "12", "--repeats", "1", "--no-progress"]
    )  # fmt: skip
    assert status == 0
    assert "default" in capsys.readouterr().out


def test_features_that_do_not_fit_the_data_are_rejected(tmp_path, capsys):
    data = _separable_npz(tmp_path / "toy.npz", n=40)
    assert main([str(data), "--features", "minilm", "--no-progress"]) == 2
    assert "does not apply to features data" in capsys.readouterr().err
