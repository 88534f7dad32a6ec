"""Binary cross-entropy from probabilities: values, gradients, invariances, bad input.

The loss takes probabilities p (not logits): -(y log p + (1 - y) log(1 - p)), 0 log 0 = 0,
no clipping. Both terms are >= 0 and each is one correctly rounded log of an exact input times
an exact or once-rounded weight, so the value is accurate to a few u whatever p is: the
condition number of the inputs is not what limits it (the inputs are exact).
"""

import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import BACKENDS, assert_forward_stable, unit_roundoff
from xent import InputError, agreement, reference

NAME = "binary_cross_entropy_from_probs"


def _call(backend, probs, targets):
    module = importlib.import_module(f"xent.{backend}")
    return getattr(module, NAME)(probs, targets)


@st.composite
def probs_and_targets(draw, interior=False):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    width = 32 if dtype == np.float32 else 64
    n = draw(st.integers(1, 6))
    low, high = (2.0**-20, 1 - 2.0**-20) if interior else (0.0, 1.0)
    unit = st.floats(low, high, width=width, allow_subnormal=False)
    p = np.array(draw(st.lists(unit, min_size=n, max_size=n)), dtype=dtype)
    y = np.array(
        draw(st.lists(st.floats(0, 1, width=width, allow_subnormal=False), min_size=n, max_size=n)),
        dtype,
    )
    return p, y


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=probs_and_targets())
def test_values_are_accurate_to_a_few_u(backend, data):
    p, y = data
    exact = reference.binary_cross_entropy_from_probs(p, y)
    computed = np.asarray(_call(backend, p, y))
    assert computed.dtype == p.dtype
    assert_forward_stable(computed, exact, 0.0, p.dtype, factor=8.0)


@given(data=probs_and_targets(interior=True))
def test_gradients_numpy_derived_torch_tf_and_reference(data):
    """The derived (p - y) / (p (1 - p)) is accurate to a few u relative to the gradient;
    autograd differentiates -y/p + (1 - y)/(1 - p), which cancels when p is close to y."""
    p, y = data
    exact = reference.to_float(reference.binary_cross_entropy_from_probs_grad(p, y))
    u = unit_roundoff(p.dtype)
    p64, y64 = p.astype(np.float64), y.astype(np.float64)
    scale = np.abs(y64 / p64) + np.abs((1 - y64) / (1 - p64))
    for backend in BACKENDS:
        _, grad = agreement.ours(backend, NAME)(p, y)
        assert grad.dtype == p.dtype
        err = np.abs(grad.astype(np.float64) - exact)
        allowed = 8 * u * (scale if backend != "numpy" else np.abs(exact))
        assert (err <= allowed + 1e-300).all(), (backend, p, y, grad, exact)


@given(st.lists(st.floats(0.05, 0.95), min_size=1, max_size=5), st.data())
def test_numpy_gradient_matches_finite_differences(ps, data):
    import xent.numpy as xnp

    p = np.array(ps)
    y = np.array(data.draw(st.lists(st.floats(0, 1), min_size=len(ps), max_size=len(ps))))
    h = 1e-6
    fd = (
        xnp.binary_cross_entropy_from_probs(p + h, y)
        - xnp.binary_cross_entropy_from_probs(p - h, y)
    ) / (2 * h)
    np.testing.assert_allclose(
        xnp.binary_cross_entropy_from_probs_grad(p, y), fd, rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_ends_zero_log_zero_and_honest_infinities(backend):
    p = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 0.5])
    np.testing.assert_array_equal(
        np.asarray(_call(backend, p, y)), [0, np.inf, 0, np.inf, np.inf, np.inf]
    )
    _, grad = agreement.ours(backend, NAME)(p, y)
    np.testing.assert_array_equal(grad, [1, -np.inf, -1, np.inf, -np.inf, np.inf])


@pytest.mark.parametrize("backend", BACKENDS)
@given(
    st.lists(st.floats(0.5, 1.0), min_size=1, max_size=5),
    st.lists(st.integers(0, 8), min_size=5, max_size=5),
)
def test_swapping_the_classes_changes_nothing(backend, ps, ks):
    """L(p, y) = L(1 - p, 1 - y); 1 - p is exact for p in [1/2, 1], 1 - k/8 is exact too.

    Equal to the last bits, not bit for bit: the two sides take log(p) and log1p(-(1 - p)) of
    the same number, two functions that each round on their own (and differently on different
    CPUs: an AMD EPYC's NumPy gave 1.3019721112907807 and ...805 for p = 0.728, y = 0).
    """
    p, y = np.array(ps), np.array(ks[: len(ps)]) / 8
    np.testing.assert_allclose(
        np.asarray(_call(backend, p, y)),
        np.asarray(_call(backend, 1 - p, 1 - y)),
        rtol=4 * np.finfo(np.float64).eps,
        atol=0,
    )


@given(
    st.lists(st.floats(-5, 5), min_size=1, max_size=5),
    st.lists(st.floats(0, 1), min_size=5, max_size=5),
)
def test_on_a_sigmoid_it_is_sigmoid_cross_entropy(xs, ys):
    import xent.numpy as xnp

    x, y = np.array(xs), np.array(ys[: len(xs)])
    np.testing.assert_allclose(
        xnp.binary_cross_entropy_from_probs(xnp.sigmoid(x), y),
        xnp.sigmoid_cross_entropy(x, y),
        rtol=1e-13,
        atol=1e-15,
    )


def test_the_builtins_clip_where_ours_is_honest():
    """p = 0, y = 1: torch clamps the log at -100, Keras clips p to 1e-7 (float64 here)."""
    p, y = np.array([0.0]), np.array([1.0])
    values = {label: fn(p, y)[0][0] for label, _, fn in agreement.implementations(NAME)}
    assert values["F.binary_cross_entropy"] == 100.0
    assert values["keras BinaryCrossentropy (probabilities)"] == pytest.approx(-np.log(1e-7))
    assert np.isposinf(values[f"xent.numpy.{NAME}"])


P = np.array([0.2, 0.7])
T = np.array([0.0, 1.0])
BAD = [
    (np.array([0.2, 1.5]), T, r"probs of a binary cross-entropy .* got 1\.5 at index \(1,\)"),
    (np.array([-0.1, 0.5]), T, r"probs .* got -0\.1 at index \(0,\) \(logits\?"),
    (P, np.array([0.0, 2.0]), r"targets of a binary cross-entropy .* got 2 at index \(1,\)"),
    (P, np.array([-1.0, 0.0]), r"targets .* got -1 at index \(0,\)"),
    (np.array([np.nan, 0.5]), T, r"probs contain NaN \(first at index \(0,\)\)"),
    (P, np.array([0.0, np.nan]), r"targets contain NaN \(first at index \(1,\)\)"),
    (P, T[:1], r"probs and targets must have the same shape, got \(2,\) and \(1,\)"),
    (np.array([0, 1]), T, r"probs must be a floating-point array, got dtype int"),
]


@pytest.mark.parametrize(("probs", "targets", "pattern"), BAD)
def test_bad_input_same_message_everywhere(probs, targets, pattern):
    messages = []
    for backend in BACKENDS:
        with pytest.raises(InputError, match=pattern) as info:
            _call(backend, probs, targets)
        messages.append(str(info.value))
    assert len(set(messages)) == 1, messages
