"""The fused NumPy loss-and-gradient functions: same values as the separate ones, one buffer.

`sparse_softmax_cross_entropy_value_and_grad` and `sigmoid_cross_entropy_value_and_grad` do
the roundings of the separate functions, so they must agree with them to the last bit. The
soft-target version sums y_j * (a - x_j) with a BLAS dot product and scales exp(x - a) by
sum(y) / (1 + s) in one step, so it agrees to a few units of roundoff. All keep the log1p
accuracy on tiny losses and reject bad input with the messages of the separate functions.
"""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xent.numpy as xnp
from conftest import (
    DTYPES,
    assert_forward_stable,
    class_labels,
    distributions,
    logits,
    probabilities,
    unit_roundoff,
)
from xent import InputError, reference

SPARSE = xnp.sparse_softmax_cross_entropy_value_and_grad
SOFT = xnp.softmax_cross_entropy_value_and_grad
SIGMOID = xnp.sigmoid_cross_entropy_value_and_grad


def _with_ruled_out_class(x, data):
    """Sometimes set one column to -inf: a masked class (0 * inf must count as 0)."""
    if x.shape[1] > 1 and data.draw(st.booleans()):
        x = x.copy()
        x[:, data.draw(st.integers(0, x.shape[1] - 1))] = -np.inf
    return x


@given(data=st.data())
def test_sparse_fused_equals_the_separate_functions_bit_for_bit(data):
    x = _with_ruled_out_class(data.draw(logits()), data)
    labels = data.draw(class_labels(x))
    loss, grad = SPARSE(x, labels)
    expected_grad = xnp.softmax(x)
    expected_grad[np.arange(len(labels)), labels] -= 1
    np.testing.assert_array_equal(loss, xnp.sparse_softmax_cross_entropy(x, labels))
    np.testing.assert_array_equal(grad, expected_grad)
    np.testing.assert_array_equal(grad, xnp.sparse_softmax_cross_entropy_grad(x, labels))
    assert loss.dtype == grad.dtype == x.dtype


@given(data=st.data())
def test_soft_fused_equals_the_separate_functions_to_roundoff(data):
    x = data.draw(logits())
    y = data.draw(distributions(x))
    x = _with_ruled_out_class(x, data)  # mass on a ruled-out class: an infinite loss
    loss, grad = SOFT(x, y)
    u = unit_roundoff(x.dtype)
    expected = xnp.softmax_cross_entropy(x, y)
    np.testing.assert_array_equal(np.isposinf(loss), np.isposinf(expected))
    finite = np.isfinite(expected)  # both are sums of terms >= 0: compare relatively
    diff = np.abs(loss[finite] - expected[finite])
    assert np.all(diff <= 16 * u * expected[finite]), (loss, expected)
    expected_grad = xnp.softmax(x) * y.sum(axis=-1, keepdims=True) - y
    np.testing.assert_allclose(grad, expected_grad, rtol=0, atol=4 * u)
    np.testing.assert_array_equal(grad, xnp.softmax_cross_entropy_grad(x, y))
    assert loss.dtype == grad.dtype == x.dtype


@given(data=st.data())
def test_sigmoid_fused_equals_the_separate_functions_bit_for_bit(data):
    x = data.draw(logits(max_rows=3, max_classes=5))
    if data.draw(st.booleans()):  # infinite logits, and zeros of both signs
        x = x.copy()
        x.flat[:: data.draw(st.integers(2, 4))] = data.draw(st.sampled_from([np.inf, -np.inf]))
        x.flat[1::5] = data.draw(st.sampled_from([0.0, -0.0]))
    y = data.draw(probabilities(x.shape, x.dtype))
    loss, grad = SIGMOID(x, y)
    np.testing.assert_array_equal(loss, xnp.sigmoid_cross_entropy(x, y))
    np.testing.assert_array_equal(grad, xnp.sigmoid_cross_entropy_grad(x, y))
    assert loss.dtype == grad.dtype == x.dtype


@given(data=st.data())
def test_soft_fused_is_forward_stable(data):
    x = data.draw(logits())
    y = data.draw(distributions(x))
    loss, _ = SOFT(x, y)
    cond = reference.condition_softmax_cross_entropy(x, y)
    assert_forward_stable(loss, reference.softmax_cross_entropy(x, y), cond, x.dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@given(gap=st.floats(0, 1))
def test_tiny_losses_keep_their_digits(dtype, gap):
    """The true class dominates: loss ~ exp(-d), far below u, still with all its digits."""
    d = gap * (80 if dtype == np.float32 else 700)
    x = np.array([[d, 0.0, -d / 2], [d / 3, -d, 0.0]], dtype=dtype)
    labels = np.array([0, 0])
    exact = reference.sparse_softmax_cross_entropy(x, labels)
    cond = reference.condition_sparse_softmax_cross_entropy(x, labels)
    assert_forward_stable(SPARSE(x, labels)[0], exact, cond, dtype)
    onehot = np.eye(3, dtype=dtype)[labels]
    assert_forward_stable(SOFT(x, onehot)[0], exact, cond, dtype)
    # sigmoid: x = d with y = 1 costs log1p(exp(-d)) too
    z, ones = x[:, :1], np.ones((2, 1), dtype=dtype)
    exact_z = reference.sigmoid_cross_entropy(z, ones)
    cond_z = np.abs(z) * reference.to_float(reference.sigmoid(-z)) / reference.to_float(exact_z)
    assert_forward_stable(SIGMOID(z, ones)[0], exact_z, np.nan_to_num(cond_z), dtype)


def test_shapes_the_separate_functions_take():
    x = np.array([[[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]]] * 2)
    labels = np.array([[2, 0]] * 2)
    loss, grad = SPARSE(x, labels)
    assert loss.shape == (2, 2) and grad.shape == x.shape
    np.testing.assert_array_equal(loss, xnp.sparse_softmax_cross_entropy(x, labels))
    single_loss, single_grad = SPARSE(x[0, 0], np.array(2))
    assert single_loss.shape == () and single_grad.shape == (3,)
    np.testing.assert_array_equal(single_loss, loss[0, 0])
    y = np.eye(3)[labels]
    np.testing.assert_array_equal(SOFT(x, y)[1], grad)
    empty_loss, empty_grad = SOFT(np.zeros((0, 4)), np.zeros((0, 4)))
    assert empty_loss.shape == (0,) and empty_grad.shape == (0, 4)
    empty_loss, empty_grad = SIGMOID(np.zeros((0, 4)), np.zeros((0, 4)))
    assert empty_loss.shape == empty_grad.shape == (0, 4)


def test_a_target_on_a_ruled_out_class_costs_inf_not_nan():
    x = np.array([[2.0, -np.inf, 0.0]])
    loss, grad = SOFT(x, np.array([[0.5, 0.5, 0.0]]))
    assert np.isposinf(loss[0]) and np.isfinite(grad).all()
    assert np.isposinf(SPARSE(x, np.array([1]))[0][0])


def _peak_bytes(fn, *args):
    fn(*args)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        result = fn(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak - before


def test_one_logits_sized_buffer():
    """tracemalloc sees every NumPy buffer: the gradient, plus a few dozen numbers per row."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 1000)).astype(np.float32)
    labels = rng.integers(0, 1000, 256)
    y = np.eye(1000, dtype=np.float32)[labels]
    for fn, second in [(SPARSE, labels), (SOFT, y)]:
        peak = _peak_bytes(fn, x, second)
        assert x.nbytes <= peak <= x.nbytes + 256 * len(x), (fn.__name__, peak)
    # sigmoid: the two results, one work buffer, a boolean mask and NumPy's casting buffers
    peak = _peak_bytes(SIGMOID, x, (y > 0).astype(np.float32))
    assert 2 * x.nbytes <= peak <= 3.25 * x.nbytes + 2**16, peak


def _bad(rows=3, classes=1000, dtype=np.float32):
    """Large enough rows for NumPy's vectorised reductions, which the checks' fast paths use."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((rows, classes)).astype(dtype)
    y = np.full((rows, classes), 1 / classes, dtype=dtype)
    return x, y


def _set(a, index, value):
    a = a.copy()
    a[index] = value
    return a


X, Y = _bad()
BAD = [
    # (logits, targets, pattern): the fused functions and the separate ones all raise it
    (_set(X, (2, 917), np.nan), Y, r"logits contain NaN \(first at index \(2, 917\)\)"),
    (_set(_set(X, (1, 5), np.inf), (2, 3), np.nan), Y, r"NaN \(first at index \(2, 3\)\)"),
    (_set(X, (1, 640), np.inf), Y, r"\+inf \(first at index \(1, 640\)\)"),
    (_set(X, 1, -np.inf), Y, r"the logits of row \(1,\) are all -inf"),
]
BAD_TARGETS = [
    (X, _set(Y, (0, 999), np.nan), r"targets contain NaN \(first at index \(0, 999\)\)"),
    (X, _set(Y, (1, 17), -1e-3), r"negative entry \(first at index \(1, 17\)\)"),
    (X, _set(Y, (2, 0), 0.5), r"row \(2,\) sums to 1\.499"),
    (X, Y * np.float32(1 - 1e-3), r"row \(0,\) sums to 0\.999"),
    (X, Y[:, :10], r"same shape"),
    (X, Y.astype(complex), r"real numbers"),
]


@pytest.mark.parametrize(("x", "y", "pattern"), BAD + BAD_TARGETS)
def test_bad_input_gets_the_message_of_the_separate_functions(x, y, pattern):
    pairs = [(SOFT, xnp.softmax_cross_entropy), (xnp.softmax_cross_entropy_grad, None)]
    if y is Y:
        labels = np.zeros(len(x), dtype=int)
        pairs.append((lambda a, _: SPARSE(a, labels), None))
        pairs.append((lambda a, _: xnp.sparse_softmax_cross_entropy(a, labels), None))
    messages = []
    for fused, separate in pairs:
        for fn in (fused, separate):
            if fn is None:
                continue
            with pytest.raises(InputError, match=pattern) as info:
                fn(x, y)
            messages.append(str(info.value))
    assert len(set(messages)) == 1, messages


def test_float16_passes_the_fast_checks():
    x, y = _bad(dtype=np.float16)
    loss, grad = SOFT(x, y)
    assert loss.dtype == grad.dtype == np.float16 and np.isfinite(loss).all()


def test_labels_out_of_range_and_of_the_wrong_type():
    with pytest.raises(InputError, match=r"label 1000 at index \(1,\) is out of range"):
        SPARSE(X, np.array([0, 1000, 2]))
    with pytest.raises(InputError, match=r"labels must be integers"):
        SPARSE(X, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(InputError, match=r"shape of logits without the class axis"):
        SPARSE(X, np.array([0, 1]))
