"""The functional-API examples run and give sane numbers (short settings, NumPy)."""

from __future__ import annotations

import numpy as np

from test_examples import load_example


def test_step_by_step_prints_every_intermediate_of_the_trained_network(capsys, tmp_path):
    ex = load_example("step_by_step")
    out = ex.main(["--epochs", "3000", "--plot", str(tmp_path / "hidden.png")])
    printed = capsys.readouterr().out
    for name in ("a1 (3, 4)", "z2 (3, 3)", "a2 (3, 3)", "z3 (3, 1)", "h (3, 1)"):
        assert printed.count(name) == 2, name
    after = out["after"]
    np.testing.assert_array_equal(after["a1"], ex.X)
    W1, b1, W2, b2 = out["model"].get_weights()
    np.testing.assert_allclose(after["z2"], ex.X @ W1 + b1, rtol=1e-12)  # written out here, in NumPy
    np.testing.assert_allclose(after["h"], 1 / (1 + np.exp(-(after["a2"] @ W2 + b2))), rtol=1e-12)
    assert after["h"][0, 0] > 0.9 and after["h"][1, 0] > 0.9 and after["h"][2, 0] < 0.1
    assert (tmp_path / "hidden.png").stat().st_size > 0


def test_functional_two_branch_trains_both_heads(data_dir, capsys):
    ex = load_example("functional_two_branch")
    out = ex.main(["--epochs", "2", "--limit", "3000", "--data", str(data_dir), "--verbose", "0"])
    printed = capsys.readouterr().out
    assert "Connected to" in printed and "test: digit accuracy" in printed
    assert out["test"]["digit_accuracy"] > 0.75 and out["test"]["odd_accuracy"] > 0.7
    assert list(out["history"].history) == ["loss", "digit_loss", "odd_loss", "digit_accuracy", "odd_accuracy"]
