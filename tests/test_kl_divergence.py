"""kl_divergence: values against mpmath, gradients four ways, invariances and bad input.

KL(y || softmax(x)) = sum_j y_j (log y_j - log p_j) can be tiny (y close to p) while its terms
are not, so no algorithm can promise a small relative error there. The honest bound is on the
absolute error: a small multiple of u times the size of the terms that are added,
sum_j y_j (|log y_j| + |x_j - max x| + log1p(s)) (the inputs are exact, so this is the rounding
of the algorithm alone).
"""

import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xent
from conftest import BACKENDS, distributions, logits, to_numpy, unit_roundoff
from xent import InputError, agreement, reference


def _term_scale(x, y):
    """sum_j y_j (|log y_j| + |z_j| + log1p(s)) in float64: the size of what is summed.

    |z_j| + log1p(s) = -log softmax(x)_j, both terms >= 0.
    """
    import xent.numpy as xnp

    x, y = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(divide="ignore"):
        log_y = np.where(y > 0, np.log(np.where(y > 0, y, 1)), 0)
    return (y * (np.abs(log_y) - xnp.log_softmax(x))).sum(axis=-1)


def _soft(x, data):
    return data.draw(distributions(x, kind="soft"))


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_values_have_a_small_absolute_error(backend, data):
    x = data.draw(logits())
    y = data.draw(distributions(x))
    values, _ = agreement.ours(backend, "kl_divergence")(x, y)
    exact = reference.to_float(reference.kl_divergence(x, y))
    allowed = (8 + x.shape[-1]) * unit_roundoff(x.dtype) * _term_scale(x, y)
    allowed += 4 * np.finfo(x.dtype).tiny
    assert (np.abs(values.astype(np.float64) - exact) <= allowed).all(), (values, exact, allowed)


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_gradients_match_the_reference(backend, data):
    """NumPy's derived softmax * sum(y) - y, torch autograd and the TF tape, against mpmath."""
    x = data.draw(logits())
    y = _soft(x, data)
    _, grad = agreement.ours(backend, "kl_divergence")(x, y)
    exact = reference.to_float(reference.kl_divergence_grad(x, y))
    assert np.abs(grad.astype(np.float64) - exact).max() <= 8 * unit_roundoff(x.dtype)


@given(data=st.data())
def test_derived_gradient_matches_finite_differences(data):
    import xent.numpy as xnp

    x = data.draw(logits(dtype=np.float64)) / 1e3  # moderate logits: a smooth function
    y = _soft(x, data)
    h = 1e-6
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = h
        plus, minus = xnp.kl_divergence(x + step, y), xnp.kl_divergence(x - step, y)
        numeric[index] = (plus - minus).sum() / (2 * h)
    np.testing.assert_allclose(xnp.kl_divergence_grad(x, y), numeric, atol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=st.data())
def test_is_cross_entropy_minus_entropy_and_not_negative(backend, data):
    x = data.draw(logits(dtype=np.float64))
    y = data.draw(distributions(x))
    module = importlib.import_module(f"xent.{backend}")
    kl = to_numpy(module.kl_divergence(x, y))
    ce = to_numpy(module.softmax_cross_entropy(x, y))
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0).sum(axis=-1)
    scale = _term_scale(x, y)
    assert (kl >= -8 * unit_roundoff(x.dtype) * scale).all()
    np.testing.assert_allclose(kl, ce - entropy, rtol=0, atol=1e-12 * (1 + scale).max())


@pytest.mark.parametrize("backend", BACKENDS)
@given(x=logits(dtype=np.float64), shift=st.floats(-100, 100))
def test_zero_at_the_softmax_and_shift_invariant(backend, x, shift):
    module = importlib.import_module(f"xent.{backend}")
    p = reference.to_float(reference.softmax(x))
    p = p / p.sum(axis=-1, keepdims=True)
    assert (
        np.abs(to_numpy(module.kl_divergence(x, p))).max() <= 1e-12 * (1 + _term_scale(x, p)).max()
    )
    y = np.roll(p, 1, axis=-1)
    np.testing.assert_allclose(
        to_numpy(module.kl_divergence(x + shift, y)),
        to_numpy(module.kl_divergence(x, y)),
        rtol=1e-12,
        atol=1e-12 * (1 + abs(shift)),
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_targets_and_ruled_out_classes(backend):
    """0 log 0 = 0, also where the logit is -inf; mass on a -inf logit is an infinite loss."""
    module = importlib.import_module(f"xent.{backend}")
    x = np.array([[2.0, -np.inf, 0.0], [0.0, -np.inf, 1.0]])
    y = np.array([[0.5, 0.0, 0.5], [0.0, 1.0, 0.0]])
    values = to_numpy(module.kl_divergence(x, y))
    assert np.isfinite(values[0]) and values[1] == np.inf
    exact = reference.to_float(reference.kl_divergence(x[:1], y[:1]))
    np.testing.assert_allclose(values[0], exact[0], rtol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_are_kept(backend, dtype):
    module = importlib.import_module(f"xent.{backend}")
    x = np.array([[1.0, 2.0, 3.0]], dtype=dtype)
    y = np.array([[0.2, 0.3, 0.5]], dtype=dtype)
    assert to_numpy(module.kl_divergence(x, y)).dtype == dtype


X = np.array([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]])
Y = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])

BAD = [
    (X, Y[:, :2], r"same shape, got \(2, 3\) and \(2, 2\)"),
    (X, np.array([[0.2, 0.3, 0.4], Y[1]]), r"row \(0,\) sums to 0\.9"),
    (X, np.array([[1.5, -0.5, 0.0], Y[1]]), r"negative entry"),
    (X, np.where(Y > 0.4, np.nan, Y), r"targets contain NaN"),
    (X.astype(int), Y, r"floating-point array, got dtype int"),
    (np.array([[1.0, np.nan, 0.0], X[1]]), Y, r"NaN \(first at index \(0, 1\)\)"),
    (np.array([[1.0, np.inf, 0.0], X[1]]), Y, r"\+inf .*inf/inf"),
    (np.array([[-np.inf] * 3, X[1]]), Y, r"row \(0,\) are all -inf"),
]


@pytest.mark.parametrize(("x", "y", "pattern"), BAD)
def test_bad_input_same_message_everywhere(x, y, pattern):
    messages = []
    for backend in xent.BACKENDS:
        module = importlib.import_module(f"xent.{backend}")
        with pytest.raises(InputError, match=pattern) as info:
            module.kl_divergence(x, y)
        messages.append(str(info.value))
    assert len(set(messages)) == 1, messages
