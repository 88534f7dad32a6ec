"""The agreement table: its shape, and that it tells good implementations from bad ones."""

import numpy as np
import pytest

import xent
from xent import agreement


@pytest.mark.parametrize("name", xent.FUNCTIONS)
def test_every_function_has_three_backends_and_builtins(name):
    labels = [label for label, _, _ in agreement.implementations(name)]
    assert labels[:3] == [f"xent.{b}.{name}" for b in xent.BACKENDS]
    assert len(labels) >= 5  # at least one torch and one TensorFlow built-in


def test_table_rows_and_columns():
    x = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]])
    table = agreement.compare("softmax_cross_entropy", x, np.array([[0.2, 0.3, 0.5], [0, 0, 1.0]]))
    assert list(table.columns) == ["kind", "max ulp", "max rel", "grad / u", "non-finite"]
    assert len(table) == 2 * 6
    ours = table[table["kind"] == "ours"]
    assert (ours["max ulp"] <= 4).all() and (ours["grad / u"] <= 8).all()
    assert "max ulp" in agreement.rounded(table).to_html()


def test_the_table_catches_lost_digits():
    """A tiny loss in float32: the built-ins return 0 (relative error 1), ours keeps it."""
    table = agreement.compare(
        "sparse_softmax_cross_entropy", np.array([[20.0, 0.0]]), np.array([0])
    )
    f32 = table.loc["float32"]
    assert (f32[f32["kind"] == "ours"]["max rel"] < 1e-6).all()
    assert (f32[f32["kind"] == "built-in"]["max rel"] == 1.0).all()


def test_the_table_counts_non_finite_results():
    """The dense built-ins return NaN for a -inf logit on a class with zero target mass."""
    x = np.array([[2.0, -np.inf, 0.0]])
    table = agreement.compare(
        "softmax_cross_entropy", x, np.array([[1.0, 0.0, 0.0]]), dtypes=("float64",)
    )
    assert (table[table["kind"] == "ours"]["non-finite"] == 0).all()
    assert table.loc[("float64", "tf.nn.softmax_cross_entropy_with_logits"), "non-finite"] == 1
